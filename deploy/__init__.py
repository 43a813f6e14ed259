"""The production deployment (docs/deploy.md): its files beside this package, and `make deploy-check`."""

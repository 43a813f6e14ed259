"""Chaos testing: a seeded user-side actor, a scenario runner that storms both sandboxes with faults while
the sync runs, a crash driver that SIGKILLs `crm-membercare sync --once`, and an oracle that checks the
sync's promises (converged, zero duplicates, zero lost updates, one-to-one links, outbox drained) against
its own history of what users wrote.
"""

"""The MemberCare sandbox: a FastAPI server over a SQLite store, following DESIGN Part A2 and A3."""

"""Django's PostgreSQL backend, with one change for restarts of the server (base.py)."""

"""The operations centre (``edge central``): ingest, database, ledger relay, dashboard.

Nothing here is imported on a terminal. PostgreSQL needs the ``[central]`` extra (psycopg 3);
SQLite is the embedded default for one machine. See docs/CENTRAL.md.
"""

"""Distribution day: signed rosters, claims, decisions, the disbursement ledger and signed records.

Pure logic (``decide``, ``roster`` checks, ``records`` signing) is separate from I/O
(``roster_store``, ``ledger`` SQLite files, ``service`` wiring camera → face pipeline → outbox).
"""

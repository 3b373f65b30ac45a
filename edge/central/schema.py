"""One schema for SQLite and PostgreSQL, applied as numbered migrations (``schema_migrations`` remembers them).

``{id}`` becomes ``INTEGER PRIMARY KEY AUTOINCREMENT`` (SQLite) or ``BIGSERIAL PRIMARY KEY`` (PostgreSQL);
``{real}`` a double. Times are ISO-8601 UTC text, so both engines compare and sort them the same way.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "devices, records, quarantine, payouts, conflicts, health, rosters, ledger relay", [
        """CREATE TABLE devices (
            device_id TEXT PRIMARY KEY,
            region TEXT NOT NULL,
            distribution_point TEXT NOT NULL,
            public_key TEXT NOT NULL,
            key_id TEXT NOT NULL,
            added_at TEXT NOT NULL,
            revoked_at TEXT,
            status TEXT,
            status_at TEXT,
            last_seen TEXT
        )""",
        """CREATE TABLE records (
            idempotency_key TEXT PRIMARY KEY,
            device_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            kind TEXT NOT NULL,
            schema_name TEXT,
            created_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            outcome TEXT,
            reason_code TEXT,
            recipient_id TEXT,
            period TEXT,
            distribution_point TEXT,
            region TEXT NOT NULL,
            lat {real},
            lon {real},
            ref_key TEXT,
            signed INTEGER NOT NULL,
            envelope TEXT NOT NULL
        )""",
        "CREATE INDEX records_device_seq ON records(device_id, seq)",
        "CREATE INDEX records_kind_time ON records(kind, created_at)",
        "CREATE INDEX records_ref ON records(ref_key)",
        "CREATE INDEX records_period ON records(period)",
        """CREATE TABLE quarantine (
            id {id},
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            device_id TEXT,
            reason_code TEXT NOT NULL,
            detail TEXT NOT NULL,
            payload TEXT NOT NULL
        )""",
        """CREATE TABLE payouts (
            idempotency_key TEXT PRIMARY KEY,
            recipient_id TEXT NOT NULL,
            period TEXT NOT NULL,
            device_id TEXT NOT NULL,
            distribution_point TEXT NOT NULL,
            region TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            voided_by TEXT
        )""",
        # The rule the whole country shares: one payout in force per recipient and period.
        "CREATE UNIQUE INDEX payouts_once_per_period ON payouts(recipient_id, period) WHERE voided_by IS NULL",
        """CREATE TABLE conflicts (
            id {id},
            recipient_id TEXT NOT NULL,
            period TEXT NOT NULL,
            first_key TEXT NOT NULL,
            second_key TEXT NOT NULL,
            first_device TEXT NOT NULL,
            second_device TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            resolved_at TEXT,
            UNIQUE (first_key, second_key)
        )""",
        """CREATE TABLE health (
            id {id},
            device_id TEXT NOT NULL,
            received_at TEXT NOT NULL,
            created_at TEXT,
            pending INTEGER,
            oldest_pending_s {real},
            alarms TEXT,
            snapshot TEXT NOT NULL
        )""",
        "CREATE INDEX health_device ON health(device_id, id)",
        """CREATE TABLE rosters (
            distribution_point TEXT NOT NULL,
            version INTEGER NOT NULL,
            period TEXT NOT NULL,
            region TEXT,
            recipients INTEGER NOT NULL,
            key_id TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (distribution_point, version)
        )""",
        """CREATE TABLE ledger_out (
            device_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            message TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            PRIMARY KEY (device_id, seq)
        )""",
    ]),
]


def statements(dialect: str, sql: list[str]) -> list[str]:
    ident = "BIGSERIAL PRIMARY KEY" if dialect == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    return [s.replace("{id}", ident).replace("{real}", real) for s in sql]


LATEST = MIGRATIONS[-1][0]

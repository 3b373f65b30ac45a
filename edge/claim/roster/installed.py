"""The installed roster on the device (a SQLite file), with templates and photos encrypted at rest.

Templates are float32 vectors sealed with AES-GCM; the associated data is
``recipient_id|model_sha256`` so a template cannot be moved to another recipient or model
without failing to decrypt. Templates made by another embedder are re-computed from the
roster's reference photos when an ``embed`` function is given, else flagged.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.claim.records.crypto import SecretBox
from edge.claim.roster.document import InstalledRoster, RecipientInfo, Roster, RosterState
from edge.errors import EdgeError
from edge.store.sqlite import open_sqlite

logger = logging.getLogger(__name__)

# photo JPEG bytes -> L2-normalised embedding; raises EdgeError (e.g. no face) when unusable
EmbedFn = Callable[[bytes], np.ndarray]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipients (
    recipient_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, household_id TEXT NOT NULL,
    entitlement TEXT NOT NULL, eligible INTEGER NOT NULL, ineligible_reason TEXT, flags TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS templates (
    recipient_id TEXT NOT NULL, model_sha256 TEXT NOT NULL, source TEXT NOT NULL, key_id TEXT NOT NULL, blob BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_by_model ON templates(model_sha256, recipient_id);
CREATE TABLE IF NOT EXISTS photos (recipient_id TEXT NOT NULL, idx INTEGER NOT NULL, key_id TEXT NOT NULL, blob BLOB NOT NULL,
    PRIMARY KEY (recipient_id, idx));
CREATE TABLE IF NOT EXISTS row_macs (recipient_id TEXT PRIMARY KEY, mac TEXT NOT NULL);
"""


class RosterTampered(EdgeError):
    """The installed roster database was changed outside this code (its MAC no longer matches)."""


def _canon(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _clean_photos(recipient_id: str, photos_b64: list[str]) -> list[bytes]:
    """Each reference photo re-encoded (bounded decode, <= 1024 px, no metadata); unusable ones are dropped with a warning."""
    from edge.errors import EdgeError
    from edge.face.image import reencode_photo

    out = []
    for i, p in enumerate(photos_b64):
        try:
            out.append(reencode_photo(base64.b64decode(p, validate=True), f"reference photo {i} of {recipient_id}"))
        except (EdgeError, ValueError) as exc:
            logger.warning("Reference photo %d of %s dropped: %s", i, recipient_id, exc)
    return out


def _row_fields(row: sqlite3.Row) -> list[Any]:
    """The authenticated part of a recipients row (flags are local bookkeeping and change after install)."""
    return [row["recipient_id"], row["display_name"], row["household_id"], row["entitlement"], row["eligible"], row["ineligible_reason"]]


def _aad(recipient_id: str, model_sha256: str) -> bytes:
    return f"{recipient_id}|{model_sha256}".encode()


@dataclass
class InstallReport:
    version: int
    kind: str
    recipients: int
    removed: int = 0
    templates_kept: int = 0
    templates_recomputed: int = 0
    flagged: dict[str, str] = field(default_factory=dict)  # recipient_id -> why they have no usable template


class RosterStore:
    def __init__(self, path: Path | str, box: SecretBox) -> None:
        self.path = Path(path)
        self.box = box
        self._db = open_sqlite(self.path, "roster store", synchronous="FULL", row_factory=sqlite3.Row)
        try:
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise EdgeError(f"roster store {self.path}: cannot create its tables ({exc})") from None

    def __enter__(self) -> "RosterStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # --- reading ---------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._db.execute("SELECT key, value FROM meta")}

    def _checked_meta(self) -> dict[str, str]:
        """meta, after checking its MAC (version, validity, point, enrolment cannot be edited in the file)."""
        m = self.meta()
        if "version" in m and m.get("mac") != self.box.mac(_canon({k: v for k, v in m.items() if k != "mac"})):
            raise RosterTampered(f"roster database {self.path} was altered (its version/validity do not match their MAC); "
                                 "stop, investigate, then remove the file and re-import the signed roster")
        return m

    def _check_row(self, row: sqlite3.Row) -> None:
        got = self._db.execute("SELECT mac FROM row_macs WHERE recipient_id = ?", (row["recipient_id"],)).fetchone()
        if got is None or got["mac"] != self.box.mac(_canon(_row_fields(row))):
            raise RosterTampered(f"roster database {self.path}: the entry of {row['recipient_id']} was altered (MAC mismatch); "
                                 "re-import the signed roster")

    def installed(self) -> InstalledRoster | None:
        m = self._checked_meta()
        if "version" not in m:
            return None
        return InstalledRoster(version=int(m["version"]), period=m["period"], distribution_point=m["distribution_point"])

    def state(self) -> RosterState:
        m = self._checked_meta()
        if "version" not in m:
            return RosterState(installed=False)
        return RosterState(True, m["period"], datetime.fromisoformat(m["valid_until"]), m.get("enrolment_allowed") == "1")

    def recipient(self, recipient_id: str, model_sha256: str) -> RecipientInfo | None:
        row = self._db.execute("SELECT * FROM recipients WHERE recipient_id = ?", (recipient_id,)).fetchone()
        if row is None:
            return None
        self._check_row(row)
        ent = json.loads(row["entitlement"])
        has = self._db.execute("SELECT 1 FROM templates WHERE recipient_id = ? AND model_sha256 = ?", (recipient_id, model_sha256)).fetchone()
        return RecipientInfo(recipient_id, row["display_name"], bool(row["eligible"]), row["ineligible_reason"], ent["period"], has is not None)

    def entitlement(self, recipient_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM recipients WHERE recipient_id = ?", (recipient_id,)).fetchone()
        if row is None:
            return None
        self._check_row(row)
        return json.loads(row["entitlement"])

    def templates(self, recipient_id: str, model_sha256: str) -> np.ndarray:
        """(k, d) float32 templates of one recipient for one embedder; (0, 0) when none."""
        rows = self._db.execute("SELECT blob FROM templates WHERE recipient_id = ? AND model_sha256 = ?", (recipient_id, model_sha256)).fetchall()
        vecs = [np.frombuffer(self.box.open(r["blob"], _aad(recipient_id, model_sha256)), dtype=np.float32) for r in rows]
        return np.stack(vecs) if vecs else np.zeros((0, 0), np.float32)

    def gallery(self, model_sha256: str) -> dict[str, np.ndarray]:
        """Every recipient's templates for one embedder, decrypted in memory (for 1:N)."""
        out: dict[str, list[np.ndarray]] = {}
        for r in self._db.execute("SELECT recipient_id, blob FROM templates WHERE model_sha256 = ? ORDER BY recipient_id", (model_sha256,)):
            vec = np.frombuffer(self.box.open(r["blob"], _aad(r["recipient_id"], model_sha256)), dtype=np.float32)
            out.setdefault(r["recipient_id"], []).append(vec)
        return {k: np.stack(v) for k, v in out.items()}

    def photos(self, recipient_id: str) -> list[bytes]:
        rows = self._db.execute("SELECT idx, blob FROM photos WHERE recipient_id = ? ORDER BY idx", (recipient_id,)).fetchall()
        return [self.box.open(r["blob"], _aad(recipient_id, f"photo{r['idx']}")) for r in rows]

    def summary(self) -> dict[str, Any]:
        m = self.meta()
        counts = self._db.execute(
            "SELECT COUNT(*) n, SUM(eligible) e FROM recipients").fetchone()
        by_model = {r["model_sha256"]: r["n"] for r in self._db.execute(
            "SELECT model_sha256, COUNT(DISTINCT recipient_id) n FROM templates GROUP BY model_sha256")}
        flagged = {r["recipient_id"]: json.loads(r["flags"]) for r in self._db.execute("SELECT recipient_id, flags FROM recipients WHERE flags != '[]'")}
        return {"installed": "version" in m, **m, "recipients": counts["n"], "eligible": counts["e"] or 0,
                "recipients_with_templates_by_model": by_model, "flagged": flagged}

    # --- writing ---------------------------------------------------------------------------
    def add_template(self, recipient_id: str, model_sha256: str, vector: np.ndarray, source: str) -> None:
        vec = np.asarray(vector, dtype=np.float32).ravel()
        blob = self.box.seal(vec.tobytes(), _aad(recipient_id, model_sha256))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO templates VALUES (?, ?, ?, ?, ?)", (recipient_id, model_sha256, source, self.box.key_id, blob))
            self._db.execute("UPDATE recipients SET flags = '[]' WHERE recipient_id = ?", (recipient_id,))

    def install(self, roster: Roster, model_sha256: str, embed: EmbedFn | None = None) -> InstallReport:
        """Install a verified full or delta roster in one transaction (embedding of photos happens first)."""
        report = InstallReport(roster.version, roster.kind, len(roster.recipients), len(roster.removed))
        rows: list[tuple[Any, ...]] = []
        tmpl: list[tuple[str, np.ndarray, str]] = []
        photos: list[tuple[str, int, bytes]] = []
        for r in roster.recipients:
            flags: list[str] = []
            mine = [np.asarray(t.vector, np.float32) for t in r.templates if t.model_sha256 == model_sha256]
            other = [t for t in r.templates if t.model_sha256 != model_sha256]
            report.templates_kept += len(mine)
            tmpl += [(r.recipient_id, v, "roster") for v in mine]
            jpegs = _clean_photos(r.recipient_id, r.photos_b64)
            photos += [(r.recipient_id, i, j) for i, j in enumerate(jpegs)]
            made = 0
            if not mine and jpegs and embed is not None:
                for j in jpegs:
                    try:
                        tmpl.append((r.recipient_id, np.asarray(embed(j), np.float32), "photo"))
                        made += 1
                    except Exception as exc:  # an unusable photo flags the recipient, never stops the import
                        logger.warning("Reference photo of %s unusable: %s", r.recipient_id, exc)
                report.templates_recomputed += made
            if not mine and not made:
                why = "templates_from_other_model" if other else "no_template"
                if jpegs:
                    why += "_photos_unusable" if embed is not None else "_photos_not_embedded"
                flags.append(why)
                report.flagged[r.recipient_id] = why
            rows.append((r.recipient_id, r.display_name, r.household_id, r.entitlement.model_dump_json(),
                         int(r.eligible), r.ineligible_reason, json.dumps(flags)))
        meta = {"version": str(roster.version), "period": roster.period, "distribution_point": roster.distribution_point,
                "issuer": roster.issuer, "valid_from": roster.valid_from.isoformat(), "valid_until": roster.valid_until.isoformat(),
                "enrolment_allowed": "1" if roster.enrolment_allowed else "0", "issued_at": roster.issued_at.isoformat()}
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("recipients", "templates", "photos", "row_macs"):
                if roster.kind == "full":
                    self._db.execute(f"DELETE FROM {table}")
                else:
                    changed = [r.recipient_id for r in roster.recipients] + list(roster.removed)
                    self._db.executemany(f"DELETE FROM {table} WHERE recipient_id = ?", [(rid,) for rid in changed])
            self._db.executemany("INSERT INTO recipients VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("INSERT INTO row_macs VALUES (?, ?)", [(r[0], self.box.mac(_canon(list(r[:6])))) for r in rows])
            self._db.executemany("INSERT INTO templates VALUES (?, ?, ?, ?, ?)", [
                (rid, model_sha256, src, self.box.key_id, self.box.seal(v.ravel().tobytes(), _aad(rid, model_sha256))) for rid, v, src in tmpl])
            self._db.executemany("INSERT INTO photos VALUES (?, ?, ?, ?)", [
                (rid, i, self.box.key_id, self.box.seal(j, _aad(rid, f"photo{i}"))) for rid, i, j in photos])
            if roster.kind == "delta":  # the MAC covers every meta key, so it is computed over the merged result
                meta = {**{k: v for k, v in self.meta().items() if k != "mac"}, **meta}
            meta["mac"] = self.box.mac(_canon(meta))
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
        logger.info("Roster v%d (%s) installed: %d recipients, %d templates kept, %d re-computed from photos, %d flagged",
                    roster.version, roster.kind, len(rows), report.templates_kept, report.templates_recomputed, len(report.flagged))
        return report

    def rotate_key(self, new_box: SecretBox) -> int:
        """Re-encrypt every template and photo under ``new_box`` in one transaction; returns the number re-sealed."""
        n = 0
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table, aad_col in (("templates", "model_sha256"), ("photos", "idx")):
                for r in self._db.execute(f"SELECT rowid, recipient_id, {aad_col} a, blob FROM {table}").fetchall():
                    aad = _aad(r["recipient_id"], r["a"] if table == "templates" else f"photo{r['a']}")
                    blob = new_box.seal(self.box.open(r["blob"], aad), aad)
                    self._db.execute(f"UPDATE {table} SET blob = ?, key_id = ? WHERE rowid = ?", (blob, new_box.key_id, r["rowid"]))
                    n += 1
            meta = self._checked_meta()
            if "version" in meta:
                body = {k: v for k, v in meta.items() if k != "mac"}
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('mac', ?)", (new_box.mac(_canon(body)),))
            for r in self._db.execute("SELECT * FROM recipients").fetchall():
                self._check_row(r)
                self._db.execute("UPDATE row_macs SET mac = ? WHERE recipient_id = ?", (new_box.mac(_canon(_row_fields(r))), r["recipient_id"]))
        self.box = new_box
        return n

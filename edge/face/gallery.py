"""Template gallery in SQLite (a real file): float16 blobs tagged with the model sha256.

With a ``box`` (``edge enroll/verify/identify`` pass the terminal's template key) every template is
sealed with AES-GCM, bound to its recipient and model (``ENC1`` + nonce + ciphertext); galleries written
without a key stay readable, and an encrypted one cannot be read without its key.

Loading builds a :class:`~edge.face.match.GalleryIndex` for one model sha256; templates
made with another model are never mixed in, only counted and reported.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from edge.errors import EdgeError, NotFoundError
from edge.store.sqlite import open_sqlite
from edge.face.match import GalleryIndex

ENCRYPTED = b"ENC1"  # a float16 unit-vector blob can never start with these bytes ('N' = 0x4E > 1.0 in float16)

logger = logging.getLogger(__name__)

TABLE = "face_templates"


class Gallery:
    """Enrolled templates. Use as a context manager."""

    def __init__(self, path: Path | str, box: Any = None) -> None:
        self.box = box  # edge.claim.records.crypto.SecretBox or None
        self.path = Path(path)
        self.db = sqlite_utils.Database(open_sqlite(self.path, "gallery", synchronous="FULL"))
        try:
            tables = self.db.table_names()
        except sqlite3.DatabaseError as exc:
            raise EdgeError(f"gallery {self.path} is not a usable SQLite database ({exc})") from None
        if tables and TABLE not in tables:
            raise EdgeError(f"{self.path} is a SQLite file but not a face gallery (no {TABLE} table); choose another --db")
        if TABLE not in tables:
            self.db[TABLE].create(
                {"id": int, "recipient_id": str, "model_sha256": str, "dim": int, "embedding": bytes, "source": str, "created_at": str},
                pk="id",
                not_null={"recipient_id", "model_sha256", "embedding", "created_at"},
            )
            self.db[TABLE].create_index(["recipient_id"])
            self.db[TABLE].create_index(["model_sha256"])

    def add(self, recipient_id: str, embedding: np.ndarray, model_sha256: str, source: str = "") -> int:
        emb = np.asarray(embedding, dtype=np.float32).ravel()
        row = {
            "recipient_id": recipient_id,
            "model_sha256": model_sha256,
            "dim": int(emb.size),
            "embedding": self._seal(recipient_id, model_sha256, emb.astype("<f2").tobytes()),
            "source": source,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with self.db.conn:
            return int(self.db[TABLE].insert(row).last_pk)

    def recipients(self) -> list[str]:
        return [r[0] for r in self.db.execute(f"SELECT DISTINCT recipient_id FROM {TABLE} ORDER BY recipient_id").fetchall()]

    def count_by_model(self) -> dict[str, int]:
        return dict(self.db.execute(f"SELECT model_sha256, COUNT(*) FROM {TABLE} GROUP BY model_sha256").fetchall())

    def templates(self, recipient_id: str, model_sha256: str) -> np.ndarray:
        """(k, d) float32 templates of one recipient for this model; NotFoundError when none."""
        rows = self.db.execute(
            f"SELECT embedding, model_sha256 FROM {TABLE} WHERE recipient_id = ?", [recipient_id]
        ).fetchall()
        if not rows:
            raise NotFoundError(f"recipient {recipient_id!r} is not enrolled in {self.path}")
        usable = [np.frombuffer(self._open(recipient_id, r[1], r[0]), dtype="<f2").astype(np.float32) for r in rows if r[1] == model_sha256]
        if not usable:
            raise NotFoundError(
                f"recipient {recipient_id!r} has {len(rows)} template(s) in {self.path}, all made with a different face model "
                f"(re-enrol with the current model {model_sha256[:12]})"
            )
        return np.vstack(usable)

    def load_index(self, model_sha256: str) -> GalleryIndex:
        """Every template of this model as a contiguous matrix; other models' templates are reported, not used."""
        ids: list[str] = []
        blobs: list[bytes] = []
        for rid, blob in self.db.execute(f"SELECT recipient_id, embedding FROM {TABLE} WHERE model_sha256 = ?", [model_sha256]):
            ids.append(rid)
            blobs.append(self._open(rid, model_sha256, blob))
        other = sum(n for sha, n in self.count_by_model().items() if sha != model_sha256)
        if other:
            logger.warning("gallery %s: %d template(s) were made with another face model and are ignored (re-enrol those recipients)", self.path, other)
        self.ignored_other_model = other
        if not blobs:
            return GalleryIndex([], np.zeros((0, 128), np.float32))
        matrix = np.frombuffer(b"".join(blobs), dtype="<f2").astype(np.float32).reshape(len(blobs), -1)
        return GalleryIndex(ids, matrix)

    def _seal(self, recipient_id: str, model_sha256: str, raw: bytes) -> bytes:
        if self.box is None:
            return raw
        return ENCRYPTED + self.box.seal(raw, f"gallery|{recipient_id}|{model_sha256}".encode())

    def _open(self, recipient_id: str, model_sha256: str, blob: bytes) -> bytes:
        if not blob.startswith(ENCRYPTED):
            return blob
        if self.box is None:
            raise EdgeError(f"gallery {self.path} holds encrypted templates; open it with the template key it was written with")
        try:
            return self.box.open(blob[len(ENCRYPTED):], f"gallery|{recipient_id}|{model_sha256}".encode())
        except EdgeError as exc:
            raise EdgeError(f"gallery {self.path}: template of {recipient_id!r}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Issuer-side helper: build an (unsigned) roster from a folder of reference photos.

Layout: ``FOLDER/<recipient_id>/*.jpg`` (or .png/.webp); each sub-folder becomes one recipient with up to
``photos_per_recipient`` photos embedded in the roster (base64), each re-encoded as a clean JPEG of at
most 1024 px (long side) and 300 KB. The device computes the
templates from the photos with its own embedder at import.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from edge.claim.roster.document import MAX_PHOTO_B64, RECIPIENT_ID_PATTERN
from edge.errors import EdgeError, ImageError
from edge.face.image import MAX_BYTES, reencode_photo

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def _read_photo(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None

WIB = timezone(timedelta(hours=7))


def build_roster(
    folder: Path,
    *,
    distribution_point: str,
    period: str,
    version: int,
    issuer: str = "programme-office",
    programme: str = "PKH",
    amount: int = 600_000,
    photos_per_recipient: int = 1,
    valid_days: int = 45,
    enrolment_allowed: bool = False,
    now: datetime | None = None,
    ids: list[str] | None = None,
) -> dict[str, Any]:
    """An unsigned roster object (see :mod:`edge.claim.roster.document`) for the photos under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EdgeError(f"photo folder not found: {folder}")
    now = now or datetime.now(WIB)
    start = datetime.strptime(period + "-01", "%Y-%m-%d").replace(tzinfo=WIB)
    recipients = []
    names = ids if ids is not None else sorted(p.name for p in folder.iterdir() if p.is_dir())
    for name in names:
        rid = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)[:64]
        if not re.match(RECIPIENT_ID_PATTERN, rid):
            raise EdgeError(f"{folder / name}: cannot make a recipient id from this folder name")
        photos = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)[:photos_per_recipient]
        # re-encoded: bounded decode (decompression bombs refused), long side <= 1024 px, metadata (EXIF GPS) dropped
        encoded = [base64.b64encode(reencode_photo(_read_photo(p), str(p))).decode("ascii") for p in photos]
        too_big = [p.name for p, e in zip(photos, encoded) if len(e) > MAX_PHOTO_B64]
        if too_big:
            raise EdgeError(f"{folder / name}: photos too large for a roster (max {MAX_PHOTO_B64 * 3 // 4} bytes): {', '.join(too_big)}")
        recipients.append({
            "recipient_id": rid, "display_name": name.replace("_", " "), "household_id": f"KK-{rid}",
            "entitlement": {"programme": programme, "period": period, "amount": amount}, "photos_b64": encoded,
        })
    return {
        "schema": "tepat.roster", "schema_version": 1, "kind": "full", "issuer": issuer, "distribution_point": distribution_point,
        "period": period, "version": version, "issued_at": now.isoformat(timespec="seconds"),
        "valid_from": min(start, now).isoformat(timespec="seconds"),
        "valid_until": (max(start, now) + timedelta(days=valid_days)).isoformat(timespec="seconds"),
        "enrolment_allowed": enrolment_allowed, "recipients": recipients,
    }

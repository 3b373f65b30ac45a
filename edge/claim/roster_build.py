"""Issuer-side helper: build an (unsigned) roster from a folder of reference photos.

Layout: ``FOLDER/<recipient_id>/*.jpg``; each sub-folder becomes one recipient with up to
``photos_per_recipient`` photos embedded in the roster (base64). The device computes the
templates from the photos with its own embedder at import.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from edge.claim.roster import MAX_PHOTO_B64, RECIPIENT_ID_PATTERN
from edge.errors import EdgeError

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
    """An unsigned roster object (see :mod:`edge.claim.roster`) for the photos under ``folder``."""
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
        photos = sorted((folder / name).glob("*.jp*g"))[:photos_per_recipient]
        encoded = [base64.b64encode(p.read_bytes()).decode("ascii") for p in photos]
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

"""Invitation letters: a QR code the programme office prints on each recipient's letter.

The QR holds one ASCII line, ``TPI1.<payload>.<signature>``:

* ``payload`` — base64url (no padding) of canonical JSON
  ``{"v": 1, "r": recipient_id, "p": period "YYYY-MM", "pt": distribution point or null, "k": issuer key id, "iat": "YYYY-MM-DD"}``
* ``signature`` — base64url Ed25519 signature of the ``payload`` text (the base64url characters),
  made with the programme office's issuer key: the same key that signs rosters and officer lists,
  verified against the same trusted keys (``claim.issuer_keys``).

A letter with a changed byte, signed by another key, or not in this format is refused with one
line saying why. The letter carries no name, photo or amount: a lost letter tells little.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id
from edge.errors import EdgeError

PREFIX = "TPI1."
MAX_TEXT = 600  # characters: a real invitation is ~230; anything longer is refused before decoding
ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class InvitationError(EdgeError):
    """The letter's QR code is not a valid, genuine invitation."""


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1
    r: str = Field(..., pattern=ID, description="recipient id")
    p: str = Field(..., pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="payout period YYYY-MM")
    pt: str | None = Field(None, max_length=64, description="distribution point, or null for any")
    k: str = Field(..., pattern=r"^[0-9a-f]{16}$", description="issuer key id")
    iat: date = Field(..., description="issue date")

    @property
    def recipient_id(self) -> str:
        return self.r

    @property
    def period(self) -> str:
        return self.p


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64u(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvitationError("invitation: not valid base64url") from None


def make_invitation(key, recipient_id: str, period: str, *, point: str | None = None, issued: date | None = None) -> str:
    """The signed invitation text for ``recipient_id`` in ``period`` (issuer side)."""
    try:
        inv = Invitation(r=recipient_id, p=period, pt=point, k=public_key_id(key.public_key()), iat=issued or date.today())
    except ValidationError as exc:
        first = exc.errors()[0]
        names = {"r": "recipient id", "p": "period (YYYY-MM)", "pt": "point"}
        field = names.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "invitation"
        raise InvitationError(f"invitation {field}: {first['msg']}") from None
    payload = _b64u(canonical_json(inv.model_dump(mode="json")))
    return f"{PREFIX}{payload}.{_b64u(key.sign(payload.encode('ascii')))}"


def verify_invitation(text: str, trusted: dict) -> Invitation:
    """The invitation in ``text`` if genuine (signed by a trusted issuer key); :class:`InvitationError` otherwise."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvitationError("this QR code is not a Tepat invitation (too long)")
    if not text.startswith(PREFIX) or text.count(".") != 2:
        raise InvitationError("this QR code is not a Tepat invitation")
    payload, sig = text[len(PREFIX):].split(".")
    raw = _unb64u(payload)
    try:
        inv = Invitation.model_validate(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, ValidationError):
        raise InvitationError("invitation: the contents are not in the invitation format") from None
    key = trusted.get(inv.k)
    if key is None:
        raise InvitationError("invitation signed by a key this terminal does not trust: letter refused")
    try:
        key.verify(_unb64u(sig), payload.encode("ascii"))
    except Exception:  # cryptography's InvalidSignature and bad lengths alike
        raise InvitationError("invitation signature is not valid (forged or altered letter): refused") from None
    return inv


def qr_image(text: str, *, module_px: int = 8, border: int = 4) -> np.ndarray:
    """A grey-scale QR code of ``text`` (uint8, black on white, with a quiet zone)."""
    import cv2

    matrix = cv2.QRCodeEncoder.create().encode(text)
    if matrix is None or matrix.size == 0:
        raise InvitationError("could not encode the invitation as a QR code")
    matrix = np.asarray(matrix, np.uint8)
    big = cv2.resize(matrix, (matrix.shape[1] * module_px, matrix.shape[0] * module_px), interpolation=cv2.INTER_NEAREST)
    pad = border * module_px
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def write_qr_png(text: str, path: Path) -> None:
    import cv2

    ok, png = cv2.imencode(".png", qr_image(text))
    if not ok:
        raise InvitationError(f"could not write {path}")
    path.write_bytes(png.tobytes())


def find_qr_text(rgb: np.ndarray) -> str | None:
    """The text of a QR code seen in an RGB frame, or None (OpenCV's QR detectors)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    # The ArUco-based detector reads codes the classic one misses now and then (about 1 in 15 of our
    # letters at 4 px per module); the classic one stays as a second try.
    for detector in (cv2.QRCodeDetectorAruco, cv2.QRCodeDetector):
        try:
            text, _points, _ = detector().detectAndDecode(grey)
        except cv2.error:
            continue
        if text:
            return text
    return None

"""The central side's device-key registry: which Ed25519 public key signs each terminal's records.

A folder of ``<device_id>.pub.pem`` files (the ``device_ed25519.pub.pem`` each terminal prints at
``edge keys init``, renamed when the device is registered). :meth:`DeviceKeys.check` says why a record
must not be counted: unknown device, missing or bad signature.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.claim.records.crypto import load_public_key
from edge.claim.records.row_check import must_be_signed
from edge.claim.records.signed import verify_record
from edge.errors import ConfigError

logger = logging.getLogger(__name__)
DEVICE_FILE = re.compile(r"^([a-z0-9][a-z0-9_-]{1,62})\.pub\.pem$")


class DeviceKeys:
    def __init__(self, keys: dict[str, Ed25519PublicKey]) -> None:
        self.keys = dict(keys)

    @classmethod
    def from_dir(cls, folder: Path) -> "DeviceKeys":
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"device key registry {folder} is not a folder of <device_id>.pub.pem files")
        keys = {m.group(1): load_public_key(p) for p in sorted(folder.iterdir()) if (m := DEVICE_FILE.match(p.name))}
        if not keys:
            raise ConfigError(f"device key registry {folder} holds no <device_id>.pub.pem file")
        logger.info("monitor: verifying records of %d registered device(s) from %s", len(keys), folder)
        return cls(keys)

    def check(self, device_id: str, kind: str, payload: dict[str, Any]) -> str | None:
        """None when the payload needs no signature or carries a valid one by ``device_id``'s key."""
        if not must_be_signed(kind, "", payload):
            return None
        key = self.keys.get(device_id)
        if key is None:
            return f"record from unregistered device {device_id!r}"
        if payload.get("device_id") != device_id:
            return f"record names device {payload.get('device_id')!r}, published by {device_id!r}"
        if not verify_record(payload, key):
            return "record signature does not verify against the registered device key"
        return None

"""Where the terminal's keys and claim databases live, and loading them from configuration.

Keys are read from systemd credentials when the service has them (``$CREDENTIALS_DIRECTORY/tepat-device-key``
and ``…/tepat-template-key``, set up with ``systemd-creds encrypt`` + ``LoadCredentialEncrypted=``, see
docs/SECURITY.md): then no usable key file lies on the SD card in the clear. Otherwise the 0600 key files
under <state_dir>/keys are used, with a warning once per process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.claim.records.crypto import (
    KeyFileError, SecretBox, encode_template_key, generate_signing_key, load_private_key, load_public_key, load_template_key,
    new_template_key, private_key_pem, public_key_id, public_key_pem, write_private_file,
)
from edge.claim.roster.document import IssuerTrust
from edge.config import EdgeConfig

logger = logging.getLogger(__name__)

CRED_DEVICE_KEY = "tepat-device-key"
CRED_TEMPLATE_KEY = "tepat-template-key"
CRED_ROSTER_KEY = "tepat-roster-key"
ROSTER_KEY_FILE = "roster_x25519.pem"
_warned: set[str] = set()


def credential(name: str, environ: dict[str, str] | None = None) -> Path | None:
    """``$CREDENTIALS_DIRECTORY/<name>`` when systemd handed the service that credential, else None."""
    env = os.environ if environ is None else environ
    folder = env.get("CREDENTIALS_DIRECTORY")
    if not folder:
        return None
    path = Path(folder) / name
    return path if path.is_file() else None


def _plain_file_warning(what: str, path: Path) -> None:
    if what not in _warned:
        _warned.add(what)
        # a warning in the service's journal (systemd sets INVOCATION_ID); quiet for interactive commands
        logger.log(logging.WARNING if os.environ.get("INVOCATION_ID") else logging.DEBUG,"The %s is read from the plain file %s on the SD card; seal it with systemd-creds "
                       "(LoadCredentialEncrypted=, docs/SECURITY.md)", what, path)


def key_sources(cfg: EdgeConfig) -> dict[str, str]:
    """Where each secret key is loaded from: 'credential <path>' or 'file <path>'."""
    p = claim_paths(cfg)
    dev, tmpl = credential(CRED_DEVICE_KEY), credential(CRED_TEMPLATE_KEY)
    return {"device_key": f"credential {dev}" if dev else f"file {p.device_key}",
            "template_key": "environment $TEPAT_TEMPLATE_KEY" if os.environ.get("TEPAT_TEMPLATE_KEY")
            else f"credential {tmpl}" if tmpl else f"file {p.template_key}"}


@dataclass(frozen=True)
class ClaimPaths:
    keys_dir: Path
    device_key: Path
    device_pub: Path
    template_key: Path
    roster: Path
    ledger: Path


def claim_paths(cfg: EdgeConfig) -> ClaimPaths:
    c, state = cfg.claim, cfg.device.state_dir
    keys = c.keys_dir or state / "keys"
    dev = c.device_key_file or keys / "device_ed25519.pem"
    return ClaimPaths(keys, dev, dev.with_suffix(".pub.pem"), c.template_key_file or keys / "template.key",
                      c.roster_path or state / "roster.sqlite", c.ledger_path or state / "ledger.sqlite")


def init_keys(cfg: EdgeConfig) -> dict[str, str]:
    """Create the device signing key pair and the template key (0600, in a 0700 folder); existing keys are kept."""
    p = claim_paths(cfg)
    p.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(p.keys_dir, 0o700)
    made = {}
    if not p.device_key.exists():
        key = generate_signing_key()
        write_private_file(p.device_key, private_key_pem(key))
        p.device_pub.write_bytes(public_key_pem(key.public_key()))
        made["device_key"] = str(p.device_key)
    if not p.template_key.exists():
        write_private_file(p.template_key, encode_template_key(new_template_key()))
        made["template_key"] = str(p.template_key)
    roster_key = p.keys_dir / ROSTER_KEY_FILE
    if not roster_key.exists() and not credential(CRED_ROSTER_KEY):
        from edge.claim.roster.confidential import load_roster_private, new_roster_key_pem, public_pem

        write_private_file(roster_key, new_roster_key_pem())
        roster_key.with_suffix(".pub.pem").write_bytes(public_pem(load_roster_private(roster_key)))
        made["roster_key"] = str(roster_key)
    key = load_private_key(p.device_key)
    if not p.device_pub.exists():
        p.device_pub.write_bytes(public_key_pem(key.public_key()))
    return {"created": ", ".join(made) or "nothing (keys already exist)", "device_key": str(p.device_key),
            "device_public_key": str(p.device_pub), "device_key_id": public_key_id(key.public_key()), "template_key": str(p.template_key),
            "roster_public_key": str((p.keys_dir / ROSTER_KEY_FILE).with_suffix(".pub.pem"))}


def device_key(cfg: EdgeConfig) -> Ed25519PrivateKey:
    cred = credential(CRED_DEVICE_KEY)
    if cred is not None:
        return load_private_key(cred)
    path = claim_paths(cfg).device_key
    _plain_file_warning("device signing key", path)
    return load_private_key(path)


def template_box(cfg: EdgeConfig) -> SecretBox:
    cred = credential(CRED_TEMPLATE_KEY)
    if cred is not None and not os.environ.get("TEPAT_TEMPLATE_KEY"):
        return load_template_key(cred)
    path = claim_paths(cfg).template_key
    if not os.environ.get("TEPAT_TEMPLATE_KEY"):
        _plain_file_warning("template key", path)
    return load_template_key(path)


def trusted_issuer_keys(cfg: EdgeConfig) -> IssuerTrust:
    """key id → public key for every configured roster issuer, with each key's bound name and points and the
    version floor. With none configured the terminal still serves claims from its installed roster, but
    refuses every new roster (``unknown_issuer``)."""
    c = cfg.claim
    if not c.issuer_keys and not c.issuers:
        logger.warning("No trusted roster issuer configured (claim.issuers): every roster offered will be refused")
    if c.issuer_keys:
        logger.warning("claim.issuer_keys binds neither issuer name nor distribution points; prefer [[claim.issuers]]")
    trust = IssuerTrust(min_version=c.roster_min_version)
    for p in c.issuer_keys:
        trust.add(load_public_key(p))
    for issuer in c.issuers:
        trust.add(load_public_key(issuer.key), name=issuer.name, points=issuer.points)
    trust.require_sealed = c.require_sealed_rosters
    trust.roster_key = roster_key(cfg)
    return trust


def roster_key(cfg: EdgeConfig):  # noqa: ANN201 - X25519PrivateKey | None
    """This terminal's X25519 roster key (credential or <keys_dir>/roster_x25519.pem); None before 'edge keys init'."""
    from edge.claim.roster.confidential import load_roster_private

    cred = credential(CRED_ROSTER_KEY)
    path = cred or claim_paths(cfg).keys_dir / ROSTER_KEY_FILE
    return load_roster_private(path) if path.exists() else None


def ensure_keys(cfg: EdgeConfig) -> None:
    """First start of a fresh terminal: create missing keys (like SSH host keys). If a roster database already
    exists, a missing template key is an error instead: a new key could not decrypt the stored templates."""
    p = claim_paths(cfg)
    if credential(CRED_DEVICE_KEY) and credential(CRED_TEMPLATE_KEY):
        return  # both keys come from systemd credentials
    roster_key_ok = (p.keys_dir / ROSTER_KEY_FILE).exists() or credential(CRED_ROSTER_KEY)
    if p.device_key.exists() and p.template_key.exists() and roster_key_ok:
        return
    if not p.template_key.exists() and p.roster.exists() and not os.environ.get("TEPAT_TEMPLATE_KEY"):
        raise KeyFileError(f"template key {p.template_key} is missing but {p.roster} exists; restore the key "
                           "(a new key cannot decrypt the stored templates) or remove the roster database and re-import")
    info = init_keys(cfg)
    logger.warning("Created this terminal's keys on first start (%s); register device key %s with the central side",
                   info["created"], info["device_key_id"])

"""Keys and cryptography: Ed25519 signing (rosters, records) and AES-GCM encryption at rest (templates, thumbnails).

Private keys live in files readable by the owner only (mode 0600); a key file readable by
group or others is refused with the ``chmod`` command that fixes it. The template key may
also come from ``$TEPAT_TEMPLATE_KEY`` (base64 of 32 bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edge.errors import EdgeError

TEMPLATE_KEY_ENV = "TEPAT_TEMPLATE_KEY"
NONCE_BYTES = 12


class KeyFileError(EdgeError):
    """A key file is missing, malformed or too widely readable."""


class DecryptError(EdgeError):
    """Ciphertext does not decrypt: wrong key, or the data (or its associated data) was altered."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise EdgeError(f"{what}: not valid base64") from None


def public_key_id(key: Ed25519PublicKey) -> str:
    """Short stable id of a public key: first 16 hex digits of sha256 of its raw 32 bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def check_private_file(path: Path) -> None:
    """Refuse a secret file that group or others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"key file not found: {path} (create it with 'edge keys init')") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is accessible by group/others (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}")


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (never briefly world-readable); refuses to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


# --- Ed25519 ---------------------------------------------------------------------------------

def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_pem(path: Path, kind: type, what: str) -> Any:
    """A private key of class ``kind`` (named ``what`` in errors) from a PEM file that only its owner can read."""
    path = Path(path)
    check_private_file(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, kind):
        raise KeyFileError(f"{path}: not an {what} private key")
    return key


def load_public_pem(path: Path, kind: type, what: str, hint: str = "") -> Any:
    """A public key of class ``kind`` from a PEM file; ``hint`` names the file expected, for the error line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"public key file not found: {path}") from None
    return parse_public_pem(data, kind, what, str(path), hint)


def parse_public_pem(data: bytes, kind: type, what: str, where: str, hint: str = "") -> Any:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, kind):
        raise KeyFileError(f"{where}: not an {what} public key{f' ({hint})' if hint else ''}")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file that only its owner can read."""
    return load_private_pem(path, Ed25519PrivateKey, "Ed25519")


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file."""
    return load_public_pem(path, Ed25519PublicKey, "Ed25519")


def parse_public_key(data: bytes, what: str = "public key") -> Ed25519PublicKey:
    return parse_public_pem(data, Ed25519PublicKey, "Ed25519", what)


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 Ed25519 signature of ``message``."""
    return b64(key.sign(message))


def verify(key: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid signature of ``message`` by ``key``; never raises on bad input."""
    try:
        sig = base64.b64decode(signature_b64, validate=True)
        key.verify(sig, message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


# --- AES-GCM at rest --------------------------------------------------------------------------

class SecretBox:
    """AES-256-GCM with a random 96-bit nonce per message; the associated data binds ciphertext to its owner."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise KeyFileError(f"template key must be 32 bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self._mac_key = hashlib.sha256(b"tepat-roster-mac" + key).digest()
        self.key_id = hashlib.sha256(b"tepat-template-key" + key).hexdigest()[:12]

    def mac(self, data: bytes) -> str:
        """HMAC-SHA256 (hex) with a key derived from this key: authenticates rows stored in the clear."""
        return hmac.new(self._mac_key, data, hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < NONCE_BYTES + 16:
            raise DecryptError("encrypted blob too short")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptError("encrypted data does not decrypt with this key (wrong key or altered data)") from None


def new_template_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encode_template_key(key: bytes) -> bytes:
    return (b64(key) + "\n").encode("ascii")


def load_template_key(path: Path | None, environ: dict[str, str] | None = None) -> SecretBox:
    """The template key from ``$TEPAT_TEMPLATE_KEY`` (base64) if set, else from ``path`` (mode 0600)."""
    env = os.environ if environ is None else environ
    if env.get(TEMPLATE_KEY_ENV):
        return SecretBox(unb64(env[TEMPLATE_KEY_ENV].strip(), TEMPLATE_KEY_ENV))
    if path is None:
        raise KeyFileError(f"no template key: set {TEMPLATE_KEY_ENV} or claim.template_key_file")
    path = Path(path)
    check_private_file(path)
    return SecretBox(unb64(path.read_text(encoding="ascii", errors="replace").strip(), str(path)))

"""Who may talk to the local HTTP server: Host and Origin checks, and TLS beyond loopback.

* **Host** (DNS rebinding): every request naming a Host must name one of this server's names
  (loopback names, the bound address, ``service.http_server_names``) and, if it gives a port,
  this server's port. Kept whatever the binding, ``0.0.0.0`` included.
* **Origin** (cross-site requests from a browser): when present it must equal one of this
  server's origins exactly: scheme, host and port. A page on another localhost port is another
  origin (though the same *site* for SameSite cookies), so it is refused.
* **TLS**: binding beyond loopback without a certificate is refused (:func:`check_binding`).

Pure functions over plain data, plus :func:`tls_context`; ``edge.service.http`` calls them.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.errors import ConfigError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


class HttpRequest(dict):
    """The handler's request dict (query, body, path parameters) plus the request ``headers`` (read-only use)."""

    headers: Mapping[str, str] = {}
    tls: bool = False


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    h = host.strip("[]").lower()
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_binding(host: str, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Refuse to serve beyond loopback without TLS (one clear line)."""
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("service.http_tls_cert and service.http_tls_key go together: set both or neither")
    if not is_loopback(host) and tls_cert is None:
        raise ConfigError(f"service.http_host = {host!r} serves beyond loopback: set service.http_tls_cert and service.http_tls_key "
                          "(TLS), or bind 127.0.0.1")


def _norm(name: str) -> str:
    return name.strip().strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class GuardPolicy:
    scheme: str
    port: int
    names: frozenset[str]

    @classmethod
    def for_server(cls, host: str, port: int, *, tls: bool, server_names: Iterable[str] = ()) -> "GuardPolicy":
        names = {_norm(n) for n in (*LOOPBACK_NAMES, *server_names)}
        if host not in WILDCARDS:
            names.add(_norm(host))
        return cls("https" if tls else "http", int(port), frozenset(names))

    @property
    def default_port(self) -> int:
        return 443 if self.scheme == "https" else 80


def _split(authority_or_url: str) -> tuple[str | None, int | None, str | None]:
    """(host, port, scheme) of ``scheme://host:port`` or ``host:port``; ValueError when malformed."""
    text = authority_or_url if "://" in authority_or_url else "//" + authority_or_url
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("not an origin")
    return (_norm(parts.hostname) if parts.hostname else None), parts.port, (parts.scheme or None)


def _refuse(message: str, error_id: str) -> tuple[int, dict[str, Any]]:
    return 403, {"error": message, "error_id": error_id}


def check_request(policy: GuardPolicy, method: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
    """``None`` when the request may proceed, else the ``(status, error)`` to answer with."""
    host = headers.get("Host")
    if host:
        try:
            name, port, _ = _split(host)
        except ValueError:
            name, port = None, None
        if name not in policy.names or port not in (None, policy.port):
            return _refuse("requests must name this terminal's local address as Host", "host_refused")
    origin = headers.get("Origin")
    if origin is not None:
        try:
            name, port, scheme = _split(origin)
        except ValueError:
            name, port, scheme = None, None, None
        port = port if port is not None else (443 if scheme == "https" else 80)
        if scheme != policy.scheme or name not in policy.names or port != policy.port:
            return _refuse(f"cross-site request refused: Origin {origin[:100]!r} is not this terminal's page", "origin_refused")
    return None


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Server-side TLS (1.2 minimum) from PEM files; one clear error when they cannot be loaded."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the status page's TLS certificate {cert} / key {key}: {exc}") from None
    return ctx

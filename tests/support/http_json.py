"""A JSON call to a terminal's HTTP API: ``(status, body)``, error statuses included (never raised)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call_json(url: str, method: str = "POST", body: dict | None = None, *, token: str | None = None, origin: str | None = None,
              timeout: float = 30.0) -> tuple[int, dict]:
    """``method url`` with ``body`` as JSON, a bearer ``token`` and an ``Origin`` header when given."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if origin:
        headers["Origin"] = origin
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")

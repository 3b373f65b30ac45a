"""The local HTTP server: status page, ``/api/status``, ``/metrics``, and routes other parts add.

Stdlib ``http.server`` request handling on a fixed worker pool (:mod:`edge.service.pool`: no
thread per connection, a cap on waiting connections, socket timeouts), bound to loopback by
default. Every response closes its connection, so an idle browser never holds a worker. A route handler
gets one dict (query parameters, then JSON-body fields, then ``<name>`` path parameters) and
returns ``(http_status, json_dict)``. Requests naming a foreign Host (DNS rebinding) or a
foreign Origin (cross-site requests from a browser) are refused, by exact scheme, host and port
(``edge.service.http_guard``); binding beyond loopback needs TLS. A handler may return a third
item, a dict of extra response headers (e.g. ``Set-Cookie``); ``request.headers`` holds the
request's headers. A handler may return ``bytes`` instead of a dict (a page, an image), with its
``Content-Type`` among the extra headers. Every answer carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from edge.errors import EdgeError, StorageFullError
from edge.service import http_guard
from edge.service.jsonbound import MAX_DEPTH, loads_bounded
from edge.service.page import render_status_page
from edge.service.pool import PooledTCPServer
from edge.service.status import StatusBoard

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], tuple[Any, ...]]  # (status, json) or (status, json, extra headers)
MAX_BODY_BYTES = 256 * 1024
LOCAL_NAMES = http_guard.LOOPBACK_NAMES
STORAGE_FULL = ("storage full: no new decisions can be recorded; records already accepted are safe / "
                "Penyimpanan penuh: keputusan baru tidak dapat dicatat; data yang sudah tercatat aman.")
WORKERS = 8  # requests served at once (claims are serialised by the claim service anyway)
MAX_WAITING = 32  # connections queued for a worker; more are closed at once
SOCKET_TIMEOUT_S = 10.0  # a client that stops sending mid-request frees its worker after this


class _Route:
    def __init__(self, method: str, path: str, handler: Handler) -> None:
        self.method, self.path, self.handler = method.upper(), path, handler
        pattern = re.sub(r"<([a-zA-Z_][a-zA-Z0-9_]*)>", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\<", "<").replace(r"\>", ">"))
        self.regex = re.compile(f"^{pattern}$")


class LocalHttpServer:
    """Serves the officer's page and the local API; a context manager (``start``/``stop``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        board: StatusBoard | None = None,
        metrics: Callable[[], str] | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        server_names: Sequence[str] = (),
        workers: int = WORKERS,
        max_waiting: int = MAX_WAITING,
        timeout_s: float = SOCKET_TIMEOUT_S,
    ) -> None:
        http_guard.check_binding(host, tls_cert, tls_key)
        self.workers, self.max_waiting, self.timeout_s = workers, max_waiting, timeout_s
        self.host, self._requested_port = host, port
        self._tls = http_guard.tls_context(tls_cert, tls_key) if tls_cert and tls_key else None
        self._server_names = tuple(server_names)
        self.guard: http_guard.GuardPolicy | None = None
        self.board = board
        self.metrics = metrics
        self._routes: list[_Route] = []
        self._server: PooledTCPServer | None = None
        self._thread: threading.Thread | None = None
        if board is not None:
            self.add_route("GET", "/api/status", lambda _req: (200, board.snapshot().model_dump(mode="json")))

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._requested_port

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self.port}"

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``handler`` for ``method path``; ``path`` may hold ``<name>`` segments, e.g. ``/api/ledger/<recipient_id>``."""
        self._routes.append(_Route(method, path, handler))

    def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = PooledTCPServer((self.host, self._requested_port), self._handler_class(), workers=self.workers,
                                           max_waiting=self.max_waiting, timeout_s=self.timeout_s)
        except OSError as exc:
            raise EdgeError(f"cannot serve the status page on {self.host}:{self._requested_port}: {exc.strerror or exc}") from None
        if self._tls is not None:  # the handshake runs on a worker (with the socket timeout), not in accept()
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True, do_handshake_on_connect=False)
        self.guard = http_guard.GuardPolicy.for_server(self.host, self.port, tls=self._tls is not None, server_names=self._server_names)
        self._server.start_workers()
        self._thread = threading.Thread(target=self._server.serve_forever, name="status-http", daemon=True)
        self._thread.start()
        logger.info("status page on %s", self.url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LocalHttpServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -----------------------------------------------------------------
    def _find(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_matched = False
        for route in self._routes:
            m = route.regex.match(path)
            if m:
                path_matched = True
                if route.method == method:
                    return route, m.groupdict(), True
        return None, {}, path_matched

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class RequestHandler(BaseHTTPRequestHandler):
            server_version = "TepatEdge"
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                logger.debug("http %s " + fmt, self.client_address[0], *args)

            def end_headers(self) -> None:
                self.close_connection = True  # one request per connection: an idle keep-alive never holds a worker
                self.send_header("Connection", "close")
                super().end_headers()

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_PUT(self) -> None:
                self._dispatch("PUT")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

            def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, obj: dict[str, Any], extra: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8"), "application/json; charset=utf-8", extra)

            def _dispatch(self, method: str) -> None:
                url = urlsplit(self.path)
                refused = http_guard.check_request(outer.guard, method, self.headers) if outer.guard else None
                if refused is not None:
                    return self._json(*refused)
                if method == "GET" and url.path in ("/", "/index.html") and outer.board is not None:
                    return self._send(200, render_status_page(outer.board.snapshot()).encode("utf-8"), "text/html; charset=utf-8")
                if method == "GET" and url.path == "/metrics" and outer.metrics is not None:
                    return self._text_from(outer.metrics)
                route, params, path_known = outer._find(method, url.path)
                if route is None:
                    if path_known:
                        return self._json(405, {"error": f"{method} is not allowed on {url.path}"})
                    return self._json(404, {"error": f"no such page: {url.path}"})
                request = http_guard.HttpRequest(parse_qsl(url.query))
                request.headers, request.tls = self.headers, outer._tls is not None
                body = self._read_body()
                if isinstance(body, tuple):
                    return self._json(*body)
                request.update(body)
                request.update(params)
                self._call(route, request)

            def _text_from(self, source: Callable[[], str]) -> None:
                try:
                    text = source()
                except Exception:
                    logger.exception("metrics could not be produced")
                    return self._json(500, {"error": "metrics unavailable; see the service log"})
                self._send(200, text.encode("utf-8"), "text/plain; version=0.0.4; charset=utf-8")

            def _read_body(self) -> dict[str, Any] | tuple[int, dict[str, Any]]:
                length_text = self.headers.get("Content-Length") or "0"
                if not length_text.isdigit():
                    return 400, {"error": "bad Content-Length"}
                length = int(length_text)
                if length > MAX_BODY_BYTES:
                    return 413, {"error": f"request body too large ({length} bytes; limit {MAX_BODY_BYTES})"}
                if length == 0:
                    return {}
                raw = self.rfile.read(length)  # bounded by MAX_BODY_BYTES and the socket timeout
                if len(raw) < length:
                    return 400, {"error": f"request body cut short ({len(raw)} of {length} bytes)"}
                try:
                    body = loads_bounded(raw.decode("utf-8"), MAX_DEPTH)
                except (UnicodeDecodeError, ValueError) as exc:
                    return 400, {"error": f"request body is not valid JSON: {exc}"}
                if not isinstance(body, dict):
                    return 400, {"error": "request body must be a JSON object"}
                return body

            def _call(self, route: _Route, request: dict[str, Any]) -> None:
                try:
                    status, payload, *extra = route.handler(request)
                except EdgeError as exc:
                    default = 507 if isinstance(exc, StorageFullError) else 400
                    return self._json(getattr(exc, "http_status", default), {"error": str(exc), "kind": type(exc).__name__})
                except Exception as exc:
                    if "disk is full" in str(exc) or "database or disk is full" in str(exc):  # a storage layer that missed it
                        logger.error("%s %s: the disk is full (%s)", route.method, route.path, exc)
                        return self._json(507, {"error": STORAGE_FULL, "kind": "StorageFullError"})
                    logger.exception("%s %s failed", route.method, route.path)
                    return self._json(500, {"error": "internal error; see the service log"})
                headers = dict(extra[0]) if extra else {}
                if isinstance(payload, bytes):  # a page or an image: the handler names its Content-Type
                    return self._send(status, payload, headers.pop("Content-Type", "application/octet-stream"), headers)
                self._json(status, payload, headers)

        return RequestHandler

"""The dashboard's HTTP server: ``/`` page, ``/fragment`` (live part), ``/api/summary`` (JSON), ``/api/status``,
``/export.csv?period=YYYY-MM``. Read-only; binds 127.0.0.1 by default (put a TLS reverse proxy in front
to publish it). Socket timeouts and a small thread pool keep a slow client from holding it.
"""

from __future__ import annotations

import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from edge.central.db import Database, DatabaseUnavailable
from edge.central.page import fragment, page
from edge.central.views import export_csv, status, summary, to_json

logger = logging.getLogger(__name__)
PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class _Handler(BaseHTTPRequestHandler):
    server: "DashboardServer"
    timeout = 10

    def log_message(self, fmt: str, *args: Any) -> None:
        logger.debug("dashboard: " + fmt, *args)

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self'")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        url = urlparse(self.path)
        try:
            with self.server.lock:
                self._route(url, self.server.database)
        except DatabaseUnavailable as exc:
            logger.warning("dashboard: %s", exc)
            self._send(503, f"database unavailable: {exc}\n".encode(), "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass

    def _route(self, url: Any, db: Database) -> None:
        if url.path == "/":
            self._send(200, page(summary(db, tz_hours=self.server.tz_hours)).encode(), "text/html; charset=utf-8")
        elif url.path == "/fragment":
            self._send(200, fragment(summary(db, tz_hours=self.server.tz_hours)).encode(), "text/html; charset=utf-8")
        elif url.path == "/api/summary":
            self._send(200, to_json(summary(db, tz_hours=self.server.tz_hours)), "application/json")
        elif url.path == "/api/status":
            self._send(200, to_json(status(db)), "application/json")
        elif url.path == "/export.csv":
            period = (parse_qs(url.query).get("period") or [""])[0]
            if not PERIOD.match(period):
                self._send(400, b"period=YYYY-MM required\n", "text/plain; charset=utf-8")
                return
            self._send(200, export_csv(db, period).encode(), "text/csv; charset=utf-8",
                       {"Content-Disposition": f'attachment; filename="tepat-{period}.csv"'})
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, db_url: str, host: str = "127.0.0.1", port: int = 8080, tz_hours: int = 7) -> None:
        self.db_url, self.tz_hours = db_url, tz_hours
        self.lock = threading.Lock()  # one connection, one query at a time: a dashboard, not an API farm
        self.database = Database(db_url)
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "DashboardServer":
        threading.Thread(target=self.serve_forever, name="dashboard", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.database.close()

"""`edge-sim demo` on a fresh machine with no faces: fetch LFW when online, today's clear message when offline.

Runs the real command in a subprocess with no shared dataset and an empty scikit-learn data
folder. The download address is a loopback one (``TEPAT_LFW_URL``): a closed port is "offline",
a local HTTP server that answers 404 is "online, but the download fails". The real download
(about 233 MB from figshare) cannot run in CI, which reaches package registries only.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]


def demo(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEPAT_SHARED": str(tmp_path / "no-shared"), "SCIKIT_LEARN_DATA": str(tmp_path / "skl"),
           "TEPAT_LFW_URL": url, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "simulator.cli", "demo", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture
def http_404() -> Iterator[str]:
    """A loopback HTTP server that answers every request with 404; yields the archive URL on it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_error(404, "no such file")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/files/lfw-funneled.tgz"
    finally:
        server.shutdown()
        server.server_close()


def test_offline_keeps_the_clear_message(tmp_path: Path) -> None:
    """Download host unreachable: no fetch is attempted and the one-line message names every way to get faces."""
    out = demo(tmp_path, f"http://127.0.0.1:{free_port()}/lfw-funneled.tgz")
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge-sim demo: error:")]
    assert out.returncode == 2 and len(errors) == 1, out.stderr[-2000:]
    assert "no face photographs found" in errors[0] and "--faces" in errors[0]
    assert "fetching" not in out.stdout and "Traceback" not in out.stderr
    assert not (tmp_path / "skl").exists()


def test_online_but_failing_download_is_one_line(tmp_path: Path, http_404: str) -> None:
    """Host answers but the download fails: the size is announced, then one error line naming the address and cause."""
    out = demo(tmp_path, http_404)
    assert "fetching Labeled Faces in the Wild (about 233 MB, once)" in out.stdout, out.stdout[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge-sim demo: error:")]
    assert out.returncode == 2 and len(errors) == 1, out.stderr[-2000:]
    assert "downloading Labeled Faces in the Wild from http://127.0.0.1:" in errors[0] and "HTTPError" in errors[0]
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr, out.stderr[-2000:]


def test_no_download_flag_never_fetches(tmp_path: Path, http_404: str) -> None:
    """--no-download: the host would answer, but nothing is fetched; today's message."""
    out = demo(tmp_path, http_404, "--no-download")
    assert out.returncode == 2 and "no face photographs found" in out.stderr and "fetching" not in out.stdout

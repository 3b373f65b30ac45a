"""Issue 13 item 8 against a real `edge run`: half-sent requests, resets and deep JSON neither grow threads nor print tracebacks."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

import pytest

from tests.service_harness import EdgeRun, write_terminal


def wait_answering(service: EdgeRun, timeout: float = 90.0) -> None:
    """Until the status page answers (connections over the cap are refused while the workers are busy)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _ = service.request("GET", "/api/status", timeout=15)
            if status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the status page did not answer again"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    run = EdgeRun(write_terminal(tmp_path_factory.mktemp("http-limits"), recipients=5)).start()
    yield run
    code = run.stop()
    assert code == 0, run.log_text()[-3000:]


def test_half_sent_requests_do_not_create_threads(service: EdgeRun) -> None:
    """2,000 connections that send half a request: threads stay flat; the service still answers; stalled sockets are closed."""
    before = service.vitals()
    socks: list[socket.socket] = []
    peak = before["threads"]
    try:
        for i in range(2000):
            s = socket.socket()
            s.settimeout(10)
            try:
                s.connect(("127.0.0.1", service.port))
                s.sendall(b"POST /api/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200\r\n\r\n{\"recipient_id\": ")
            except OSError:
                s.close()
                continue
            socks.append(s)
            if i % 250 == 0:
                peak = max(peak, service.vitals()["threads"])
        peak = max(peak, service.vitals()["threads"])
        assert peak <= before["threads"] + 2, f"threads grew from {before['threads']} to {peak} with half-sent requests"
    finally:
        for s in socks:
            s.close()
    wait_answering(service)  # the workers free themselves (socket timeout) and serve again
    after = service.vitals()
    assert after["threads"] <= before["threads"] + 2 and after["fds"] <= before["fds"] + 5, (before, after)


def test_resets_and_disconnects_print_no_tracebacks(service: EdgeRun) -> None:
    """200 connections reset mid-request and 200 that hang up before reading the answer: no traceback in the log."""
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", service.port), timeout=10)
        s.sendall(b"POST /api/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{\"recipient_id\"")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        s.close()
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", service.port), timeout=10)
        body = json.dumps({"recipient_id": f"GONE-{i}"}).encode()
        s.sendall(b"POST /api/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    wait_answering(service)
    time.sleep(1)
    log = service.log_text()
    assert "Traceback" not in log and "BrokenPipeError" not in log and "ConnectionResetError" not in log, log[-3000:]


def test_deeply_nested_json_is_a_400(service: EdgeRun) -> None:
    """[[[[…]]]] 100,000 deep: 400 with a clear message, never a RecursionError or a dropped connection."""
    body = "[" * 100_000 + "]" * 100_000
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    conn.request("POST", "/api/claim", body=body.encode(), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    assert resp.status == 400 and "nested deeper than" in data["error"], data
    deep_object = '{"a":' * 40 + "1" + "}" * 40
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    conn.request("POST", "/api/claim", body=deep_object.encode(), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 400 and "nested deeper than" in json.loads(resp.read())["error"]
    conn.close()
    assert "RecursionError" not in service.log_text() and "Traceback" not in service.log_text()

"""Bounded JSON/TOML (issue 13 item 9): deep nesting in cmd/* messages, roster files or the TOML config is one
clear error line, never a RecursionError traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.claim.roster import RosterRejected, open_signed_roster
from edge.errors import EdgeError
from edge.safejson import InputTooDeep, json_depth, loads_bounded
from edge.transport.router import CommandRouter, inbound_problem

ROOT = Path(__file__).resolve().parents[1]
DEEP = 100_000


def test_depth_scan_skips_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{\\"]]"}]}') == 3
    assert json_depth(b"[" * 50 + b"]" * 50) > 32
    assert loads_bounded('{"x": [[1]]}', what="t") == {"x": [[1]]}


@pytest.mark.parametrize("text", ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP])
def test_deep_json_is_one_error(text: str) -> None:
    with pytest.raises(InputTooDeep, match=r"^thing: JSON nested more than 32 levels deep"):
        loads_bounded(text, what="thing")


def test_bad_json_is_one_error() -> None:
    with pytest.raises(EdgeError, match="^thing: not valid JSON"):
        loads_bounded(b"{nope", what="thing")
    with pytest.raises(InputTooDeep, match="larger than the 10-byte limit"):
        loads_bounded(b"[" + b"1," * 20 + b"1]", what="thing", max_bytes=10)


def test_deep_roster_is_refused_malformed(trusted_keys) -> None:
    doc = '{"roster": ' + "[" * DEEP + "]" * DEEP + ', "signature": {}}'
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(doc, trusted_keys, None, now=None)  # type: ignore[arg-type]
    assert err.value.code == "malformed" and "nested" in str(err.value)


def test_deep_command_is_refused_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    router = CommandRouter()
    router.register("ping", dict, lambda args, env: None)  # type: ignore[arg-type]
    payload = ('{"command_id": "c1", "args": ' + "[" * DEEP + "]" * DEEP + "}").encode()
    assert router.handle("ping", payload) is False
    assert router.stats.refused == 1 and router.stats.failed == 0 and "nested" in (router.stats.last_error or "")
    assert "Traceback" not in caplog.text
    assert "nested" in inbound_problem("t/cmd/ping", payload, "t/cmd/", 10**7)[1]


def test_deep_toml_config_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(cfg), "config"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr[-1500:]
    assert "Traceback" not in out.stderr and "RecursionError" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if "error" in line]) == 1 and "nested too deeply" in out.stderr


def test_roster_file_with_deep_json_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text("[" * DEEP + "]" * DEEP)
    key = tmp_path / "k.pem"
    assert subprocess.run([sys.executable, "-m", "edge", "roster", "keygen", str(key)], cwd=ROOT, capture_output=True,
                          timeout=60).returncode == 0
    out = subprocess.run([sys.executable, "-m", "edge", "roster", "sign", str(f), "--key", str(key), "-o", str(tmp_path / "o.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "nested more than" in out.stderr and "Traceback" not in out.stderr

"""Bounded JSON/TOML (issue 13 item 9): deep nesting in cmd/* messages, roster files or the TOML config is one
clear error line, never a RecursionError traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.claim.roster.document import RosterRejected, open_signed_roster
from edge.errors import EdgeError
from edge.safejson import InputTooDeep, json_depth, loads_bounded
from edge.transport.router import CommandRouter, inbound_problem

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


def test_deep_toml_config_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main

    cfg = tmp_path / "edge.toml"
    cfg.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert main(["--config", str(cfg), "config"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1 and "nested too deeply" in err


def test_roster_file_with_deep_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main

    f = tmp_path / "r.json"
    f.write_text("[" * DEEP + "]" * DEEP)
    assert main(["roster", "keygen", str(tmp_path / "k.pem")]) == 0
    capsys.readouterr()
    assert main(["roster", "sign", str(f), "--key", str(tmp_path / "k.pem"), "-o", str(tmp_path / "o.json")]) != 0
    err = capsys.readouterr().err
    assert "nested more than" in err and "Traceback" not in err

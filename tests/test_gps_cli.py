"""`edge gps` prints what a record would carry and exits 0 only with a current fix."""

from __future__ import annotations

import json

from edge.cli import main


def test_edge_gps_with_fix(gpsfake, monkeypatch, capsys):
    """Against gpsd at Monas: exit 0, a fix within the JSON, policy allowed, a timestamp."""
    server = gpsfake("fixed_monas.log")
    monkeypatch.setenv("TEPAT__GPS__PORT", str(server.port))
    assert main(["gps", "--wait", "15"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["position"]["status"] == "fix" and abs(out["position"]["fix"]["lat"] + 6.1754) < 1e-6
    assert out["policy"]["allowed"] is True
    assert out["time"]["source"] in ("gps", "ntp")


def test_edge_gps_without_receiver(capsys):
    """With backend none: exit 1, no_fix, and the policy verdict says why."""
    assert main(["gps", "--backend", "none", "--wait", "0"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "disabled" and out["position"]["status"] == "no_fix"
    assert out["policy"]["flag"] == "no_fix"

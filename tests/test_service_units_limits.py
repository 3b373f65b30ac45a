"""Pure parts of issue 11/13: JSON depth bounds, the uploader_stuck / quarantine / fds alarms, the stuck timer."""

from __future__ import annotations

import pytest

from edge.service.collector import HealthCollector
from edge.service.health import HealthLimits, HealthSnapshot, alarms, to_prometheus
from edge.service.jsonbound import json_depth, loads_bounded


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": "[[[[[[", "b": [1, {"c": "}}}"}]}') == 3
    assert json_depth('"\\"[[["') == 0
    assert loads_bounded('{"a": [1, 2]}') == {"a": [1, 2]}
    with pytest.raises(ValueError, match="nested deeper than 32"):
        loads_bounded("[" * 33 + "]" * 33)
    with pytest.raises(ValueError, match="nested deeper than"):
        loads_bounded("[" * 200_000)
    assert loads_bounded("[" * 32 + "]" * 32) is not None


def test_new_alarms() -> None:
    snap = HealthSnapshot(device_id="dev-1", uptime_s=1, version="x", uploader_stuck_s=61, outbox_quarantined=1, open_fds=600)
    assert alarms(snap, HealthLimits()) == ["uploader_stuck", "outbox_quarantined", "fds_high"]
    calm = HealthSnapshot(device_id="dev-1", uptime_s=1, version="x", uploader_stuck_s=59, outbox_quarantined=0, open_fds=20)
    assert alarms(calm, HealthLimits()) == []
    assert "tepat_uploader_stuck_seconds" in to_prometheus(snap) and "tepat_open_fds" in to_prometheus(snap)


def test_stuck_timer_needs_backlog_reachable_broker_and_no_link(tmp_path) -> None:  # noqa: ANN001
    now = [100.0]
    state = {"backlog": 5, "link": "down", "reachable": True}
    c = HealthCollector(device_id="dev-1", version="x", state_dir=tmp_path, clock=lambda: now[0],
                        outbox_stats=lambda: (state["backlog"], 1.0, 0), link_state=lambda: state["link"],
                        broker_reachable=lambda: state["reachable"], read_throttled=lambda: None)
    assert c.collect().uploader_stuck_s == 0.0
    now[0] += 90
    snap = c.collect()
    assert snap.uploader_stuck_s == 90.0 and "uploader_stuck" in snap.alarms and snap.open_fds and snap.threads
    state["reachable"] = False  # the network is down: not the uploader's fault
    assert c.collect().uploader_stuck_s is None
    state.update(reachable=True, link="up")
    assert c.collect().uploader_stuck_s is None
    state.update(link="down", backlog=0)
    assert c.collect().uploader_stuck_s is None

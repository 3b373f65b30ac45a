"""The no-fix policy and the GPS configuration rules."""

from __future__ import annotations

import pytest

from edge.config import GpsConfig, load_config
from edge.errors import ConfigError
from edge.gps import DisabledSource, GpsFix, PositionStamp, evaluate, make_position_source
from edge.gps.reader import GpsdReader

FIX = GpsFix(lat=-6.1754, lon=106.8272, mode="3d")


def stamp(status: str, age: float | None = None, last_age: float | None = None) -> PositionStamp:
    current = FIX if status == "fix" else None
    return PositionStamp(status=status, fix=current, age_s=age if current else None,
                         last_known=FIX if last_age is not None else None, last_known_age_s=last_age, source="gpsdclient")


@pytest.mark.parametrize("policy", ["flag", "refuse"])
def test_current_fix_is_allowed_without_flag(policy):
    """A fix younger than the limit passes under either policy."""
    decision = evaluate(stamp("fix", 3, 3), GpsConfig(no_fix_policy=policy))
    assert decision.allowed and decision.flag is None


@pytest.mark.parametrize("status", ["stale", "no_fix"])
def test_recent_last_known_is_allowed_but_flagged(status):
    """No current fix but a last fix within max_fix_age_s: allowed, flagged last_known_position."""
    decision = evaluate(stamp(status, last_age=120), GpsConfig(no_fix_policy="refuse", max_fix_age_s=300))
    assert decision.allowed and decision.flag == "last_known_position" and "120 s" in decision.reason


def test_old_fix_refused_under_refuse():
    """Last fix older than the limit under 'refuse': not allowed, reason names the ages."""
    decision = evaluate(stamp("stale", last_age=900), GpsConfig(no_fix_policy="refuse", max_fix_age_s=300))
    assert not decision.allowed and decision.flag == "no_fix"
    assert "900 s" in decision.reason and "300 s" in decision.reason


def test_never_fixed_flagged_under_flag():
    """No fix ever, 'flag' policy: allowed and flagged no_fix."""
    decision = evaluate(stamp("no_fix"), GpsConfig(no_fix_policy="flag"))
    assert decision.allowed and decision.flag == "no_fix" and "no fix since start" in decision.reason


def test_current_but_too_old_fix_uses_limit():
    """Even a 'fix' status older than max_fix_age_s (very long stale_after_s) does not pass unflagged."""
    decision = evaluate(stamp("fix", 400, 400), GpsConfig(no_fix_policy="refuse", max_fix_age_s=300))
    assert not decision.allowed


def test_refuse_without_backend_is_a_config_error(tmp_path):
    """'refuse' with backend 'none' could never disburse: the config is rejected naming the keys."""
    path = tmp_path / "edge.toml"
    path.write_text('[gps]\nbackend = "none"\nno_fix_policy = "refuse"\n')
    with pytest.raises(ConfigError, match="gps.*refuse"):
        load_config(path, environ={})


def test_env_override_selects_backend():
    """TEPAT__GPS__BACKEND picks the gpsd-py3 backend."""
    config = load_config(None, environ={"TEPAT__GPS__BACKEND": "gpsd-py3", "TEPAT__GPS__PORT": "3000"})
    assert config.gps.backend == "gpsd-py3" and config.gps.port == 3000


def test_factory_gives_disabled_source_for_none():
    """backend 'none' gives a source that is disabled and always says no_fix."""
    with make_position_source(GpsConfig(backend="none")) as source:
        assert isinstance(source, DisabledSource) and source.state == "disabled"
        assert source.latest().status == "no_fix" and source.latest().source == "none"


@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_factory_gives_reader_for_gpsd_backends(backend):
    """gpsd backends give a GpsdReader bound to that backend (not started until used)."""
    source = make_position_source(GpsConfig(backend=backend))
    assert isinstance(source, GpsdReader) and source.backend == backend
    assert source._thread is None


def test_importing_gps_loads_no_client_library():
    """Importing edge.gps imports neither gpsd client (they load inside the reader thread)."""
    import subprocess
    import sys

    code = "import sys, edge.gps, edge.timesource; print('gpsd' in sys.modules or 'gpsdclient' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_gpsd_py3_sessions_do_not_share_module_state():
    """Each gpsd-py3 session loads its own copy of the module, so two readers never share a socket."""
    import sys

    from edge.gps.backend_gpsdpy3 import GpsdPy3Session

    a, b = GpsdPy3Session("127.0.0.1", 1), GpsdPy3Session("127.0.0.1", 1)
    assert a._module is not b._module
    assert "gpsd" not in sys.modules or sys.modules["gpsd"] not in (a._module, b._module)
    with a._module.socket.socket(a._module.socket.AF_INET, a._module.socket.SOCK_STREAM) as sock:
        assert sock.gettimeout() == 3.0


def test_missing_client_library_is_a_config_error(monkeypatch):
    """A backend whose library is not installed fails at construction with a pip hint, not in the thread."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gpsd" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install gpsd-py3"):
        GpsdReader(GpsConfig(backend="gpsd-py3"))

"""gpsd through ``gpsd-py3`` 0.3.0, with its defects contained.

Defects of gpsd-py3 0.3.0 and what this adapter does about each:

- module-global socket and state, no ``close()``: every session loads a private copy of the
  module (``importlib``), so two sessions never share a socket, and closes it itself;
- no socket timeout (``connect`` and ``readline`` can block forever): the private copy gets a
  ``socket`` factory that sets the configured timeout on every socket it creates;
- ``get_current()`` raises when no receiver is attached (``UserWarning('GPS not active')``,
  ``IndexError`` on an empty TPV list): treated as "no report this poll";
- altitude reported as 0.0 when the fix has none, 0 satellites without a SKY: the position is
  taken from the raw TPV/SKY of the POLL answer (recorded by a subclass of ``GpsResponse``),
  parsed by the same code as the gpsdclient backend, never from ``GpsResponse`` fields.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from edge.errors import ConfigError
from edge.gps.session import shutdown_quietly

logger = logging.getLogger(__name__)


class _TimeoutSockets:
    """Stands in for the ``socket`` module inside the private gpsd-py3 copy."""

    AF_INET = socket.AF_INET
    SOCK_STREAM = socket.SOCK_STREAM

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def socket(self, *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.socket(*args, **kwargs)
        sock.settimeout(self.timeout_s)
        return sock


def load_private_gpsd(timeout_s: float, on_packet: Any) -> ModuleType:
    """A fresh, unshared copy of the ``gpsd`` module with timeouts and raw-packet capture."""
    spec = importlib.util.find_spec("gpsd")
    if spec is None or spec.loader is None:
        raise ConfigError("gps.backend 'gpsd-py3' needs the gpsd-py3 package: pip install gpsd-py3")
    module = importlib.util.module_from_spec(spec)  # not registered in sys.modules: private
    spec.loader.exec_module(module)
    if not hasattr(module, "get_current") or not hasattr(module, "GpsResponse"):
        raise ConfigError(f"the 'gpsd' module at {spec.origin} is not gpsd-py3")
    module.socket = _TimeoutSockets(timeout_s)

    class RecordingResponse(module.GpsResponse):  # type: ignore[name-defined,misc]
        @classmethod
        def from_json(cls, packet: Any) -> Any:
            on_packet(packet)
            return super().from_json(packet)

    module.GpsResponse = RecordingResponse
    return module


class GpsdPy3Session:
    """A polling gpsd connection through gpsd-py3 (``?POLL`` every ``poll_interval_s``)."""

    name = "gpsd-py3"

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 3.0, poll_interval_s: float = 1.0) -> None:
        self.host, self.port = host, port
        self.poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._packet: Any = None
        self._module = load_private_gpsd(connect_timeout_s, self._record)
        self._last_tpv_time: Any = object()

    def _record(self, packet: Any) -> None:
        self._packet = packet

    def open(self) -> None:
        try:
            self._module.connect(host=self.host, port=self.port)
        except OSError:
            raise
        except Exception as exc:  # json errors, "Unexpected data received as welcome"
            raise ConnectionError(f"gpsd at {self.host}:{self.port} did not answer like gpsd: {exc}") from None

    def reports(self) -> Iterator[dict[str, Any]]:
        while not self._stop.is_set():
            self._packet = None
            try:
                self._module.get_current()
            except OSError:
                raise
            except (UserWarning, IndexError, KeyError, TypeError):
                pass  # no receiver attached / nothing to report yet: the packet (if any) is still used
            except Exception as exc:  # EOF (JSONDecodeError), out-of-step answers
                if self._stop.is_set():
                    return
                raise ConnectionError(f"gpsd at {self.host}:{self.port}: {exc}") from None
            yield from self._from_packet(self._packet)
            if self._stop.wait(self.poll_interval_s):
                return

    def _from_packet(self, packet: Any) -> Iterator[dict[str, Any]]:
        if not isinstance(packet, dict) or not packet.get("active"):
            return
        for kind, key in (("SKY", "sky"), ("TPV", "tpv")):
            items = packet.get(key)
            if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
                continue
            report = dict(items[-1], **{"class": kind})
            if kind == "TPV":
                # POLL repeats the last TPV while the receiver is silent; only a new one refreshes the fix.
                stamp = report.get("time")
                if stamp is not None and stamp == self._last_tpv_time:
                    continue
                self._last_tpv_time = stamp
            yield report

    def abort(self) -> None:
        self._stop.set()
        shutdown_quietly(getattr(self._module, "gpsd_socket", None))

    def close(self) -> None:
        stream = getattr(self._module, "gpsd_stream", None)
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
        shutdown_quietly(getattr(self._module, "gpsd_socket", None))
        self._module.gpsd_socket = self._module.gpsd_stream = None

"""The composition root: the one place that builds a terminal from the configuration.

* :mod:`edge.app.claim` — the claim flow (:func:`open_claim_service`: keys, roster, ledger, outbox, face
  engine, GPS, clock) and :class:`ClaimComponent`, which serves it on the HTTP API (``claim.http_api``) and
  to the MQTT commands ``cmd/roster`` / ``cmd/ledger`` (``claim.mqtt_commands``).
* :mod:`edge.app.face_adapter` — :func:`make_face_engine`: the face core behind the claim flow's
  ``FaceEngine`` protocol (the one module that joins those two areas).
* :mod:`edge.app.terminal` — :func:`build_terminal`: camera, GPS, models check, outbox, claim flow, command
  router, MQTT publisher, status server.
* :mod:`edge.app.service` — :func:`build_service`: the terminal under the service runner with health.

Used by ``edge run``, the commands that need a claim service (``edge claim``, ``edge roster import``)
and the simulator (which passes its own camera, GPS and face engine in). Only this package and the
commands wire parts of different areas together.
"""

from edge.app.claim import ClaimComponent, make_where, open_claim_service, open_outbox
from edge.app.service import build_service, health_collector, outbox_stats_reader
from edge.app.terminal import Terminal, build_terminal

__all__ = ["ClaimComponent", "Terminal", "build_service", "build_terminal", "health_collector", "make_where",
           "open_claim_service", "open_outbox", "outbox_stats_reader"]

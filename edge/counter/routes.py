"""The counter app's routes on the local HTTP server (same origin as the claim API).

``GET /counter/`` the app (static files shipped in ``edge/counter/static``); every ``/api/counter/*``
route needs a signed-in officer:

``GET /api/counter/live`` → one camera frame (JPEG, base64), the face box and the quality prompt in words
``POST /api/counter/scan`` → the invitation letter's QR code read from the camera and verified → {recipient_id, period}
``GET /api/counter/reference/<recipient_id>`` → the roster's reference photo (JPEG), only for a recipient this
officer made a decision about in the last 30 minutes; ``Cache-Control: no-store``
``GET /api/counter/day`` → today's counts and decisions; ``GET /counter/report`` → the printable end-of-day report
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from edge.claim.api.sign_in import OfficerAuth, error
from edge.claim.flow.claim_service import ClaimService
from edge.claim.flow.officer_text import officer_message
from edge.claim.officers.sessions import Session
from edge.claim.roster.invitation import InvitationError, find_qr_text, verify_invitation
from edge.counter.day import day_view, report_html

logger = logging.getLogger(__name__)

STATIC = {"/counter/": ("index.html", "text/html; charset=utf-8"), "/counter/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/counter/app.css": ("app.css", "text/css; charset=utf-8")}
SCAN_FRAMES = 6
REFERENCE_WINDOW = timedelta(minutes=30)
PREVIEW_WIDTH = 640


def _static(name: str, ctype: str) -> Any:
    data = resources.files("edge.counter").joinpath("static", name).read_bytes()
    return lambda _req: (200, data, {"Content-Type": ctype})


def _jpeg(rgb: Any, width: int = PREVIEW_WIDTH) -> bytes:
    import cv2

    h, w = rgb.shape[:2]
    if w > width:
        rgb = cv2.resize(rgb, (width, int(h * width / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else b""


class Counter:
    """The counter's server side: camera preview, QR scan, reference photo, the day."""

    def __init__(self, svc: ClaimService, trusted: dict, board: Any) -> None:
        self.svc, self.trusted, self.board = svc, trusted, board

    def _frame(self) -> Any:
        if self.svc.camera is None:
            raise InvitationError("no camera configured")
        return self.svc.camera.capture().rgb

    def live(self, req: dict[str, Any], session: Session) -> tuple[Any, ...]:
        if not self.svc.lock.acquire(timeout=0.2):  # a claim is capturing: the preview waits
            return 200, {"busy": True}
        try:
            rgb = self._frame()
            pipeline = getattr(self.svc.face, "pipeline", None)
            result = pipeline.analyse(rgb) if pipeline is not None else None
        finally:
            self.svc.lock.release()
        h, w = rgb.shape[:2]
        body: dict[str, Any] = {"busy": False, "width": w, "height": h,
                                "jpeg_b64": base64.b64encode(_jpeg(rgb)).decode("ascii"), "faces": 0, "box": None}
        if result is None:
            return 200, {**body, "ready": True, "prompt": None}
        body["faces"] = len(result.faces)
        if result.face is not None:
            x1, y1, x2, y2 = (float(v) for v in result.face.box)
            body["box"] = [x1 / w, y1 / h, x2 / w, y2 / h]
        reasons = list(result.quality.reasons)
        body["ready"] = result.quality.passed if hasattr(result.quality, "passed") else not reasons
        body["prompt"] = officer_message(reasons[0]) if reasons else {"id": "Wajah baik. Tahan sebentar.", "en": "Face OK. Hold still."}
        return 200, body

    def scan(self, req: dict[str, Any], session: Session) -> tuple[Any, ...]:
        seen_text = None
        with self.svc.lock:
            frames = [self._frame() for _ in range(SCAN_FRAMES)]
        for rgb in frames:
            seen_text = find_qr_text(rgb)
            if seen_text:
                break
        if not seen_text:
            return error(404, "no QR code seen: hold the letter flat and closer to the camera", "no_qr")
        try:
            inv = verify_invitation(seen_text, self.trusted)
        except InvitationError as exc:
            logger.warning("Invitation refused at the counter (officer %s): %s", session.officer.officer_id, exc)
            return error(400, str(exc), "invitation_refused")
        period = self.svc.roster.state().period
        if period and inv.period != period:
            return error(400, f"this letter is for period {inv.period}; the roster is for {period}", "invitation_refused")
        if inv.pt and inv.pt != self.svc.point:
            return error(400, f"this letter is for distribution point {inv.pt}, not {self.svc.point}", "invitation_refused")
        logger.info("Invitation read for %s (%s) by officer %s", inv.recipient_id, inv.period, session.officer.officer_id)
        return 200, {"recipient_id": inv.recipient_id, "period": inv.period}

    def reference(self, req: dict[str, Any], session: Session) -> tuple[Any, ...]:
        rid = str(req.get("recipient_id", ""))
        with self.svc.lock:
            recent = [r for r in self.svc.ledger.recent_records(200)
                      if rid in (r.get("recipient_id"), r.get("claimed_id")) and r.get("officer_id") == session.officer.officer_id]
            photos = self.svc.roster.photos(rid) if recent else []
        now = datetime.now().astimezone()
        fresh = [r for r in recent if now - datetime.fromisoformat(r["time"]["wall"]) < REFERENCE_WINDOW]
        if not fresh:
            return error(403, "the reference photo is shown only for the recipient being served", "not_claimed")
        if not photos:
            return error(404, f"no reference photo for {rid}", "not_found")
        return 200, photos[0], {"Content-Type": "image/jpeg"}  # the server sends Cache-Control: no-store on every answer

    def _day(self) -> dict[str, Any]:
        with self.svc.lock:
            records = self.svc.ledger.recent_records()
        snap = self.board.snapshot() if self.board is not None else None
        return day_view(records, datetime.now().astimezone(), pending=snap.pending_uploads if snap else None,
                        link_state=str(snap.link_state) if snap else "unknown")

    def day(self, req: dict[str, Any], session: Session) -> tuple[Any, ...]:
        return 200, self._day()

    def report(self, req: dict[str, Any], session: Session) -> tuple[Any, ...]:
        html = report_html(self._day(), device_id=self.svc.device_id, point=self.svc.point,
                           officer=f"{session.officer.name} ({session.officer.officer_id})")
        return 200, html.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"}


def register_counter(server: Any, svc: ClaimService, auth: OfficerAuth, trusted: dict, board: Any = None) -> None:
    """Add the counter app and its routes to an ``edge.service.http.LocalHttpServer``."""
    for path, (name, ctype) in STATIC.items():
        server.add_route("GET", path, _static(name, ctype))
    server.add_route("GET", "/counter", lambda _req: (302, b"", {"Location": "/counter/", "Content-Type": "text/plain"}))
    c = Counter(svc, trusted, board)
    server.add_route("GET", "/api/counter/live", auth.guarded(c.live))
    server.add_route("POST", "/api/counter/scan", auth.guarded(c.scan))
    server.add_route("GET", "/api/counter/reference/<recipient_id>", auth.guarded(c.reference))
    server.add_route("GET", "/api/counter/day", auth.guarded(c.day))
    server.add_route("GET", "/counter/report", auth.guarded(c.report))

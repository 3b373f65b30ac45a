"""The claim flow on the terminal's local HTTP server (the officer's counter app, tools).

``sign_in`` is officer sign-in (``/api/session``: PIN, cookie or bearer session) and the guard every
claim route runs through, which turns the flow's errors into JSON error replies; ``claim_routes``
is the routes themselves (``POST /api/claim``, ``/api/enrol``, ``/api/override``,
``GET /api/ledger/<id>``), each a thin parse of the body into a pydantic model and one call into
``edge.claim.flow``. The server is ``edge.service.http``; the
routes are registered by the composition root (``edge.app.claim``).
"""

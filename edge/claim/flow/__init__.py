"""The claim itself: camera burst → face engine → decision → signed record → outbox → ledger.

``claim_service`` (``ClaimService``) runs one claim under one lock; ``decide`` is the pure rule order
(no I/O, no clock); ``face_engine`` names what the flow needs from the face core (implemented in
``edge.app.face_adapter``); ``ledger`` is the disbursement ledger (one payout per recipient per period,
SQLite); ``officer_actions`` are an officer's override and first-payout enrolment; ``active_check`` is
the officer's head-turn check on a liveness referral; ``officer_text`` is what the officer reads for
each reason code; ``evidence`` the optional encrypted audit thumbnail; ``outbox_access`` the one
shared outbox connection of the process.
"""

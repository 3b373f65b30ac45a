"""Distribution day: signed rosters, officers, claims, decisions, the disbursement ledger and signed records.

One subpackage per concern, lowest first (each uses only those listed before it, except the lazy
device-key lookup of ``records.row_check``): ``records`` (the signed record format, Ed25519 and
AES-GCM, canonical JSON, wire models: the area's interface to the publisher, the monitor and the
central side), ``roster`` (the signed roster, confidential rosters, the installed roster, invitation
letters), ``keys`` (the terminal's keys and claim files from the configuration), ``officers`` (the
signed officer list, PIN checks, sessions), ``flow`` (the claim itself: ``ClaimService``, the pure
``decide`` rules, the ledger, officer actions and texts), ``api`` (the flow and officer sign-in on the
local HTTP server) and ``inbound`` (``cmd/roster`` and ``cmd/ledger`` from the central side). The face
engine the flow uses is wired in by the composition root (``edge.app.face_adapter``).
"""

"""The signed record format: what a terminal publishes and how anyone checks it.

``signed`` holds the schema-versioned records (decision, override, enrolment, conflict, roster
acknowledgement) with ``sign_record``/``verify_record``; ``crypto`` the Ed25519 keys and signatures and
the AES-GCM box for data at rest; ``canonical`` the exact JSON bytes that are signed; ``wire`` the
claim flow's MQTT models (records out, ``cmd/roster``/``cmd/ledger`` in); ``row_check`` the check of
an outbox row's signature just before it is published. This package is the claim area's interface
(import rule 5): the publisher, the monitor and the central side use it, and it uses nothing else of
the claim area except the device key (``edge.claim.keys``) when its row check is built from a config.
"""

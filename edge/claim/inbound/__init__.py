"""What the central side sends the terminal over MQTT: ``cmd/roster`` and ``cmd/ledger``.

``handlers`` receives both from the command router (``edge.transport.router``), never raising into
the MQTT thread: a roster is verified and installed (or refused with a signed ``roster_ack`` saying
why); ``ledger_update`` checks a ledger update (signed by a trusted central key, sequenced per
terminal, validated entry by entry) before it is merged and any double payment it reveals is
recorded as a ``conflict``. The router is wired to these handlers by ``edge.app.claim``.
"""

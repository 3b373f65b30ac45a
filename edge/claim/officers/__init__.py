"""Officers: who may sign in at a terminal, with which role, and their sessions.

``officer_list`` is the issuer-signed officer list and its scrypt PIN hashes; ``accounts`` installs
that list on the terminal (SQLite), checks PINs with attempt limiting and opens itself from the
configuration; ``sessions`` keeps the short-lived sign-in sessions in memory. What a signed-in officer
may do to a claim (override, enrol) is in ``edge.claim.flow.officer_actions``; sign-in over HTTP is
``edge.claim.api.sign_in``.
"""

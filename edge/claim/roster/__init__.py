"""The roster: who may collect what at this distribution point in this aid period.

``document`` is the signed roster format and its checks (schema, signature, issuer trust, version
floor), and what the claim decision is told of the installed roster (``RosterState``,
``RecipientInfo``); ``confidential`` encrypts a signed roster to one terminal's X25519 key (sealed
rosters); ``installed`` is the roster installed on the terminal (SQLite, templates and photos encrypted
at rest); ``from_photos`` is the issuer-side builder from a folder of reference photos;
``invitation`` is the issuer-signed QR letter that names a recipient on the roster. Pure format and
checks are separate from the one I/O module (``installed``).
"""

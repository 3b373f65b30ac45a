"""`edge enroll --db` encrypts templates (issue 13 item 9): sealed with the terminal's template key, bound to
recipient and model; unreadable without the key."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.claim.records.crypto import SecretBox, new_template_key
from edge.errors import EdgeError
from edge.face.gallery import ENCRYPTED, Gallery

ROOT = Path(__file__).resolve().parents[1]
SHA = "cd" * 32


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def test_templates_sealed_and_bound(tmp_path: Path) -> None:
    box = SecretBox(new_template_key())
    db = tmp_path / "g.sqlite"
    with Gallery(db, box=box) as g:
        g.add("R-1", _vec(1), SHA)
        g.add("R-2", _vec(2), SHA)
        assert np.allclose(g.templates("R-1", SHA)[0], _vec(1), atol=1e-3)
        assert len(g.load_index(SHA)) == 2
    raw = sqlite3.connect(db).execute("SELECT recipient_id, embedding FROM face_templates").fetchall()
    assert all(blob.startswith(ENCRYPTED) for _, blob in raw)
    assert _vec(1).astype("<f2").tobytes() not in b"".join(b for _, b in raw)
    with Gallery(db) as g, pytest.raises(EdgeError, match="encrypted templates"):
        g.load_index(SHA)
    with Gallery(db, box=SecretBox(new_template_key())) as g, pytest.raises(EdgeError, match="does not decrypt"):
        g.templates("R-1", SHA)
    con = sqlite3.connect(db)  # swap two recipients' templates: the binding refuses it
    (b1,), (b2,) = con.execute("SELECT embedding FROM face_templates ORDER BY recipient_id").fetchall()
    con.execute("UPDATE face_templates SET embedding = ? WHERE recipient_id = 'R-1'", (b2,))
    con.commit()
    con.close()
    with Gallery(db, box=box) as g, pytest.raises(EdgeError, match="does not decrypt"):
        g.templates("R-1", SHA)


def test_enroll_cli_writes_encrypted_templates(tmp_path: Path, datasets_dir: Path) -> None:
    db = tmp_path / "g.sqlite"
    env = {**os.environ, "TEPAT__DEVICE__STATE_DIR": str(tmp_path / "state")}
    photo = str(datasets_dir / "faces" / "Aaron_Sorkin" / "1.jpg")
    r = subprocess.run([sys.executable, "-m", "edge", "enroll", "--db", str(db), "--id", "R-1", photo], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    (blob,) = sqlite3.connect(db).execute("SELECT embedding FROM face_templates").fetchone()
    assert blob.startswith(ENCRYPTED)
    r = subprocess.run([sys.executable, "-m", "edge", "verify", "--db", str(db), "--id", "R-1", photo], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and '"match"' in r.stdout, r.stderr[-1500:]

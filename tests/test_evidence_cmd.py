"""`edge evidence list/show`: the audit thumbnail written by the claim flow is readable for a dispute review."""

from __future__ import annotations

import json
import stat

import logging

import numpy as np
import pytest

from edge.claim.records.crypto import encode_template_key, new_template_key
from edge.cli import main
import tests.fixtures_claim as fixtures_claim


@pytest.fixture(autouse=True)
def _restore_logging():
    """``main`` installs its own stderr handler on the root logger (an earlier test's may still be there,
    writing to a closed stream): keep only pytest's during the test, put the list back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers[:] = [h for h in handlers if type(h).__module__.startswith("_pytest")]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _claim_with_thumbnail(tmp_path, monkeypatch, make_terminal, scripted_face, roster_doc):
    """One claim through the real ClaimService with evidence_thumbnail on; returns (config file, record key, face)."""
    key = new_template_key()
    monkeypatch.setattr(fixtures_claim, "new_template_key", lambda: key)  # the terminal's template key, known to the test
    face_rgb = np.zeros((120, 100, 3), dtype=np.uint8)
    face_rgb[20:100, 20:80] = (200, 150, 120)  # a flat 'face' JPEG keeps almost exactly

    class FaceWithCrop(type(scripted_face)):
        def analyse(self, frames):
            b = super().analyse(frames)
            b.best_face_rgb = face_rgb
            return b

    svc = make_terminal(FaceWithCrop(), roster=roster_doc(), evidence_thumbnail=True, thumbnail_px=120)  # the long side: no scaling
    record_key = svc.claim("PKH-00001").record.idempotency_key
    key_file = tmp_path / "template.key"
    key_file.write_bytes(encode_template_key(key))
    key_file.chmod(0o600)
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n\n'
                   f'[claim]\ntemplate_key_file = "{key_file}"\nledger_path = "{svc.ledger.path}"\n')
    return cfg, record_key, face_rgb


def test_show_decrypts_the_thumbnail_the_claim_kept(tmp_path, monkeypatch, capsys, make_terminal, scripted_face, roster_doc):
    import cv2

    monkeypatch.delenv("TEPAT_TEMPLATE_KEY", raising=False)
    cfg, record_key, face_rgb = _claim_with_thumbnail(tmp_path, monkeypatch, make_terminal, scripted_face, roster_doc)
    assert main(["-c", str(cfg), "evidence", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["idempotency_key"] for r in listed] == [record_key] and listed[0]["recipient_id"] == "PKH-00001"
    assert main(["-c", str(cfg), "evidence", "list", "--since", "2999-01-01"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    out = tmp_path / "dispute.jpg"
    assert main(["-c", str(cfg), "evidence", "show", record_key, "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and str(out) in line and record_key in line
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    img = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert img.shape == face_rgb.shape
    assert np.abs(img.astype(int) - face_rgb.astype(int)).mean() < 4  # the same face, through JPEG

    assert main(["-c", str(cfg), "evidence", "show", record_key, "--out", str(out)]) == 2  # never overwrites
    assert "already exists" in capsys.readouterr().err


def test_missing_key_is_one_line_exit_2(tmp_path, monkeypatch, capsys, make_terminal, scripted_face, roster_doc):
    monkeypatch.delenv("TEPAT_TEMPLATE_KEY", raising=False)
    cfg, _, _ = _claim_with_thumbnail(tmp_path, monkeypatch, make_terminal, scripted_face, roster_doc)
    out = tmp_path / "none.jpg"
    assert main(["-c", str(cfg), "evidence", "show", "no-such-record", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no evidence thumbnail for record no-such-record" in err
    assert not out.exists()


def test_no_ledger_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[claim]\nledger_path = "{tmp_path / "absent.sqlite"}"\n')
    assert main(["-c", str(cfg), "evidence", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent.sqlite" in err
    assert not (tmp_path / "absent.sqlite").exists()

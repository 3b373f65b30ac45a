"""Input limits (issue 13 item 7): image dimensions are checked from the header before decoding, for every
path; decompression bombs, zero-byte and truncated images end in one error line, and peak RSS stays bounded."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from tests.bombs import png_bomb

from edge.claim.records.crypto import public_key_pem
from edge.claim.roster.document import sign_roster
from edge.errors import ImageError
from edge.face.image import decode_bytes, reencode_photo
from edge.face.image_header import MAX_PIXELS, read_header

ROOT = Path(__file__).resolve().parents[1]
RSS_LIMIT_MB = 400
# runs argv, then prints the child's peak RSS in KB (ru_maxrss of waited-for children; Linux reports KB)
MEASURE = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
           "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)")


def run_measured(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "edge", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=env)
    kb = int(next(line.split()[1] for line in out.stderr.splitlines() if line.startswith("MAXRSS_KB")))
    return out, kb / 1024


def _encode(ext: str, img: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, img, params or [])
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("ext,params", [(".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), (".png", []),
                                        (".webp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]), (".bmp", [])])
def test_header_dimensions_match_the_decoder(ext: str, params: list[int]) -> None:
    img = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    data = _encode(ext, img, params)
    _, w, h = read_header(data)
    assert (h, w) == decode_bytes(data).shape[:2] == (37, 53)


def test_bomb_refused_before_decoding() -> None:
    bomb = png_bomb(20_000, 14_000)
    assert len(bomb) < 300_000  # fits a roster photo slot
    with pytest.raises(ImageError, match=r"20000 x 14000 pixels is larger than the 40 Mpx limit"):
        decode_bytes(bomb, "photo")


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"GIF89a" + bytes(100), "not a JPEG, PNG, WebP or BMP image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "frame header"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "IHDR"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x00\x00\x00\x00\x10", "declares 0 x 16"),
])
def test_bad_images_are_one_clear_error(data: bytes, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        decode_bytes(data, "photo")


def test_truncated_png_is_an_image_error() -> None:
    data = _encode(".png", np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(ImageError, match="not a readable image"):
        decode_bytes(data[: len(data) // 2], "photo")


def test_reencode_caps_size_and_drops_metadata() -> None:
    big = np.random.default_rng(2).integers(0, 255, (1500, 2500, 3), dtype=np.uint8)
    big = cv2.GaussianBlur(big, (0, 0), 3)
    jpeg = _encode(".jpg", big)
    payload = b"Exif\x00\x00GPS-SECRET"
    exif = b"\xff\xe1" + (2 + len(payload)).to_bytes(2, "big") + payload
    out = reencode_photo(jpeg[:2] + exif + jpeg[2:])
    assert b"GPS-SECRET" not in out and len(out) <= 300_000
    assert read_header(out)[1:] == (1024, 614)


def _verify_cli(tmp_path: Path, image: Path) -> tuple[subprocess.CompletedProcess, float]:
    return run_measured("verify", "--db", str(tmp_path / "gallery.sqlite"), "--id", "someone", str(image))


def test_edge_verify_bomb_bounded_rss_one_line(tmp_path: Path) -> None:
    """The attack: a ~390 KB PNG declaring 20000 x 20000 made `edge verify` peak at gigabytes. Now: one line, small RSS."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    out, rss_mb = _verify_cli(tmp_path, bomb)
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge verify: error:")]
    assert out.returncode == 2 and len(errors) == 1 and "40 Mpx limit" in errors[0], out.stderr[-1500:]
    assert "Traceback" not in out.stderr and "cv2.error" not in out.stderr
    assert rss_mb < RSS_LIMIT_MB, f"peak RSS {rss_mb:.0f} MB"


@pytest.mark.parametrize("content", [b"", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"])
def test_edge_verify_empty_and_truncated(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main

    img = tmp_path / "x.jpg"
    img.write_bytes(content)
    assert main(["verify", "--db", str(tmp_path / "gallery.sqlite"), "--id", "someone", str(img)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("edge verify: error:")]
    assert len(errors) == 1 and str(img) in errors[0] and "Traceback" not in err


def test_edge_verify_largest_accepted_photo_stays_under_rss_limit(tmp_path: Path, datasets_dir: Path) -> None:
    """Worst accepted input: a ~40 Mpx progressive JPEG of a real face, through detection and matching."""
    face = datasets_dir / "faces" / "Aaron_Sorkin" / "1.jpg"
    enrol = subprocess.run([sys.executable, "-m", "edge", "enroll", "--db", str(tmp_path / "gallery.sqlite"), "--id", "someone",
                            str(face)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert enrol.returncode == 0, enrol.stderr[-1500:]
    side = int((MAX_PIXELS * 0.97) ** 0.5)
    big = cv2.resize(cv2.imread(str(face)), (side, side), interpolation=cv2.INTER_LINEAR)
    img = tmp_path / "big.jpg"
    img.write_bytes(_encode(".jpg", big, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 95]))
    del big
    out, rss_mb = _verify_cli(tmp_path, img)
    assert out.returncode in (0, 1) and json.loads(out.stdout)["decision"] in ("match", "no_match", "retake"), out.stderr[-1500:]
    assert rss_mb < RSS_LIMIT_MB, f"peak RSS {rss_mb:.0f} MB"


def test_roster_import_with_bomb_photo_bounded_rss(tmp_path: Path, issuer_key, roster_doc) -> None:
    """The attack: a validly signed roster carrying a ~280 KB PNG bomb took import to 1.9 GB RSS.
    Now the photo is refused from its header, the recipient is flagged, the rest installs, RSS stays small."""
    pub = tmp_path / "issuer.pub.pem"
    pub.write_bytes(public_key_pem(issuer_key.public_key()))
    doc = roster_doc(n=2)
    doc["recipients"][0]["templates"] = []
    doc["recipients"][0]["photos_b64"] = [base64.b64encode(png_bomb(20_000, 14_000)).decode("ascii")]
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(sign_roster(doc, issuer_key)))
    config = tmp_path / "edge.toml"
    config.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n[claim]\nissuer_keys = ["{pub}"]\n[mqtt]\nenabled = false\n')
    out, rss_mb = run_measured("--config", str(config), "roster", "import", str(roster))
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["recipients"] == 2 and report["flagged"]["PKH-00001"] == "no_template"  # its only photo was refused
    assert "Traceback" not in out.stderr and "40 Mpx limit" in out.stderr
    assert rss_mb < RSS_LIMIT_MB, f"peak RSS {rss_mb:.0f} MB"

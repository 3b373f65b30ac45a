"""Image decoding with OpenCV (EXIF orientation applied, alpha dropped, always RGB uint8).

Every image is bounded before it is decoded: at most ``MAX_BYTES`` read, and the header's width x
height checked against :data:`edge.face.image_header.MAX_PIXELS` (decompression bombs are refused
without allocating their pixels). Any failure is one :class:`ImageError` line, never a cv2.error.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.errors import ImageError
from edge.face.image_header import check_header

MAX_BYTES = 50 * 1024 * 1024


def decode_bytes(data: bytes, what: str = "image") -> np.ndarray:
    """RGB uint8 (h, w, 3) from JPEG/PNG/... bytes; raises ImageError naming ``what``.

    ``cv2.imdecode`` with IMREAD_COLOR rotates by the EXIF Orientation tag (as a phone gallery
    shows the photo) and converts grey/RGBA to 3 channels.
    """
    if not data:
        raise ImageError(f"{what}: file is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{what}: {len(data)} bytes is larger than the {MAX_BYTES // (1024 * 1024)} MiB limit")
    check_header(data, what)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageError(f"{what}: the decoder refused it ({str(exc).strip().splitlines()[-1][:200]})") from None
    if bgr is None or bgr.size == 0:
        raise ImageError(f"{what}: not a readable image (corrupt, truncated or not an image format OpenCV decodes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place: no second full-size copy


def read_image(path: Path | str) -> np.ndarray:
    """Decode an image file to RGB; missing/unreadable/corrupt files raise ImageError naming the path."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)  # never more than the limit into memory
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{p}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_bytes(data, str(p))


PHOTO_MAX_SIDE = 1024  # reference photos are stored and shipped at most this size (long side)
PHOTO_MAX_BYTES = 300_000


def reencode_photo(data: bytes, what: str = "photo", max_side: int = PHOTO_MAX_SIDE, max_bytes: int = PHOTO_MAX_BYTES) -> bytes:
    """A clean JPEG (no EXIF/ICC/comments, long side <= ``max_side``, <= ``max_bytes``) from any accepted image.

    Rosters carry and terminals store only these, so a reference photo can neither hide a payload nor
    cost more than a few MB to decode. Raises ImageError (one line) when the image is unusable.
    """
    rgb = decode_bytes(data, what)
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for quality in (90, 80, 70, 60):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and buf.size <= max_bytes:
            return buf.tobytes()
    raise ImageError(f"{what}: still larger than {max_bytes} bytes as a {max_side}-px JPEG at quality 60")

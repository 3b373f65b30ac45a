"""Image decoding with OpenCV (EXIF orientation applied, alpha dropped, always RGB uint8)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.errors import ImageError

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
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageError(f"{what}: not a readable image (corrupt, truncated or not an image format OpenCV decodes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: Path | str) -> np.ndarray:
    """Decode an image file to RGB; missing/unreadable/corrupt files raise ImageError naming the path."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{p}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_bytes(data, str(p))

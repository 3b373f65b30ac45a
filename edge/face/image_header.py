"""Image dimensions from the file header, before any pixel is decoded (decompression-bomb guard).

A 300 KB PNG can declare 20000 x 20000 pixels and make a decoder allocate 1.2 GB. :func:`check_header`
reads the width and height from the first bytes of a JPEG, PNG, WebP or BMP file with a small bounded
parser (no decoder, no allocation proportional to the image) and refuses anything over ``MAX_PIXELS``
or in another format. Pure: bytes in, ``(format, width, height)`` or an ImageError line out.
"""

from __future__ import annotations

import struct

from edge.errors import ImageError

MAX_PIXELS = 40_000_000  # 40 Mpx (e.g. 7744 x 5164); larger photos are refused, never decoded
MAX_SIDE = 16_384
JPEG_MAX_SEGMENTS = 4096  # segments walked before the frame header (EXIF, ICC, XMP, depth maps: a few dozen in practice)
FORMATS = "JPEG, PNG, WebP or BMP"

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ValueError("PNG header (IHDR) missing or truncated")
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int]:
    pos, end, seen = 2, len(data), 0
    while pos + 4 <= end and seen < JPEG_MAX_SEGMENTS:
        seen += 1
        if data[pos] != 0xFF:
            raise ValueError(f"JPEG segment marker expected at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise ValueError("JPEG image data starts before any frame header")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            raise ValueError("JPEG segment with a bad length")
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    raise ValueError("JPEG frame header (SOF) not found (truncated, or not a JPEG)")


def _webp(data: bytes) -> tuple[int, int]:
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", body[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(body) >= 10:
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    raise ValueError("WebP header missing or truncated")


def _bmp(data: bytes) -> tuple[int, int]:
    if len(data) < 26:
        raise ValueError("BMP header truncated")
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:
        return struct.unpack("<HH", data[18:22])
    w, h = struct.unpack("<ii", data[18:26])
    return w, abs(h)


def image_format(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    return None


def read_header(data: bytes) -> tuple[str, int, int]:
    """``(format, width, height)`` from the header; ValueError naming what is wrong."""
    fmt = image_format(data)
    if fmt is None:
        raise ValueError(f"not a {FORMATS} image")
    w, h = {"PNG": _png, "JPEG": _jpeg, "WebP": _webp, "BMP": _bmp}[fmt](data)
    return fmt, w, h


def check_header(data: bytes, what: str = "image", max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """``(format, width, height)`` when the image may be decoded; otherwise ImageError, one line naming ``what``."""
    try:
        fmt, w, h = read_header(data)
    except ValueError as exc:
        raise ImageError(f"{what}: {exc}") from None
    if w <= 0 or h <= 0:
        raise ImageError(f"{what}: {fmt} header declares {w} x {h} pixels (corrupt)")
    if w > MAX_SIDE or h > MAX_SIDE or w * h > max_pixels:
        raise ImageError(f"{what}: {fmt} of {w} x {h} pixels is larger than the {max_pixels / 1e6:g} Mpx limit "
                         f"(at most {MAX_SIDE} per side); refused before decoding")
    return fmt, w, h

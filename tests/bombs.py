"""Hostile images for the input-limit tests: decompression bombs and oversize photos, built in memory."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 8-bit greyscale PNG of ``width`` x ``height`` black pixels: ~400 KB that decodes to 1.2 GB as BGR."""
    total, block = (width + 1) * height, bytes(1 << 22)  # every byte is 0: filter "none" and black pixels
    n, rest = divmod(total, len(block))
    comp = zlib.compressobj(9)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)  # carries the zlib header
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)  # after a full flush every block compresses alike
    body = first + again * (n - 1) + comp.compress(bytes(rest)) + comp.flush()
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(block, adler)
    body = body[:-4] + struct.pack(">I", zlib.adler32(bytes(rest), adler))  # the checksum of the whole stream
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")

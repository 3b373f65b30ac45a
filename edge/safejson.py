"""Bounded JSON and TOML parsing for input from the network, the SD card and operators.

Python's parsers recurse once per nesting level, so ``[[[[…]]]]`` a few thousand levels deep
ends in a ``RecursionError`` traceback (or, below that, a deep structure that later code walks
recursively). :func:`loads_bounded` refuses nesting deeper than ``max_depth`` *before* parsing,
with one :class:`~edge.errors.EdgeError` line naming what was read, and also bounds the size.

The depth scan is a single pass over the bytes (string contents skipped), using ``bytes.find``
to jump between brackets and quotes, so even a 64 MB roster is scanned in well under a second.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from edge.errors import EdgeError

MAX_DEPTH = 32
_JSON_SPECIAL = re.compile(rb'["\\\[\]{}]')


class InputTooDeep(EdgeError):
    """JSON/TOML nested deeper than allowed, or larger than allowed."""


def json_depth(data: bytes, limit: int = MAX_DEPTH) -> int:
    """Maximum bracket nesting of JSON text (strings skipped); stops counting once above ``limit``."""
    depth = best = 0
    in_str = False
    pos = 0
    find = _JSON_SPECIAL.search
    while True:
        m = find(data, pos)
        if m is None:
            return best
        c = data[m.start()]
        pos = m.end()
        if in_str:
            if c == 0x5C:  # backslash: skip the escaped character
                pos += 1
            elif c == 0x22:
                in_str = False
            continue
        if c == 0x22:
            in_str = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > best:
                best = depth
                if best > limit:
                    return best
        elif c in (0x5D, 0x7D):
            depth -= 1


def _as_bytes(data: bytes | bytearray | str) -> bytes:
    return data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)


def check_json(data: bytes | bytearray | str, *, what: str, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> bytes:
    """The raw bytes, after refusing text that is too large or nested too deep (InputTooDeep)."""
    raw = _as_bytes(data)
    if max_bytes is not None and len(raw) > max_bytes:
        raise InputTooDeep(f"{what}: {len(raw)} bytes, larger than the {max_bytes}-byte limit")
    depth = json_depth(raw, max_depth)
    if depth > max_depth:
        raise InputTooDeep(f"{what}: JSON nested more than {max_depth} levels deep; refused")
    return raw


def loads_bounded(data: bytes | bytearray | str, *, what: str, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> Any:
    """``json.loads`` with size and depth bounds; every failure is one EdgeError line naming ``what``."""
    raw = check_json(data, what=what, max_depth=max_depth, max_bytes=max_bytes)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeError(f"{what}: not valid JSON ({exc})") from None
    except RecursionError:  # belt and braces: the scan above should have caught it
        raise InputTooDeep(f"{what}: JSON nested too deeply; refused") from None


def toml_loads_bounded(text: str, *, what: str) -> dict[str, Any]:
    """``tomllib.loads`` turning runaway nesting into one InputTooDeep line; TOMLDecodeError passes through.

    tomllib is pure Python, so its RecursionError unwinds cleanly and is safe to catch here.
    """
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise InputTooDeep(f"{what}: TOML nested too deeply; refused") from None

"""JSON from the network, bounded before parsing: nesting depth is checked on the raw text.

``json.loads`` recurses once per nesting level, so ``[[[[…]]]]`` 100,000 deep raises
``RecursionError`` (a traceback and a dropped connection). :func:`loads_bounded` refuses such
input with a :class:`ValueError` naming the limit before the parser ever sees it.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


def json_depth(text: str, stop_at: int | None = None) -> int:
    """The deepest ``[``/``{`` nesting in ``text`` (brackets inside strings ignored); stops early past ``stop_at``."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest > stop_at:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted text; ``ValueError`` for invalid JSON or nesting deeper than ``max_depth``."""
    if text.count("[") + text.count("{") > max_depth and json_depth(text, stop_at=max_depth) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # belt and braces: never a traceback
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None

"""The API's JSON parser: DRF's, bounded.

A body nested more than MAX_DEPTH levels, or holding a NUL or a lone surrogate in any string or key (no
database can store either, and a log line would carry it), is a 400 before any view sees it. Python's json
module raises RecursionError, not ValueError, on very deep nesting; that too is a 400, not a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def check_parsed(data: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """ParseError when `data` nests deeper than `max_depth` or a string or key has NUL or a lone surrogate
    (the message names where, as "trade.id" or "follower_ids.0")."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                label = f"{where}: " if where else ""
                raise ParseError(f"{label}JSON strings must not contain NUL characters or lone surrogates")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise ParseError(f"JSON nested more than {max_depth} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    raise ParseError("JSON keys must not contain NUL characters or lone surrogates")
                stack.append((item, depth + 1, path))


class BoundedJSONParser(JSONParser):
    """JSON bodies, refused (400) when too deep or holding characters nothing downstream can store."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
        check_parsed(data)
        return data

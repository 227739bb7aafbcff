"""The API's JSON parser: DRF's, bounded in depth.

A body nested more than MAX_DEPTH levels is a 400 before any view sees it. Python's json module raises
RecursionError, not ValueError, on very deep nesting; that too is a 400, not a 500. Strings are judged by the
serializer fields that read them (NUL, lone surrogates and control characters are refused there, naming the
field); properties no field reads are ignored, whatever they hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def check_depth(data: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """ParseError when `data` nests objects and arrays deeper than `max_depth`."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise ParseError(f"JSON nested more than {max_depth} levels deep")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


class BoundedJSONParser(JSONParser):
    """JSON bodies, refused (400) when nested too deeply to be a request of this API."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
        check_depth(data)
        return data

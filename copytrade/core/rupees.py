"""Amounts of rupees as Indian traders read them (no Django: the pure risk rules use it too)."""

from __future__ import annotations

from decimal import Decimal


def format_rupees(value: Decimal) -> str:
    """An amount in the Indian grouping (1000000 -> 10,00,000; 2500.5 -> 2,500.5; no trailing zeros)."""
    sign = "-" if value < 0 else ""
    text = format(abs(value).normalize(), "f")
    whole, _, fraction = text.partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    grouped = ",".join([*groups, tail])
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"

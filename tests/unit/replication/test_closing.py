"""Position-aware exits, the pure part: splitting a master order against its position, and each follower's
share of a close (same fraction, whole lots, never a reversal, nothing left when the master is flat)."""

from __future__ import annotations

import pytest

from replication.closing import Holding, close_share, split_order


@pytest.mark.parametrize(
    ("holding", "available"),
    [
        (Holding(), 0),
        (Holding(filled=100), 100),
        (Holding(filled=100, open_sell=40), 60),
        (Holding(filled=100, open_sell=150), 0),
        (Holding(filled=100, open_buy=50), 100),
        (Holding(filled=-75, open_buy=25), -50),
        (Holding(filled=-75, open_sell=25), -75),
    ],
)
def test_available_position_leaves_out_what_open_closes_will_take(holding: Holding, available: int) -> None:
    assert holding.available == available


@pytest.mark.parametrize(
    ("position", "side", "quantity", "close", "entry", "kind"),
    [
        (0, "BUY", 100, 0, 100, "ENTRY"),
        (0, "SELL", 100, 0, 100, "ENTRY"),
        (100, "BUY", 50, 0, 50, "ENTRY"),
        (100, "SELL", 40, 40, 0, "CLOSE"),
        (100, "SELL", 100, 100, 0, "CLOSE"),
        (100, "SELL", 200, 100, 100, "REVERSAL"),
        (-60, "BUY", 60, 60, 0, "CLOSE"),
        (-60, "BUY", 100, 60, 40, "REVERSAL"),
        (-60, "sell", 10, 0, 10, "ENTRY"),
    ],
)
def test_split_order(position: int, side: str, quantity: int, close: int, entry: int, kind: str) -> None:
    split = split_order(position_before=position, side=side, quantity=quantity)
    assert (split.close_quantity, split.entry_quantity, split.kind) == (close, entry, kind)
    assert split.close_quantity + split.entry_quantity == quantity


@pytest.mark.parametrize(
    ("held", "master_close", "master_position", "lot", "share"),
    [
        (100, 50, 100, 1, 50),  # half
        (30, 50, 100, 1, 15),
        (3, 50, 100, 1, 2),  # 1.5 rounds half up
        (3, 40, 120, 1, 1),  # a third of 3
        (150, 25, 100, 25, 50),  # 37.5 units = 1.5 lots -> 2 lots
        (75, 50, 100, 25, 50),  # 37.5 = 1.5 lots -> 2 lots = 50
        (50, 10, 100, 25, 0),  # 5 = 0.2 lots -> nothing this time
        (30, 100, 100, 1, 30),  # the master ends flat: everything
        (37, 60, 60, 25, 37),  # flat even when what is held is not whole lots
        (0, 50, 100, 1, 0),
        (100, 0, 100, 1, 0),
    ],
)
def test_close_share(held: int, master_close: int, master_position: int, lot: int, share: int) -> None:
    assert (
        close_share(held=held, master_close=master_close, master_position=master_position, lot_size=lot)
        == share
    )


def test_close_shares_never_reverse_and_the_last_flattens() -> None:
    """However the master scales out, each follower's closes add up to exactly what it held: no residue, and
    never more (a close is never a reversal)."""
    for held in range(0, 41):
        for steps in ([10, 10, 10, 70], [33, 33, 34], [1, 98, 1], [60, 40], [100]):
            position, remaining = 100, held
            for step in steps:
                share = close_share(held=remaining, master_close=step, master_position=position, lot_size=1)
                assert 0 <= share <= remaining
                remaining -= share
                position -= step
            assert remaining == 0


@pytest.mark.parametrize(
    ("holding", "closed"),
    [
        (Holding(), True),
        (Holding(filled=10, open_sell=10), True),  # the close is placed, not yet filled
        (Holding(filled=10, open_sell=4), False),
        (Holding(filled=10, open_sell=10, open_buy=5), False),  # another entry still open
        (Holding(open_buy=10), False),  # an entry not filled yet
        (Holding(filled=-5, open_buy=5), True),
        (Holding(filled=10), False),
    ],
)
def test_closed(holding: Holding, closed: bool) -> None:
    assert holding.closed is closed

"""Freeze-quantity slicing (replication.risk): slice sizes, lots, the last slice, redistribution on modify."""

from __future__ import annotations

import pytest

from replication import risk, states
from replication.serializers import slices_merged


@pytest.mark.parametrize(
    ("total", "freeze", "lot", "slices"),
    [
        # no freeze quantity: one order, whatever its size
        (3600, None, 75, [3600]),
        # a 2x follower of 1,350 NIFTY (lot 75, freeze 1,800): 2,700 = one full slice and the remainder
        (2700, 1800, 75, [1800, 900]),
        # a multiplier that lands exactly on the freeze quantity: one slice, not two
        (1800, 1800, 75, [1800]),
        # exactly N x freeze: N full slices, no empty last one
        (5400, 1800, 75, [1800, 1800, 1800]),
        # below the freeze quantity: one slice
        (75, 1800, 75, [75]),
        # freeze not a multiple of the lot (1,000 with lot 75): slices of 975 (13 lots), the last the rest
        (2100, 1000, 75, [975, 975, 150]),
        # lot rounding across slices: every slice a whole number of lots (BANKNIFTY lot 35, freeze 900)
        (1750, 900, 35, [875, 875]),
        (1785, 900, 35, [875, 875, 35]),
        # nothing to send
        (0, 1800, 75, []),
        # a freeze quantity below one lot cannot be sliced
        (150, 50, 75, []),
    ],
)
def test_slice_quantities(total, freeze, lot, slices):
    # when
    result = risk.slice_quantities(total, freeze, lot)
    # then
    assert result == slices
    assert sum(result) == (total if slices else 0)
    assert all(q % lot == 0 and (freeze is None or q <= freeze) for q in result)


def test_freeze_below_one_lot_is_an_explicit_skip_reason():
    # when
    reason = risk.freeze_skip_reason(freeze_quantity=50, lot_size=75)
    # then
    assert reason == "Freeze quantity 50 is below one lot (75): order cannot be sliced"
    assert risk.freeze_skip_reason(freeze_quantity=1800, lot_size=75) == ""
    assert risk.freeze_skip_reason(freeze_quantity=None, lot_size=75) == ""


def test_freeze_quantity_comes_from_the_contract_master_first_then_the_operators_table():
    # given
    table = {("NFO", "NIFTY"): 1800}
    # then
    assert (
        risk.freeze_quantity_for(contract_freeze=1200, operator_freeze=table, exchange="NFO", symbol="NIFTY")
        == 1200
    )
    assert (
        risk.freeze_quantity_for(contract_freeze=None, operator_freeze=table, exchange="nfo", symbol="nifty")
        == 1800
    )
    assert (
        risk.freeze_quantity_for(
            contract_freeze=None, operator_freeze=table, exchange="NFO", symbol="BANKNIFTY"
        )
        is None
    )


@pytest.mark.parametrize(
    ("total", "floors", "modifiable", "freeze", "existing", "new"),
    [
        # a smaller total: the first slice keeps the slice size, the second shrinks
        (2250, [0, 0], [True, True], 1800, [1800, 450], []),
        # a total that needs one slice less: the second drops to 0 (to be cancelled)
        (1500, [0, 0], [True, True], 1800, [1500, 0], []),
        # a larger total needs a new slice
        (4200, [0, 0], [True, True], 1800, [1800, 1800], [600]),
        # never below what a slice has filled; a final slice stays at its floor
        (1800, [1800, 300], [False, True], 1800, [1800, 300], []),
        (2700, [1800, 300], [False, True], 1800, [1800, 900], []),
        # a total below what has filled leaves every slice at its floor
        (600, [900, 300], [True, True], 1800, [900, 300], []),
        # no freeze quantity: the one order takes everything
        (5250, [0], [True], None, [5250], []),
    ],
)
def test_slices_redistribute(total, floors, modifiable, freeze, existing, new):
    # when
    result = risk.slices_redistribute(
        total=total, floors=floors, modifiable=modifiable, freeze_quantity=freeze, lot_size=75
    )
    # then
    assert result == (existing, new)


def _result(status: str, order_id: str = "", reason: str = "", quantity: int = 900) -> dict:
    return {
        "follower_id": "F1",
        "status": status,
        "follower_order_id": order_id,
        "reason": reason,
        "quantity": quantity,
    }


@pytest.mark.parametrize(
    ("statuses", "merged", "reason"),
    [
        (["SUCCESS", "SUCCESS"], "SUCCESS", ""),
        (["SUCCESS", "FAILED"], "FAILED", "1 of 2 slices failed: EC003: error"),
        (["SUCCESS", "PENDING"], "PENDING", "1 of 2 slices in flight"),
        (["FAILED", "PENDING"], "PENDING", "1 of 2 slices in flight"),
        (["SKIPPED", "SKIPPED"], "SKIPPED", ""),
    ],
)
def test_a_sliced_followers_result_is_success_only_when_every_slice_succeeded(statuses, merged, reason):
    # given
    rows = [
        _result(status, order_id=f"O{n}", reason="EC003: error" if status == "FAILED" else "")
        for n, status in enumerate(statuses)
    ]
    # when
    result = slices_merged(rows)
    # then the first slice's order id stays, every slice's order id and the total quantity are added
    assert (result["status"], result.get("reason", "")) == (merged, reason)
    assert result["follower_order_id"] == "O0"
    assert result["follower_order_ids"] == ["O0", "O1"]
    assert (result["slices"], result["quantity"]) == (2, 1800)


def test_slice_tags_are_deterministic_short_unique_and_slice_0_keeps_the_unsliced_tag():
    # given the tag every mapping had before orders were sliced
    import base64
    import hashlib

    from replication.models import order_tag_for

    digest = hashlib.sha256(b"M-1|7|ENTRY").digest()
    unsliced = ("CT" + base64.b32encode(digest).decode().rstrip("="))[:20]
    # when
    tags = [order_tag_for(master_order_id="M-1", follower_pk=7, leg="ENTRY", slice_no=n) for n in range(50)]
    # then
    assert tags[0] == unsliced == order_tag_for(master_order_id="M-1", follower_pk=7, leg="ENTRY")
    assert len(set(tags)) == 50
    assert all(len(tag) <= 20 for tag in tags)
    assert tags == [
        order_tag_for(master_order_id="M-1", follower_pk=7, leg="ENTRY", slice_no=n) for n in range(50)
    ]


def test_results_by_order_merges_the_slices_of_one_order_and_keeps_first_appearance_order():
    # given slice results of three follower orders, one of them sliced with a failed slice
    pairs = [(2, "SUCCESS"), (1, "SKIPPED"), (2, "FAILED"), (3, "SUCCESS"), (2, "SUCCESS")]

    # when
    merged = states.results_by_order(pairs)

    # then one result per order, the sliced one FAILED
    assert merged == {2: "FAILED", 1: "SKIPPED", 3: "SUCCESS"}
    assert list(merged) == [2, 1, 3]


@pytest.mark.parametrize(
    ("exit_slice_no", "entry_slice_count", "entry_slice_no"),
    [(0, 1, 0), (3, 1, 0), (1, 3, 1), (4, 3, 1), (5, 3, 2), (2, 0, 0)],
)
def test_exit_slice_of_maps_exit_slices_k_k_plus_n_to_entry_slice_k(
    exit_slice_no, entry_slice_count, entry_slice_no
):
    # given / when / then
    assert (
        risk.exit_slice_of(exit_slice_no=exit_slice_no, entry_slice_count=entry_slice_count) == entry_slice_no
    )

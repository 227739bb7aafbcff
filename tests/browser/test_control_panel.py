"""The master control panel in a real browser (Chromium) against the live `make run` stack.

Each test places its own master order at the simulator (its own symbol, so its follower orders are told
apart on the shared stack) and reads the outcome where it lands: the simulator's ledger of each account.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.screenshots import shot
from tests.browser.stack_api import FOLLOWER_CLIENT_IDS, StackApi, wait_until
from tests.browser.staff_login import StaffLogin, submit_login

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

FOLLOWERS = tuple(FOLLOWER_CLIENT_IDS)
SKIP_REASON_INFY = "Symbol INFY not in allowed instruments"
# The result page and the dashboard refresh themselves every few seconds.
REFRESHED_MS = 15_000


def _copy_url(master_order_id: str) -> str:
    return f"/admin/control/orders/{master_order_id}/copy/"


def _results_url(master_order_id: str) -> re.Pattern[str]:
    return re.compile(rf"/admin/control/orders/{re.escape(master_order_id)}/results/$")


def _trade_row(page: Page, master_order_id: str):
    return page.locator(f'#master-trades tr[data-master-order="{master_order_id}"]')


def _open_dashboard_row(page: Page, master_order_id: str):
    page.goto("/admin/")
    row = _trade_row(page, master_order_id)
    expect(row).to_be_visible(timeout=REFRESHED_MS)
    return row


def _wait_final(page: Page) -> None:
    expect(page.locator('#results[data-final="1"]')).to_be_attached(timeout=REFRESHED_MS)


def _result(page: Page, follower_id: str, part: str):
    return page.locator(f'#results tr[data-follower="{follower_id}"] {part}')


def _checkbox(page: Page, follower_id: str):
    return page.locator(f'input[type="checkbox"][name="followers"][value="{follower_id}"]')


def _csrf_token(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def test_login_asks_for_the_second_factor(page: Page, operator: StaffLogin, stack_api: StackApi):
    # given the operator's password and authenticator app
    # when the code is wrong
    submit_login(page, operator, code=operator.authenticator.wrong_code())
    # then the login page refuses it
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    expect(page.locator('input[name="otp_token"]')).to_be_visible()
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    # when the right code follows (django-otp holds the device for a second after a wrong code)
    time.sleep(1.5)
    submit_login(page, operator, code=operator.authenticator.code())
    # then the operator lands on the dashboard
    expect(page).to_have_url(f"{stack_api.web}/admin/")
    expect(page.locator('input[name="otp_token"]')).to_have_count(0)
    shot(page, "dashboard")


def test_dashboard_shows_a_master_trade_as_it_is_captured(operator_page: Page, stack_api: StackApi):
    # given auto-replicate is off, and the dashboard open
    stack_api.auto_replicate(on=False)
    page = operator_page
    page.goto("/admin/")
    expect(page.locator("#master-trades")).to_be_visible()
    # when the master buys in the broker's app
    order_id = stack_api.master_order(symbol="SBIN", quantity=10)
    # then the row appears without a reload, waiting for the operator
    row = _trade_row(page, order_id)
    expect(row).to_be_visible(timeout=REFRESHED_MS)
    expect(row).to_contain_text("SBIN")
    expect(row).to_contain_text("BUY")
    expect(row.locator('a[data-action="copy"]')).to_be_visible()
    for count in ("success", "skipped", "failed", "pending"):
        expect(row.locator(f".count-{count}")).to_be_attached()


def test_copy_to_two_of_three_followers(operator_page: Page, auto_replicate_off: StackApi):
    # given a master trade on the dashboard
    api, page = auto_replicate_off, operator_page
    order_id = api.master_order(symbol="HDFCBANK", quantity=6)
    api.wait_captured(order_id)
    row = _open_dashboard_row(page, order_id)
    # when the operator opens its copy page and leaves DEMO-FOLLOWER-3 out
    row.locator('a[data-action="copy"]').click()
    expect(page).to_have_url(re.compile(rf"{re.escape(_copy_url(order_id))}$"))
    for follower_id in FOLLOWERS:
        expect(_checkbox(page, follower_id)).to_be_visible()
    _checkbox(page, "DEMO-FOLLOWER-1").check()
    _checkbox(page, "DEMO-FOLLOWER-2").check()
    _checkbox(page, "DEMO-FOLLOWER-3").uncheck()
    # the preview: 1x and 0.5x of 6
    for follower_id, quantity in (("DEMO-FOLLOWER-1", 6), ("DEMO-FOLLOWER-2", 3)):
        would = page.locator(f'tr[data-follower="{follower_id}"] .would-quantity')
        expect(would).to_have_text(re.compile(rf"\b{quantity}\b"))
    shot(page, "copy_page")
    page.locator('button[name="copy"]').click()
    # then the result page shows both copies placed
    expect(page).to_have_url(_results_url(order_id))
    _wait_final(page)
    expect(_result(page, "DEMO-FOLLOWER-1", ".status")).to_have_text("SUCCESS")
    expect(_result(page, "DEMO-FOLLOWER-2", ".status")).to_have_text("SUCCESS")
    shot(page, "result_page")
    # and the broker received exactly those two orders, nothing for DEMO-FOLLOWER-3
    placed = {f: api.follower_orders(f, order_id) for f in FOLLOWERS}
    assert [(o["side"], o["quantity"]) for o in placed["DEMO-FOLLOWER-1"]] == [("BUY", 6)], placed
    assert [(o["side"], o["quantity"]) for o in placed["DEMO-FOLLOWER-2"]] == [("BUY", 3)], placed
    assert placed["DEMO-FOLLOWER-3"] == []
    assert api.symbol_orders("FOLLOW3", "HDFCBANK") == []
    for follower_id in ("DEMO-FOLLOWER-1", "DEMO-FOLLOWER-2"):
        shown = _result(page, follower_id, ".follower-order-id")
        expect(shown).to_contain_text(placed[follower_id][0]["orderId"])


def test_skipped_follower_shows_its_reason_in_preview_and_result(
    operator_page: Page, auto_replicate_off: StackApi
):
    # given DEMO-FOLLOWER-3 may trade SBIN only, and a master INFY trade
    api, page = auto_replicate_off, operator_page
    original = api.risk_config("DEMO-FOLLOWER-3")
    api.risk_config_replace("DEMO-FOLLOWER-3", {**original, "allowed_instruments": ["SBIN"]})
    try:
        order_id = api.master_order(symbol="INFY", quantity=4)
        api.wait_captured(order_id)
        # when the operator previews a copy to everyone
        page.goto(_copy_url(order_id))
        page.locator('button[data-select="all"]').click()
        # then the preview says why DEMO-FOLLOWER-3 would be skipped
        would = page.locator('tr[data-follower="DEMO-FOLLOWER-3"] .would-reason')
        expect(would).to_contain_text(SKIP_REASON_INFY)
        for follower_id in FOLLOWERS:
            expect(_checkbox(page, follower_id)).to_be_checked()
        # when copied to all three
        page.locator('button[name="copy"]').click()
        # then the result page shows the skip with the same reason, the others copied
        expect(page).to_have_url(_results_url(order_id))
        _wait_final(page)
        expect(_result(page, "DEMO-FOLLOWER-3", ".status")).to_have_text("SKIPPED")
        expect(_result(page, "DEMO-FOLLOWER-3", ".reason")).to_contain_text(SKIP_REASON_INFY)
        expect(_result(page, "DEMO-FOLLOWER-1", ".status")).to_have_text("SUCCESS")
        expect(_result(page, "DEMO-FOLLOWER-2", ".status")).to_have_text("SUCCESS")
        assert api.follower_orders("DEMO-FOLLOWER-3", order_id) == []
    finally:
        api.risk_config_replace("DEMO-FOLLOWER-3", original)


def test_exit_from_the_dashboard_squares_off_every_follower(
    operator_page: Page, auto_replicate_off: StackApi
):
    # given a master RELIANCE buy replicated to all (every demo follower may trade RELIANCE)
    api, page = auto_replicate_off, operator_page
    order_id = api.master_order(symbol="RELIANCE", quantity=2)
    api.wait_captured(order_id)
    row = _open_dashboard_row(page, order_id)
    row.locator('form[data-action="replicate"] button').click()
    expect(page).to_have_url(_results_url(order_id))
    _wait_final(page)

    def filled_buys() -> dict[str, int]:
        return {
            follower_id: order["filledQuantity"]
            for follower_id, client_id in FOLLOWER_CLIENT_IDS.items()
            for order in api.symbol_orders(client_id, "RELIANCE")
            if order["side"] == "BUY" and order["filledQuantity"] > 0
        }

    filled = wait_until(lambda: len(buys := filled_buys()) == 3 and buys, seconds=15, what="3 filled BUYs")
    assert filled == {"DEMO-FOLLOWER-1": 2, "DEMO-FOLLOWER-2": 1, "DEMO-FOLLOWER-3": 4}
    # when the operator exits it from the dashboard and confirms
    row = _open_dashboard_row(page, order_id)
    row.locator('a[data-action="exit"]').click()
    expect(page).to_have_url(re.compile(rf"/admin/control/orders/{re.escape(order_id)}/exit/$"))
    for follower_id in filled:
        expect(page.locator("body")).to_contain_text(follower_id)
    page.locator('button[name="confirm"]').click()
    # then the exit's result page, and a SELL of each follower's filled quantity at the broker
    expect(page.locator("#results")).to_be_attached()

    def sells() -> dict[str, list[int]]:
        orders = {f: api.symbol_orders(client_id, "RELIANCE") for f, client_id in FOLLOWER_CLIENT_IDS.items()}
        return {f: [o["quantity"] for o in mine if o["side"] == "SELL"] for f, mine in orders.items()}

    sold = wait_until(lambda: all((s := sells()).values()) and s, seconds=15, what="a SELL for each follower")
    assert sold == {follower_id: [quantity] for follower_id, quantity in filled.items()}


def test_kill_switch_blocks_the_next_copy(operator_page: Page, auto_replicate_off: StackApi):
    api, page = auto_replicate_off, operator_page
    stop_sent = False
    try:
        # given copying stopped with the kill switch
        page.goto("/admin/control/kill-switch/")
        stop = page.locator('button[name="action"][value="stop"]')
        expect(stop).to_be_visible()
        stop_sent = True
        stop.click()
        page.wait_for_load_state()
        shot(page, "kill_switch")
        page.goto("/admin/")
        expect(page.locator('#kill-switch[data-state="stopped"]')).to_be_attached()
        order_id = api.master_order(symbol="ACC", quantity=3)
        api.wait_captured(order_id)
        # when the operator copies the next master trade to everyone (a page that already says no, with
        # its button disabled, refuses as well)
        page.goto(_copy_url(order_id))
        copy = page.locator('button[name="copy"]')
        expect(copy).to_be_attached()
        if copy.is_enabled():
            page.locator('button[data-select="all"]').click()
            copy.click()
        # then it is refused, saying why, and no follower order reaches the broker
        expect(page.locator("body")).to_contain_text(re.compile("kill switch", re.IGNORECASE))
        time.sleep(3)  # what a worker would have placed by now
        assert {c: api.symbol_orders(c, "ACC") for c in FOLLOWER_CLIENT_IDS.values()} == {
            c: [] for c in FOLLOWER_CLIENT_IDS.values()
        }
    finally:
        if stop_sent:  # the stack is shared: copying resumes for the tests that follow
            page.goto("/admin/control/kill-switch/")
            page.locator('button[name="action"][value="resume"]').click()
            page.wait_for_load_state()
    page.goto("/admin/")
    expect(page.locator('#kill-switch[data-state="on"]')).to_be_attached()


def test_positions_page_shows_master_and_followers(operator_page: Page, auto_replicate_off: StackApi):
    # given a master ASHOKLEY position copied to the followers that may trade it
    api, page = auto_replicate_off, operator_page
    order_id = api.master_order(symbol="ASHOKLEY", quantity=20)
    api.wait_captured(order_id)
    trade = {"id": order_id, "symbol": "ASHOKLEY", "side": "BUY", "quantity": 20}
    replicated = api.post("/api/trades/replicate", {"trade": trade})
    statuses = {r["follower_id"]: r["status"] for r in replicated["results"]}
    assert (statuses["DEMO-FOLLOWER-1"], statuses["DEMO-FOLLOWER-2"]) == ("SUCCESS", "SUCCESS"), replicated
    # when the operator opens the positions page
    page.goto("/admin/control/positions/")
    # then the master's and the followers' positions are side by side
    positions = page.locator("#positions")
    expect(positions).to_be_visible()
    expect(positions).to_contain_text("ASHOKLEY")
    expect(positions).to_contain_text(re.compile("DEMO-MASTER|MASTER1"))
    for follower_id in ("DEMO-FOLLOWER-1", "DEMO-FOLLOWER-2"):
        expect(positions).to_contain_text(follower_id)
        expect(
            page.locator(f'form[data-action="square-off"][data-follower="{follower_id}"]')
        ).to_be_attached()
    shot(page, "positions")


def test_view_only_staff_cannot_act(viewer_page: Page, stack_api: StackApi):
    # given a master trade waiting on the dashboard, and a staff member with view permissions only
    stack_api.auto_replicate(on=False)
    page = viewer_page
    order_id = stack_api.master_order(symbol="TCS", quantity=1)
    stack_api.wait_captured(order_id)
    # when they open the dashboard and the trade's copy page
    _open_dashboard_row(page, order_id)
    page.goto(_copy_url(order_id))
    # then they see the followers but no way to copy
    expect(page.locator('tr[data-follower="DEMO-FOLLOWER-1"]')).to_be_visible()
    expect(page.locator('button[name="copy"]:enabled')).to_have_count(0)
    # when they send the copy form anyway
    answer = page.request.post(
        f"{stack_api.web}{_copy_url(order_id)}",
        form={"followers": "DEMO-FOLLOWER-1", "csrfmiddlewaretoken": _csrf_token(page)},
        headers={"Referer": f"{stack_api.web}{_copy_url(order_id)}"},
        max_redirects=0,
    )
    # then it is forbidden and nothing reaches the broker
    assert answer.status == 403, (answer.status, answer.text()[:500])
    assert "CSRF verification failed" not in answer.text()
    assert stack_api.symbol_orders("FOLLOW1", "TCS") == []
    # and the kill switch offers them no button
    page.goto("/admin/control/kill-switch/")
    expect(page.locator('button[name="action"]')).to_have_count(0)

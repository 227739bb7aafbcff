"""The control panel in the admin: dashboard, copy to selected followers (dry-run preview, result page),
replicate, dismiss, exit, retry, positions, square-off and the kill switch; each action a POST behind its
permission, with an audit row; view-only staff see every page and change nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import Account, AuditEvent, BrokerCredential, MasterSettings
from replication.models import MasterTrade, OrderAction, OrderMapping, TradeEvent
from replication.services.sweeper import order_mappings_sync_now
from tests.integration.replication.conftest import QA_SECRET, settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="boss", password="pw-boss-123")
    otp_login(client, user)
    return client


@pytest.fixture
def viewer(client, django_user_model, otp_login):
    """Staff with every view permission and nothing else."""
    user = django_user_model.objects.create_user(username="watcher", password="pw-watch-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    otp_login(client, user)
    return client


@pytest.fixture
def master(engine, sim) -> Account:
    sim.create_account("MASTER9")
    account = Account.objects.create(
        account_id="THE-MASTER", role=Account.Role.MASTER, client_id="MASTER9", api_flavor="openapi"
    )
    BrokerCredential.objects.create(
        account=account,
        access_token=sim.issue_session("MASTER9"),
        session_status=BrokerCredential.SessionStatus.VALID,
    )
    return account


def _queued(
    master: Account, order_id: str = "90001", symbol: str = "SBIN", quantity: int = 10
) -> MasterTrade:
    """A captured master entry waiting for the operator (auto-replicate off)."""
    return MasterTrade.objects.create(
        account=master,
        broker_order_id=order_id,
        symbol=symbol,
        trading_symbol=f"{symbol}-EQ",
        exchange="NSE",
        side="BUY",
        quantity=quantity,
        entry_quantity=quantity,
        order_type="MARKET",
        product_type="MIS",
        state=MasterTrade.State.NEW,
        note="Queued: auto-replicate is off",
    )


def _placed_and_synced() -> bool:
    """Every placed entry read back from the follower's order book (a market order fills at once)."""
    placed = list(OrderMapping.objects.filter(status=Status.ACTIVE).values_list("pk", flat=True))
    if placed:
        order_mappings_sync_now(mapping_ids=placed)
    return OrderMapping.objects.filter(status=Status.COMPLETED).exists()


def _row(html: str, follower_id: str) -> str:
    match = re.search(rf'<tr data-follower="{re.escape(follower_id)}".*?</tr>', html, re.S)
    assert match, f"no row for {follower_id}"
    return match.group(0)


# ---------------------------------------------------------------- dashboard
def test_dashboard_is_the_landing_page_with_trades_counts_followers_and_kill_switch(
    operator, sim, worker, make_follower, api
):
    # given two followers and a trade replicated through the API, one follower skipped by its allowed list
    make_follower("F-ONE")
    make_follower("F-TWO", allowed_instruments=["INFY"])
    assert (
        api.post("/api/trades/replicate", {"trade": trade("API-1", quantity=5)}, format="json").status_code
        == 200
    )
    assert wait_for(lambda: settled("API-1"))
    # when
    page = operator.get(reverse("admin:index"))
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="kill-switch"' in html
    assert 'data-state="on"' in html
    assert 'id="capture-health"' in html
    row = re.search(r'<tr data-master-order="API-1".*?</tr>', html, re.S).group(0)
    assert re.search(r'class="count-success"><a [^>]*>1<', row)
    assert re.search(r'class="count-skipped"><a [^>]*>1<', row)
    assert 'data-action="copy"' in row
    assert 'data-action="exit"' in row
    assert "Symbol SBIN not in allowed instruments" not in html  # the reason lives on the result page
    assert _row(html, "F-ONE")
    assert _row(html, "F-TWO")
    assert "All records" in html  # the stock app list, below the panels
    # and the panels alone refresh the page
    assert operator.get(reverse("admin:control-panels")).status_code == 200


def test_view_site_and_branding_lead_to_the_dashboard(operator):
    html = operator.get(reverse("admin:index")).content.decode()
    assert "copytrade control panel" in html
    assert 'href="/admin/"' in html


# ---------------------------------------------------------------- copy to selected
def test_copy_page_previews_every_follower_with_the_rules_and_sends_nothing(
    operator, sim, master, make_follower
):
    # given a queued master trade and three followers, one whose allowed instruments exclude the symbol
    _queued(master)
    make_follower("F-ONE")
    make_follower("F-HALF", lot_multiplier="0.5")
    make_follower("F-INFY", allowed_instruments=["INFY"])
    # when
    page = operator.get(reverse("admin:control-copy", args=["90001"]))
    # then every follower has a checkbox, the quantity it would get and the reason it would be skipped
    html = page.content.decode()
    for follower_id in ("F-ONE", "F-HALF", "F-INFY"):
        assert f'value="{follower_id}"' in html
    assert '<td class="would-quantity">10</td>' in _row(html, "F-ONE")
    assert '<td class="would-quantity">5</td>' in _row(html, "F-HALF")
    assert "Symbol SBIN not in allowed instruments" in _row(html, "F-INFY")
    assert 'data-ready="0"' in _row(html, "F-INFY")
    # and nothing was written or sent
    assert not OrderMapping.objects.exists()
    assert sim.orders() == []


def test_copy_to_selected_places_for_exactly_those_and_shows_the_results(
    operator, sim, worker, master, make_follower
):
    # given
    trade_row = _queued(master)
    one, two, three = make_follower("F-ONE"), make_follower("F-TWO"), make_follower("F-THREE")
    # when two of three are selected
    answer = operator.post(
        reverse("admin:control-copy", args=["90001"]), {"followers": ["F-ONE", "F-TWO"], "copy": "1"}
    )
    # then it lands on the result page, which turns final with two successes
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:control-results", args=["90001"])
    assert wait_for(lambda: settled("90001"))
    panel = operator.get(reverse("admin:control-results-panel", args=["90001"]))
    assert panel["X-Refresh-Final"] == "1"
    html = panel.content.decode()
    for follower in ("F-ONE", "F-TWO"):
        assert '<span class="status">SUCCESS</span>' in _row(html, follower)
    assert 'data-follower="F-THREE"' not in html
    # and the simulator holds exactly those two orders
    assert len(sim.orders(one.client_id)) == 1
    assert len(sim.orders(two.client_id)) == 1
    assert sim.orders(three.client_id) == []
    trade_row.refresh_from_db()
    assert trade_row.state == MasterTrade.State.COPIED
    assert AuditEvent.objects.filter(action="master_order.copied", target="90001").exists()
    # and copying the third later places only its order (replay)
    operator.post(reverse("admin:control-copy", args=["90001"]), {"followers": ["F-THREE"], "copy": "1"})
    assert wait_for(lambda: len(sim.orders(three.client_id)) == 1)
    assert len(sim.orders(one.client_id)) == 1


def test_copy_with_no_follower_selected_is_refused_and_writes_nothing(operator, sim, master, make_follower):
    _queued(master)
    make_follower("F-ONE")
    answer = operator.post(reverse("admin:control-copy", args=["90001"]), {"copy": "1"}, follow=True)
    assert "Select at least one follower." in answer.content.decode()
    assert not OrderMapping.objects.exists()
    assert MasterTrade.objects.get().state == MasterTrade.State.NEW


def test_manual_trade_previews_then_copies_under_one_id(operator, sim, worker, make_follower):
    # given
    follower = make_follower("F-ONE")
    make_follower("F-INFY", allowed_instruments=["INFY"])
    fields = {"symbol": "sbin", "exchange": "NSE", "side": "BUY", "quantity": "7", "product_type": "MIS"}
    fields["order_type"] = "MARKET"
    # when previewed
    preview = operator.post(reverse("admin:control-manual-copy"), {**fields, "preview": "1"})
    html = preview.content.decode()
    order_id = re.search(r'name="master_order_id" value="(ADMIN-[0-9A-F-]+)"', html).group(1)
    assert "Symbol SBIN not in allowed instruments" in _row(html, "F-INFY")
    assert not TradeEvent.objects.exists()
    # then copied to the selected follower under the id fixed at the preview
    answer = operator.post(
        reverse("admin:control-manual-copy"),
        {**fields, "master_order_id": order_id, "followers": ["F-ONE"], "copy": "1"},
    )
    assert answer["Location"] == reverse("admin:control-results", args=[order_id])
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 1)
    assert TradeEvent.objects.get().master_order_id == order_id


def test_manual_trade_with_bad_input_answers_the_form_with_errors(operator, make_follower):
    make_follower("F-ONE")
    page = operator.post(
        reverse("admin:control-manual-copy"),
        {
            "symbol": "",
            "exchange": "XXX",
            "side": "HOLD",
            "quantity": "-3",
            "order_type": "LIMIT",
            "copy": "1",
        },
    )
    assert page.status_code == 200
    assert "errorlist" in page.content.decode()
    assert not TradeEvent.objects.exists()
    forged = operator.post(
        reverse("admin:control-manual-copy"),
        {
            "symbol": "SBIN",
            "exchange": "NSE",
            "side": "BUY",
            "quantity": "1",
            "product_type": "MIS",
            "order_type": "MARKET",
            "master_order_id": "90001",  # not a manual id: refused, never replayed onto a real order
            "followers": ["F-ONE"],
            "copy": "1",
        },
    )
    assert forged.status_code == 200
    assert not TradeEvent.objects.exists()


def test_replicate_to_all_and_dismiss(operator, sim, worker, master, make_follower):
    # given
    _queued(master, "90001")
    _queued(master, "90002")
    follower = make_follower("F-ONE")
    # when
    replicate = operator.post(reverse("admin:control-replicate", args=["90001"]))
    dismiss = operator.post(reverse("admin:control-dismiss", args=["90002"]))
    # then
    assert replicate["Location"] == reverse("admin:control-results", args=["90001"])
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 1)
    assert dismiss.status_code == 302
    assert MasterTrade.objects.get(broker_order_id="90002").state == MasterTrade.State.DISMISSED
    assert not OrderMapping.objects.filter(master_order_id="90002").exists()


# ---------------------------------------------------------------- exit
def test_exit_confirmation_lists_the_plan_and_squares_off_at_the_simulator(
    operator, sim, worker, make_follower, api
):
    # given a copied, filled trade
    follower = make_follower("F-ONE")
    api.post("/api/trades/replicate", {"trade": trade("EXIT-1", quantity=4)}, format="json")
    assert wait_for(_placed_and_synced)
    # when the confirmation page is read
    page = operator.get(reverse("admin:control-exit", args=["EXIT-1"])).content.decode()
    # then it lists what will happen, and nothing happened yet
    assert "square off 4" in _row(page, "F-ONE")
    assert [o["side"] for o in sim.orders(follower.client_id)] == ["BUY"]
    # when confirmed
    answer = operator.post(reverse("admin:control-exit", args=["EXIT-1"]), {"confirm": "1"})
    # then
    assert answer["Location"] == reverse("admin:control-results", args=["EXIT-1"])
    assert wait_for(lambda: [o["side"] for o in sim.orders(follower.client_id)] == ["BUY", "SELL"])
    assert sim.orders(follower.client_id)[1]["quantity"] == 4
    assert AuditEvent.objects.filter(action="master_order.exited", target="EXIT-1").exists()


# ---------------------------------------------------------------- needs attention
def test_retry_sends_again_an_entry_that_never_reached_the_broker_and_refuses_the_rest(
    operator, sim, worker, make_follower, api
):
    # given an entry FAILED because Alice Blue refused the follower's session
    follower = make_follower("F-ONE")
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode="session_expired")
    api.post("/api/trades/replicate", {"trade": trade("RETRY-1", quantity=3)}, format="json")
    assert wait_for(lambda: settled("RETRY-1"))
    failed = OrderMapping.objects.get(master_order_id="RETRY-1")
    assert failed.status == Status.FAILED
    dashboard = operator.get(reverse("admin:index")).content.decode()
    assert f'data-mapping="{failed.pk}"' in dashboard
    assert failed.reason_code == OrderMapping.ReasonCode.SESSION_EXPIRED
    sim.clear_faults()
    # when the follower logs in again and the operator retries
    credential = follower.credential
    credential.access_token = sim.issue_session(follower.client_id)
    credential.session_status = BrokerCredential.SessionStatus.VALID
    credential.save()
    operator.post(reverse("admin:control-retry", args=[failed.pk]))
    # then it is placed once
    assert wait_for(
        lambda: OrderMapping.objects.get(pk=failed.pk).status in (Status.ACTIVE, Status.COMPLETED)
    )
    assert len(sim.orders(follower.client_id)) == 1
    assert AuditEvent.objects.filter(action="order_mapping.retried").count() == 1
    # and a retry of a placed order is refused with the reason
    again = operator.post(reverse("admin:control-retry", args=[failed.pk]), follow=True)
    assert "Only FAILED entries are retried" in again.content.decode()
    assert len(sim.orders(follower.client_id)) == 1


# ---------------------------------------------------------------- positions
def test_positions_show_master_and_followers_with_drift_and_square_off_one(
    operator, sim, worker, master, make_follower, api
):
    # given the master holds 10 SBIN and one follower copied it, the other did not
    sim.place_as_user(master.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=10)
    copied, missing = make_follower("F-ONE"), make_follower("F-TWO")
    make_follower("F-INFY", allowed_instruments=["INFY"])  # its rules never copy SBIN: expected 0, no drift
    api.post(
        "/api/trades/copy-selected",
        {"trade": trade("POS-1", quantity=10), "follower_ids": ["F-ONE"]},
        format="json",
    )
    assert wait_for(_placed_and_synced)
    # when
    html = operator.get(reverse("admin:control-positions")).content.decode()
    # then
    row = re.search(r'<tr data-instrument="NSE:SBIN-EQ:MIS".*?</tr>', html, re.S).group(0)
    assert '<td class="master">10</td>' in row
    assert 'class="drift" data-follower="F-TWO"' in row
    assert 'class="" data-follower="F-ONE"' in row
    assert 'class="" data-follower="F-INFY"' in row
    # when F-ONE is squared off after the confirmation page
    confirm = operator.get(reverse("admin:control-square-off"), {"follower": "F-ONE"}).content.decode()
    assert "POS-1" in confirm
    operator.post(reverse("admin:control-square-off"), {"follower": "F-ONE", "confirm": "1"})
    # then
    assert wait_for(lambda: [o["side"] for o in sim.orders(copied.client_id)] == ["BUY", "SELL"])
    assert sim.orders(missing.client_id) == []
    assert AuditEvent.objects.filter(action="followers.squared_off").exists()


# ---------------------------------------------------------------- kill switch
def test_kill_switch_blocks_new_copies_everywhere_until_resumed(
    operator, sim, worker, master, make_follower, api
):
    # given
    _queued(master)
    follower = make_follower("F-ONE")
    # when the kill switch is turned on
    operator.post(reverse("admin:control-kill-switch"), {"action": "stop", "reason": "market halt"})
    # then the dashboard says so loudly, and copying from the panel and the API is refused, writing nothing
    assert 'data-state="stopped"' in operator.get(reverse("admin:index")).content.decode()
    refused = operator.post(
        reverse("admin:control-copy", args=["90001"]), {"followers": ["F-ONE"], "copy": "1"}, follow=True
    )
    assert "kill switch" in refused.content.decode()
    api_answer = api.post("/api/trades/replicate", {"trade": trade("KILL-1")}, format="json")
    assert api_answer.status_code == 409
    assert api_answer.json()["code"] == "copying_stopped"
    assert not OrderMapping.objects.exists()
    assert sim.orders(follower.client_id) == []
    assert AuditEvent.objects.filter(action="copying.stopped", details__reason="market halt").exists()
    # when resumed
    operator.post(reverse("admin:control-kill-switch"), {"action": "resume"})
    # then copying works again
    operator.post(reverse("admin:control-copy", args=["90001"]), {"followers": ["F-ONE"], "copy": "1"})
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 1)
    assert AuditEvent.objects.filter(action="copying.resumed").exists()


def test_stop_and_square_off_needs_the_typed_confirmation(operator, sim, worker, make_follower, api):
    # given a follower holding a copied trade
    follower = make_follower("F-ONE")
    api.post("/api/trades/replicate", {"trade": trade("SQ-1", quantity=2)}, format="json")
    assert wait_for(_placed_and_synced)
    url = reverse("admin:control-kill-switch")
    # when the confirmation is mistyped, nothing happens
    wrong = operator.post(url, {"action": "stop_and_square_off", "confirmation": "square off"}, follow=True)
    assert "SQUARE OFF EVERYONE" in wrong.content.decode()
    assert not MasterSettings.objects.filter(copying_stopped=True).exists()
    assert not OrderAction.objects.exists()
    # when typed right, copying stops and the follower is squared off
    operator.post(url, {"action": "stop_and_square_off", "confirmation": "SQUARE OFF EVERYONE"})
    assert MasterSettings.objects.get().copying_stopped
    assert wait_for(lambda: [o["side"] for o in sim.orders(follower.client_id)] == ["BUY", "SELL"])


# ---------------------------------------------------------------- permissions
def test_view_only_staff_see_every_page_and_change_nothing(viewer, sim, master, make_follower, api):
    # given
    _queued(master)
    make_follower("F-ONE")
    api.post("/api/trades/replicate", {"trade": trade("VIEW-1", quantity=1)}, format="json")
    mapping = OrderMapping.objects.get(master_order_id="VIEW-1")
    audits = AuditEvent.objects.count()
    pages = [
        reverse("admin:index"),
        reverse("admin:control-panels"),
        reverse("admin:control-copy", args=["90001"]),
        reverse("admin:control-manual-copy"),
        reverse("admin:control-results", args=["VIEW-1"]),
        reverse("admin:control-exit", args=["VIEW-1"]),
        reverse("admin:control-positions"),
        reverse("admin:control-square-off"),
        reverse("admin:control-kill-switch"),
    ]
    # when / then every page renders, without the buttons that act
    for url in pages:
        page = viewer.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert 'name="copy"' not in html, url
        assert 'name="confirm"' not in html, url
        assert 'name="action"' not in html, url
    # and every action is refused with 403, changing nothing
    posts = [
        (reverse("admin:control-copy", args=["90001"]), {"followers": ["F-ONE"], "copy": "1"}),
        (reverse("admin:control-replicate", args=["90001"]), {}),
        (reverse("admin:control-dismiss", args=["90001"]), {}),
        (reverse("admin:control-exit", args=["VIEW-1"]), {"confirm": "1"}),
        (reverse("admin:control-retry", args=[mapping.pk]), {}),
        (reverse("admin:control-reconcile", args=[mapping.pk]), {}),
        (reverse("admin:control-poll"), {}),
        (reverse("admin:control-square-off"), {"confirm": "1"}),
        (reverse("admin:control-kill-switch"), {"action": "stop"}),
    ]
    for url, data in posts:
        assert viewer.post(url, data).status_code == 403, url
    assert AuditEvent.objects.count() == audits
    assert MasterTrade.objects.get().state == MasterTrade.State.NEW
    assert not MasterSettings.objects.filter(copying_stopped=True).exists()


def test_actions_are_post_only_and_need_a_login(client, operator):
    # given / when / then: a GET never acts
    for name, args in [
        ("admin:control-replicate", ["1"]),
        ("admin:control-dismiss", ["1"]),
        ("admin:control-retry", [1]),
        ("admin:control-reconcile", [1]),
        ("admin:control-poll", []),
    ]:
        assert operator.get(reverse(name, args=args)).status_code == 405
    operator.logout()
    page = operator.get(reverse("admin:control-kill-switch"))
    assert page.status_code == 302
    assert "/admin/login/" in page["Location"]


def test_actions_need_the_csrf_token(django_user_model, otp_login):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    user = django_user_model.objects.create_superuser(username="csrf", password="pw-csrf-123")
    otp_login(browser, user)
    answer = browser.post(reverse("admin:control-kill-switch"), {"action": "stop"})
    assert answer.status_code == 403
    assert not MasterSettings.objects.filter(copying_stopped=True).exists()


def test_api_replicate_while_stopped_uses_the_qa_secret_contract(api):
    # the 409 keeps the seed's error shape
    MasterSettings.objects.update_or_create(pk=1, defaults={"copying_stopped": True})
    answer = api.post(
        "/api/trades/replicate", {"trade": trade("KILL-2")}, format="json", HTTP_X_QA_SECRET=QA_SECRET
    )
    assert answer.status_code == 409
    body = answer.json()
    assert body["ok"] is False
    assert "kill switch" in body["message"]


@pytest.mark.parametrize(
    "order_id",
    ["NOPE", "x" * 300, "ADMIN-000000000000-FFFF", "%00", "1 OR 1=1", "ऑर्डर"],
)
def test_odd_master_order_ids_answer_a_page_never_a_500(operator, order_id, make_follower):
    # given a follower and no such master order
    make_follower("F-ONE")
    # when / then every page and action answers without an error page, and writes nothing
    for name in ("admin:control-copy", "admin:control-exit", "admin:control-results"):
        page = operator.get(reverse(name, args=[order_id]))
        assert page.status_code == 200, (name, page.status_code)
    for name in (
        "admin:control-copy",
        "admin:control-replicate",
        "admin:control-dismiss",
        "admin:control-exit",
    ):
        answer = operator.post(
            reverse(name, args=[order_id]), {"followers": ["F-ONE"], "copy": "1", "confirm": "1"}
        )
        assert answer.status_code in (302, 200), (name, answer.status_code)
    assert not OrderMapping.objects.exists()
    assert not TradeEvent.objects.exists()


def test_odd_inputs_to_the_other_actions_are_refused_cleanly(operator, make_follower):
    make_follower("F-ONE")
    assert operator.post(reverse("admin:control-retry", args=[999999])).status_code == 404
    assert operator.post(reverse("admin:control-reconcile", args=[999999])).status_code == 404
    assert operator.get(reverse("admin:control-square-off"), {"follower": "NOBODY"}).status_code == 404
    kill = operator.post(reverse("admin:control-kill-switch"), {"action": "explode", "reason": "x" * 5000})
    assert kill.status_code == 302
    long_reason = operator.post(
        reverse("admin:control-kill-switch"), {"action": "stop", "reason": "r" * 5000}
    )
    assert long_reason.status_code == 302
    assert len(MasterSettings.objects.get().copying_stopped_reason) == 255
    manual = operator.post(
        reverse("admin:control-manual-copy"),
        {
            "symbol": "NOSUCHSYMBOL",
            "exchange": "NSE",
            "side": "BUY",
            "quantity": "1",
            "product_type": "MIS",
            "order_type": "MARKET",
            "preview": "1",
        },
    )
    assert manual.status_code == 200
    assert "NOSUCHSYMBOL" in manual.content.decode()
    assert not TradeEvent.objects.exists()


# ---------------------------------------------------------------- trying to break it
def test_retry_with_the_session_still_dead_sends_nothing(operator, sim, worker, make_follower, api):
    # given an entry FAILED because Alice Blue refused the follower's session, which is still dead
    follower = make_follower("F-ONE")
    sim.add_fault(user_id=follower.client_id, endpoint="placeorder", mode="session_expired")
    api.post("/api/trades/replicate", {"trade": trade("DEAD-1", quantity=3)}, format="json")
    assert wait_for(lambda: settled("DEAD-1"))
    failed = OrderMapping.objects.get(master_order_id="DEAD-1")
    assert failed.status == Status.FAILED
    # when the operator retries before the follower logged in again
    operator.post(reverse("admin:control-retry", args=[failed.pk]))
    # then the entry fails again before sending: the simulator received no order at all
    assert wait_for(lambda: OrderMapping.objects.get(pk=failed.pk).status == Status.FAILED)
    assert wait_for(lambda: settled("DEAD-1"))
    assert "session expired" in OrderMapping.objects.get(pk=failed.pk).reason.lower()
    assert sim.orders(follower.client_id) == []


def test_entries_waiting_for_a_worker_when_the_kill_switch_goes_on_are_never_sent(
    operator, sim, engine, make_follower, api, request
):
    # given a fan-out whose placements wait in the queue (no worker is running yet)
    follower = make_follower("F-ONE")
    answer = api.post("/api/trades/replicate?wait=0", {"trade": trade("WAIT-1", quantity=2)}, format="json")
    assert answer.status_code == 200, answer.content
    assert OrderMapping.objects.get(master_order_id="WAIT-1").status == Status.PENDING
    # when the kill switch goes on, then a worker picks the placements up
    operator.post(reverse("admin:control-kill-switch"), {"action": "stop"})
    request.getfixturevalue("worker")
    # then each is settled SKIPPED with the kill switch's reason, and nothing reached the broker
    assert wait_for(lambda: settled("WAIT-1"))
    mapping = OrderMapping.objects.get(master_order_id="WAIT-1")
    assert (mapping.status, mapping.reason) == (Status.SKIPPED, "Copying stopped by the kill switch")
    assert sim.orders(follower.client_id) == []


def test_exits_still_flow_while_copying_is_stopped(operator, sim, worker, make_follower, api):
    # given a copied, filled trade, then the kill switch on
    follower = make_follower("F-ONE")
    api.post("/api/trades/replicate", {"trade": trade("FLOW-1", quantity=5)}, format="json")
    assert wait_for(_placed_and_synced)
    operator.post(reverse("admin:control-kill-switch"), {"action": "stop"})
    # when the operator exits it
    operator.post(reverse("admin:control-exit", args=["FLOW-1"]), {"confirm": "1"})
    # then the follower is squared off all the same
    assert wait_for(lambda: [o["side"] for o in sim.orders(follower.client_id)] == ["BUY", "SELL"])


def test_manual_trade_preview_says_how_a_follower_order_is_sliced_and_results_show_each_slice(
    operator, sim, worker, make_follower
):
    # given a 2x follower (caps raised) and a NIFTY option trade of 1,350: 2,700 is above the freeze 1,800
    MasterSettings.objects.update_or_create(pk=1, defaults={"max_quantity_per_trade": 100_000})
    follower = make_follower("F-TWO", lot_multiplier="2", max_quantity=100_000)
    fields = {"symbol": "NIFTY26NOV26000CE", "exchange": "NFO", "side": "BUY", "quantity": "1350"}
    fields.update(product_type="NRML", order_type="MARKET")
    # when previewed
    preview = operator.post(reverse("admin:control-manual-copy"), {**fields, "preview": "1"})
    # then
    html = preview.content.decode()
    assert '2700 <span class="slices">(2 slices of 1800, last 900)</span>' in _row(html, "F-TWO")
    # and once copied, the results show both slices and count the follower once
    order_id = re.search(r'name="master_order_id" value="(ADMIN-[0-9A-F-]+)"', html).group(1)
    operator.post(
        reverse("admin:control-manual-copy"),
        {**fields, "master_order_id": order_id, "followers": ["F-TWO"], "copy": "1"},
    )
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 2 and settled(order_id))
    results = operator.get(reverse("admin:control-results", args=[order_id])).content.decode()
    assert '<span class="slice">1/2</span>' in results
    assert '<span class="slice">2/2</span>' in results
    assert "1 success" in " ".join(results.split())
    # and the dashboard's row of the trade counts the follower once too
    dashboard = operator.get(reverse("admin:index")).content.decode()
    row = next(tr for tr in dashboard.split("<tr") if order_id in tr)
    assert re.search(r'class="count-success"><a [^>]*>1</a>', row)

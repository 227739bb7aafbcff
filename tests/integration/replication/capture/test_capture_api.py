"""The capture APIs with the seed's contracts: poll now, push, the incoming queue (list, clear, remove),
auto-replicate; bad input is a 4xx JSON answer that writes nothing; health shows the capture; the admin's
Master trades page copies a waiting trade."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import AuditEvent, MasterSettings
from replication.models import CaptureStatus, MasterTrade, OrderAction, OrderMapping
from tests.integration.replication.capture.conftest import MASTER_USER, sim_orders, wait_orders

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _pushed(trade_id: str, **fields) -> dict:
    return {"id": trade_id, "symbol": "SBIN", "side": "BUY", "quantity": 10, "price": 500, **fields}


def _auto_replicate(on: bool) -> None:
    MasterSettings.objects.filter(pk=MasterSettings.SINGLETON_ID).update(auto_replicate_new_trades=on)


def test_push_copies_new_trades_once(api, sim, master, make_follower, worker):
    followers = [make_follower(), make_follower(lot_multiplier=Decimal("0.5"))]
    body = {"accountId": MASTER_USER, "trades": [_pushed("PUSH-1"), _pushed("PUSH-2", qty=20, quantity=None)]}
    body["trades"][1].pop("quantity")
    # when
    first = api.post("/api/alice/push", body, format="json")
    again = api.post("/api/alice/push", body, format="json")
    # then the seed's answer, and each follower one order per trade
    assert first.json() == {"ok": True, "received": 2, "stored": 2}
    assert again.json() == {"ok": True, "received": 2, "stored": 0}
    wait_orders(sim, followers[0], 2)
    wait_orders(sim, followers[1], 2)
    assert sorted(o["quantity"] for o in sim_orders(sim, followers[1])) == [5, 10]
    assert set(MasterTrade.objects.values_list("source", "state")) == {("PUSH", "COPIED")}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"accountId": "NOT-THE-MASTER", "trades": [_pushed("P-1")]}, 404, "master_not_found"),
        ({"accountId": MASTER_USER, "trades": []}, 400, "invalid"),
        (
            {"accountId": MASTER_USER, "trades": [{"id": "P-1", "symbol": "SBIN", "side": "BUY"}]},
            400,
            "invalid",
        ),
        ({"accountId": MASTER_USER, "trades": [_pushed("P-1", type="LIMIT", price=None)]}, 400, "invalid"),
        ({"accountId": MASTER_USER, "trades": [_pushed("P-1", side="HOLD")]}, 400, "invalid"),
        ({"accountId": MASTER_USER, "trades": "P-1"}, 400, "invalid"),
    ],
)
def test_bad_push_is_a_4xx_and_writes_nothing(api, master, body, status, code):
    response = api.post("/api/alice/push", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["ok"] is False
    assert response.json()["code"] == code
    assert not MasterTrade.objects.exists()


def test_queue_auto_replicate_clear_and_remove(api, sim, master, make_follower, worker):
    followers = [make_follower(), make_follower()]
    _auto_replicate(False)
    pushed = [_pushed("Q-1"), _pushed("Q-2"), _pushed("Q-3"), _pushed("Q-4")]
    assert (
        api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": pushed}, format="json").status_code
        == 200
    )
    # the queue shows them waiting, in the seed's shape
    incoming = api.get("/api/alice/incoming", {"state": "new"}).json()
    assert {t["id"] for t in incoming["trades"]} == {"Q-1", "Q-2", "Q-3", "Q-4"}
    row = incoming["trades"][0]
    assert {"id", "timestamp", "account", "symbol", "type", "side", "quantity", "price", "status"} <= set(row)
    assert (row["account"], row["state"], row["note"]) == ("MASTER-1", "NEW", "Queued: auto-replicate is off")
    assert not OrderMapping.objects.exists()
    # remove one, clear nothing else yet
    removed = api.post("/api/alice/remove", {"accountId": "MASTER-1", "tradeIds": ["Q-4"]}, format="json")
    assert removed.json() == {"ok": True, "removed": 1}
    assert MasterTrade.objects.get(broker_order_id="Q-4").state == "DISMISSED"
    # auto-replicate copies the three still waiting
    answer = api.post("/api/alice/auto-replicate").json()
    assert answer == {
        "ok": True,
        "autoReplicated": 3,
        "totalFollowers": 2,
        "message": "Auto-replicated 3 trades to 2 followers",
    }
    for follower in followers:
        wait_orders(sim, follower, 3)
    assert api.post("/api/alice/auto-replicate").json()["autoReplicated"] == 0
    assert AuditEvent.objects.filter(action="master_trades.copied").exists()
    # clear empties the queue; the rows stay
    assert api.delete("/api/alice/clear").json() == {"ok": True, "success": True, "cleared": 3}
    assert api.get("/api/alice/incoming").json() == {"ok": True, "trades": []}
    assert MasterTrade.objects.count() == 4


def test_clear_dismisses_waiting_trades_for_good(api, sim, master, make_follower, worker):
    follower = make_follower()
    _auto_replicate(False)
    api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": [_pushed("C-1")]}, format="json")
    api.delete("/api/alice/clear")
    assert api.post("/api/alice/auto-replicate").json()["autoReplicated"] == 0
    assert MasterTrade.objects.get().state == "DISMISSED"
    assert sim_orders(sim, follower) == []


def test_poll_now_answers_the_seeds_shape(api, sim, master, make_follower, worker):
    follower = make_follower()
    sim.place_as_user(MASTER_USER, exchange="NSE", symbol="SBIN", side="BUY", quantity=7)
    # when
    first = api.post("/api/alice/poll").json()
    second = api.post("/api/alice/poll").json()
    # then
    assert first == {"ok": True, "newTrades": 1, "message": "Polled 1 accounts"}
    assert second == {"ok": True, "newTrades": 0, "message": "Polled 1 accounts"}
    (order,) = wait_orders(sim, follower, 1)
    assert order["quantity"] == 7
    poll = CaptureStatus.objects.get(account=master, kind=CaptureStatus.Kind.POLL)
    assert poll.last_error == ""
    # and /api/health shows the capture (informational)
    capture = api.get("/api/health").json()["checks"]["capture"]
    assert capture["ok"] is True
    assert capture["poll"]["lastRunAgeSeconds"] is not None
    assert capture["stream"]["connected"] is False


def test_poll_now_without_a_master_or_with_a_dead_session(api, sim, master, engine):
    # a dead session: the master's book cannot be read -> 502, said so, and the session is marked expired
    sim.expire_sessions(MASTER_USER)
    response = api.post("/api/alice/poll")
    assert response.status_code == 502
    assert response.json()["code"] == "master_book_unreadable"
    master.credential.refresh_from_db()
    assert master.credential.session_status == "EXPIRED"
    # and no more calls are made with it until a new login
    calls = len(sim.requests_log(MASTER_USER))
    assert api.post("/api/alice/poll").status_code == 502
    assert len(sim.requests_log(MASTER_USER)) == calls
    # no master at all
    master.status = master.Status.INACTIVE
    master.save()
    assert api.post("/api/alice/poll").json() == {
        "ok": True,
        "newTrades": 0,
        "message": "No master account configured",
    }
    assert api.post("/api/alice/auto-replicate").json()["message"] == "No master account configured"


def test_incoming_filters_are_validated(api, master):
    response = api.get("/api/alice/incoming", {"state": "SOMETIMES"})
    assert response.status_code == 400
    assert response.json()["ok"] is False


@pytest.fixture
def staff_client(client, django_user_model, otp_login):
    user = django_user_model.objects.create_user(username="ops", password="pw-ops-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="replication"))
    otp_login(client, user)
    return client


def test_admin_master_trades_page_copies_a_waiting_trade(
    staff_client, api, sim, master, make_follower, worker
):
    follower = make_follower()
    _auto_replicate(False)
    api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": [_pushed("ADM-1")]}, format="json")
    trade = MasterTrade.objects.get()
    url = reverse("admin:replication_mastertrade_changelist")
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "ADM-1" in page.content.decode()
    # when the operator copies it
    answer = staff_client.post(url, {"action": "copy_now", "_selected_action": [trade.pk]}, follow=True)
    # then
    assert "1 of 1 selected trades copied to 1 followers" in answer.content.decode()
    wait_orders(sim, follower, 1)
    assert MasterTrade.objects.get().state == "COPIED"
    assert AuditEvent.objects.get(action="master_trades.copied").actor == "admin:ops"
    assert staff_client.get(reverse("admin:replication_capturestatus_changelist")).status_code == 200


def test_admin_copy_needs_the_change_permission(client, django_user_model, otp_login, api, master, worker):
    viewer = django_user_model.objects.create_user(username="viewer", password="pw-view-123", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_mastertrade"))
    otp_login(client, viewer)
    _auto_replicate(False)
    api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": [_pushed("ADM-2")]}, format="json")
    url = reverse("admin:replication_mastertrade_changelist")
    page = client.get(url)
    assert page.status_code == 200
    assert "copy_now" not in page.content.decode()
    client.post(url, {"action": "copy_now", "_selected_action": [MasterTrade.objects.get().pk]})
    assert MasterTrade.objects.get().state == "NEW"


def test_an_order_id_that_comes_back_for_another_order_is_ignored(api, sim, master, make_follower, worker):
    # given a master trade known under an id
    follower = make_follower()
    known = _pushed("REUSED-1", type="LIMIT", status="open")  # a buy limit under the market: stays open
    api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": [known]}, format="json")
    wait_orders(sim, follower, 1)
    # when the same id arrives describing another order (another instrument and side), cancelled
    other = _pushed("REUSED-1", symbol="INFY", side="SELL", status="cancelled")
    api.post("/api/alice/push", {"accountId": MASTER_USER, "trades": [other]}, format="json")
    # then nothing about the known trade changes and no follower order is touched
    trade = MasterTrade.objects.get()
    assert (trade.symbol, trade.side, trade.status) == ("SBIN", "BUY", "OPEN")
    time.sleep(1)
    assert [o["status"] for o in sim_orders(sim, follower)] == ["OPEN"]
    assert not OrderAction.objects.exists()

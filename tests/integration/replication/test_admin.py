"""The replication admin: read-only, filterable changelists of trade events and mappings, and the
"reconcile now" action resolving UNKNOWN mappings against the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from replication.models import FollowerRiskSnapshot, OrderMapping, TradeEvent, order_tag_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


@pytest.fixture
def staff_client(client, django_user_model, otp_login):
    """A staff user (not a superuser) with the view permissions of the replication models."""
    user = django_user_model.objects.create_user(username="ops", password="pw-ops-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="replication"))
    otp_login(client, user)
    return client


def _event(master_order_id: str) -> TradeEvent:
    return TradeEvent.objects.create(
        dedupe_key=f"PLACE:{master_order_id}",
        master_order_id=master_order_id,
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        side="BUY",
        quantity=10,
    )


def _mapping(event: TradeEvent, follower, status: str, **fields) -> OrderMapping:
    return OrderMapping.objects.create(
        trade_event=event,
        master_order_id=event.master_order_id,
        follower=follower,
        order_tag=order_tag_for(master_order_id=event.master_order_id, follower_pk=follower.pk, leg="ENTRY"),
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        side="BUY",
        quantity=10,
        status=status,
        **fields,
    )


@pytest.fixture
def rows(make_follower):
    """Two master orders, two followers, mappings in several states."""
    first, second = make_follower("TEST-USER-1"), make_follower("TEST-USER-2")
    one, two = _event("M-ADMIN-1"), _event("M-ADMIN-2")
    return {
        "followers": (first, second),
        "events": (one, two),
        "active": _mapping(one, first, Status.ACTIVE, follower_order_id="111"),
        "skipped": _mapping(one, second, Status.SKIPPED, reason="Account is disabled"),
        "unknown": _mapping(two, first, Status.UNKNOWN),
    }


def _ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def test_mapping_changelist_renders_and_filters_by_status_follower_and_master_order(staff_client, rows):
    url = reverse("admin:replication_ordermapping_changelist")
    _first, second = rows["followers"]
    # when
    everything = staff_client.get(url)
    by_status = staff_client.get(url, {"status__exact": Status.UNKNOWN})
    by_follower = staff_client.get(url, {"follower__id__exact": second.pk})
    by_master = staff_client.get(url, {"master_order": "M-ADMIN-1"})
    # then
    assert everything.status_code == 200
    page = everything.content.decode()
    for title in ("By status", "By follower", "By master order"):
        assert title in page
    assert _ids(everything) == {rows["active"].pk, rows["skipped"].pk, rows["unknown"].pk}
    assert _ids(by_status) == {rows["unknown"].pk}
    assert _ids(by_follower) == {rows["skipped"].pk}
    assert _ids(by_master) == {rows["active"].pk, rows["skipped"].pk}


def test_event_changelist_renders_and_filters_by_status_follower_and_master_order(staff_client, rows):
    url = reverse("admin:replication_tradeevent_changelist")
    one, two = rows["events"]
    TradeEvent.objects.filter(pk=two.pk).update(status=TradeEvent.Status.ERROR)
    _first, second = rows["followers"]
    # when
    everything = staff_client.get(url)
    by_status = staff_client.get(url, {"status__exact": "error"})
    by_follower = staff_client.get(url, {"follower": second.pk})
    by_master = staff_client.get(url, {"master_order": "M-ADMIN-2"})
    # then
    assert everything.status_code == 200
    page = everything.content.decode()
    for title in ("By status", "By follower", "By master order"):
        assert title in page
    assert _ids(everything) == {one.pk, two.pk}
    assert _ids(by_status) == {two.pk}
    assert _ids(by_follower) == {one.pk}
    assert _ids(by_master) == {two.pk}


@pytest.mark.parametrize("model", ["tradeevent", "ordermapping"])
def test_admin_is_read_only(staff_client, rows, model):
    # given
    obj = rows["events"][0] if model == "tradeevent" else rows["active"]
    # when
    add = staff_client.get(reverse(f"admin:replication_{model}_add"))
    change_page = staff_client.get(reverse(f"admin:replication_{model}_change", args=[obj.pk]))
    post = staff_client.post(reverse(f"admin:replication_{model}_change", args=[obj.pk]), {"symbol": "X"})
    delete = staff_client.post(reverse(f"admin:replication_{model}_delete", args=[obj.pk]), {"post": "yes"})
    # then the page is viewable, nothing can be added, changed or deleted
    assert add.status_code == 403
    assert change_page.status_code == 200
    assert change_page.context["has_change_permission"] is False
    assert change_page.context["has_delete_permission"] is False
    assert post.status_code == 403
    assert delete.status_code == 403
    obj.refresh_from_db()
    assert obj.symbol == "SBIN"


def test_reconcile_now_resolves_unknown_mappings_against_the_simulator(staff_client, rows, sim, engine):
    # given an UNKNOWN mapping whose order reached the broker, one that never did (past the grace
    # window, and too old to be sent again), and an ACTIVE one also selected
    first, second = rows["followers"]
    found = rows["unknown"]
    placed = sim.place_as_user(
        first.client_id,
        exchange="NSE",
        symbol="SBIN",
        side="BUY",
        quantity=10,
        order_type="LIMIT",
        price="1",
        tag=found.order_tag,
    )
    lost = _mapping(
        rows["events"][1], second, Status.UNKNOWN, submitted_at=timezone.now() - timedelta(seconds=60)
    )
    OrderMapping.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    selected = [found.pk, lost.pk, rows["active"].pk]
    # when
    response = staff_client.post(
        reverse("admin:replication_ordermapping_changelist"),
        {"action": "reconcile_now", "_selected_action": selected},
        follow=True,
    )
    # then
    assert response.status_code == 200
    found.refresh_from_db()
    lost.refresh_from_db()
    assert (found.status, found.follower_order_id) == (Status.ACTIVE, placed["orderId"])
    assert lost.status == Status.FAILED
    assert lost.reason.startswith("Order not placed")
    assert OrderMapping.objects.get(pk=rows["active"].pk).status == Status.ACTIVE
    assert "Reconciled: 1 ACTIVE, 1 FAILED; 1 not UNKNOWN (left alone)." in response.content.decode()
    # and nothing was sent, and each reconcile is audited
    assert sim.requests_log(path="placeorder") == []
    assert AuditEvent.objects.filter(action="mapping.reconciled", actor="admin:ops").count() == 2


def test_risk_snapshot_changelist_renders_read_only(staff_client, make_follower):
    # given
    follower = make_follower()
    FollowerRiskSnapshot.objects.create(
        follower=follower, realised_pnl=-100, unrealised_pnl=-50, opening_cash=1000, fetched_at=timezone.now()
    )
    # when
    response = staff_client.get(reverse("admin:replication_followerrisksnapshot_changelist"))
    # then
    assert response.status_code == 200
    assert "-150" in response.content.decode()
    assert staff_client.get(reverse("admin:replication_followerrisksnapshot_add")).status_code == 403

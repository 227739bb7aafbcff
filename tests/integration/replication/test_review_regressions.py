"""Regressions from the money-path review: opted-out followers, the attempt cap, unreadable credentials,
unpriced market orders, exit/cancel sent through replicate, late acknowledgements."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account, BrokerCredential, Consent
from replication.models import OrderMapping, TradeEvent, order_tag_for
from replication.services import placement, placement_batch, reconcile
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
Status = OrderMapping.Status


def _mapping(follower, master_order_id: str, **fields) -> OrderMapping:
    event, _ = TradeEvent.objects.get_or_create(
        dedupe_key=f"PLACE:{master_order_id}",
        defaults={
            "master_order_id": master_order_id,
            "symbol": "SBIN",
            "trading_symbol": "SBIN-EQ",
            "token": "3045",
            "side": "BUY",
            "quantity": 10,
        },
    )
    return OrderMapping.objects.create(
        trade_event=event,
        master_order_id=master_order_id,
        follower=follower,
        order_tag=order_tag_for(master_order_id=master_order_id, follower_pk=follower.pk, leg="ENTRY"),
        symbol="SBIN",
        trading_symbol="SBIN-EQ",
        token="3045",
        exchange="NSE",
        side="BUY",
        quantity=10,
        **fields,
    )


def _copy_ciphertext(*, source: Account, target: Account) -> None:
    """Make `target`'s stored token undecryptable: another row's ciphertext is bound to that row."""
    table = BrokerCredential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token FROM {table} WHERE account_id=%s", [source.pk])  # noqa: S608
        ciphertext = cursor.fetchone()[0]
        cursor.execute(f"UPDATE {table} SET access_token=%s WHERE account_id=%s", [ciphertext, target.pk])  # noqa: S608


@pytest.mark.parametrize("opt_out", ["stop", "consent", "inactive", "risk_disabled"])
def test_a_never_sent_entry_is_not_sent_after_the_follower_opts_out(api, sim, engine, make_follower, opt_out):
    # given an entry waiting in the queue
    follower = make_follower()
    mapping = _mapping(follower, "M-OPT-1", status=Status.PENDING)
    # when the follower opts out before the worker gets to it
    if opt_out == "stop":
        api.patch(
            "/api/followers/stop-copy-trading",
            {"followerId": follower.account_id, "action": "stop"},
            format="json",
        )
    elif opt_out == "consent":
        Consent.objects.filter(account=follower).update(trade_replication_enabled=False)
    elif opt_out == "inactive":
        Account.objects.filter(pk=follower.pk).update(status=Account.Status.INACTIVE)
    else:
        follower.risk_config.enabled = False
        follower.risk_config.save()
    single = placement.order_mapping_place(mapping_id=mapping.pk)
    # then nothing is sent and the row says why
    assert single.status == Status.SKIPPED
    assert sim.orders(follower.client_id) == []
    assert OrderMapping.objects.get(pk=mapping.pk).reason


def test_a_batch_skips_followers_who_opted_out_and_places_the_rest(sim, engine, make_follower):
    # given two queued entries, one of whose followers was stopped meanwhile
    keen, stopped = make_follower(), make_follower()
    rows = [
        _mapping(keen, "M-OPT-2", status=Status.PENDING),
        _mapping(stopped, "M-OPT-2", status=Status.PENDING),
    ]
    Account.objects.filter(pk=stopped.pk).update(copy_trading_active=False)
    # when
    outcome = placement_batch.order_mappings_place_batch(mapping_ids=[r.pk for r in rows])
    # then
    assert outcome.statuses == {rows[0].pk: Status.ACTIVE, rows[1].pk: Status.SKIPPED}
    assert OrderMapping.objects.get(pk=rows[1].pk).reason == "Copy trading disabled for this follower"
    assert len(sim.orders(keen.client_id)) == 1
    assert sim.orders(stopped.client_id) == []


def test_a_retry_for_an_opted_out_follower_is_reconciled_never_resent(sim, engine, make_follower):
    # given an entry whose first send may have reached the broker (a 5xx after acceptance): it is there
    follower = make_follower()
    mapping = _mapping(follower, "M-OPT-3", status=Status.PENDING, attempts=1, reason="Retrying: HTTP 500")
    sim.place_as_user(
        follower.client_id, exchange="NSE", symbol="SBIN-EQ", side="BUY", quantity=10, tag=mapping.order_tag
    )
    Account.objects.filter(pk=follower.pk).update(copy_trading_active=False)
    # when its retry comes up
    assert placement.order_mapping_place(mapping_id=mapping.pk).status == Status.UNKNOWN
    outcome = reconcile.order_mapping_reconcile(mapping_id=mapping.pk)
    # then the order already at the broker is tracked, and no second one was sent
    assert outcome.status in (Status.ACTIVE, Status.COMPLETED)
    assert len(sim.orders(follower.client_id)) == 1


def test_an_entry_too_old_to_send_fails_without_being_sent(sim, engine, make_follower, settings):
    # given an entry whose task was lost while the workers were down
    settings.REPLICATION_ENTRY_MAX_AGE = 60
    follower = make_follower()
    mapping = _mapping(follower, "M-OLD-1", status=Status.PENDING)
    OrderMapping.objects.filter(pk=mapping.pk).update(created_at=timezone.now() - timedelta(seconds=120))
    # when the sweeper finally re-enqueues it
    outcome = placement.order_mapping_place(mapping_id=mapping.pk)
    # then
    assert outcome.status == Status.FAILED
    assert OrderMapping.objects.get(pk=mapping.pk).reason.startswith("Expired before placement")
    assert sim.orders(follower.client_id) == []


def test_the_attempt_cap_confirms_by_tag_instead_of_failing_an_order_that_landed(
    sim, engine, make_follower, settings
):
    # given an entry at its last attempt whose earlier send did reach the broker
    settings.REPLICATION_MAX_ATTEMPTS = 2
    follower = make_follower()
    mapping = _mapping(follower, "M-CAP-1", status=Status.PENDING, attempts=2, reason="Retrying: HTTP 500")
    sim.place_as_user(
        follower.client_id, exchange="NSE", symbol="SBIN-EQ", side="BUY", quantity=10, tag=mapping.order_tag
    )
    # when
    assert placement.order_mapping_place(mapping_id=mapping.pk).status == Status.UNKNOWN
    reconcile.order_mapping_reconcile(mapping_id=mapping.pk)
    # then it is tracked, not FAILED, and was never sent again
    row = OrderMapping.objects.get(pk=mapping.pk)
    assert row.status in (Status.ACTIVE, Status.COMPLETED)
    assert row.follower_order_id == sim.orders(follower.client_id)[0]["orderId"]
    assert len(sim.orders(follower.client_id)) == 1


def test_one_unreadable_credential_fails_only_its_own_follower(api, sim, worker, make_follower):
    # given four followers, one of whose stored token cannot be decrypted
    good = [make_follower() for _ in range(3)]
    bad = make_follower()
    _copy_ciphertext(source=good[0], target=bad)
    # when
    body = api.post("/api/trades/replicate", {"trade": trade("M-POISON-1")}, format="json").json()
    # then the others are placed and the bad one is skipped with a reason
    assert wait_for(lambda: settled("M-POISON-1"), timeout=15)
    results = {r["follower_id"]: r for r in body["results"]}
    assert results[bad.account_id]["status"] == "SKIPPED"
    assert "cannot be decrypted" in results[bad.account_id]["reason"]
    assert all(len(sim.orders(f.client_id)) == 1 for f in good)
    assert sim.orders(bad.client_id) == []


def test_a_batch_with_an_unreadable_credential_still_places_the_others(sim, engine, make_follower):
    # given a batch in which one credential became unreadable after the fan-out
    followers = [make_follower() for _ in range(4)]
    ids = [_mapping(f, "M-POISON-2", status=Status.PENDING).pk for f in followers]
    _copy_ciphertext(source=followers[0], target=followers[2])
    # when
    outcome = placement_batch.order_mappings_place_batch(mapping_ids=ids)
    # then
    assert [outcome.statuses[pk] for pk in ids] == [
        Status.ACTIVE,
        Status.ACTIVE,
        Status.FAILED,
        Status.ACTIVE,
    ]
    assert "cannot be decrypted" in OrderMapping.objects.get(pk=ids[2]).reason
    assert [len(sim.orders(f.client_id)) for f in followers] == [1, 1, 0, 1]


def test_an_unpriced_market_order_is_not_waved_through_an_order_value_limit(api, sim, worker, make_follower):
    # given a follower with a value limit and a market trade sent without a price
    limited, free = make_follower(max_order_value=1000), make_follower()
    # when
    body = api.post(
        "/api/trades/replicate", {"trade": trade("M-MKT-1", order_type="MARKET")}, format="json"
    ).json()
    # then
    results = {r["follower_id"]: r for r in body["results"]}
    assert results[limited.account_id]["status"] == "SKIPPED"
    assert (
        results[limited.account_id]["reason"]
        == "Order value could not be checked: no price given for the order"
    )
    assert sim.orders(limited.client_id) == []
    assert wait_for(lambda: len(sim.orders(free.client_id)) == 1, timeout=10)


def test_replicate_with_an_exit_or_cancel_event_type_never_opens_positions(api, sim, worker, make_follower):
    # given a placed trade
    follower = make_follower()
    api.post("/api/trades/replicate", {"trade": trade("M-EVT-1")}, format="json")
    assert wait_for(lambda: settled("M-EVT-1"), timeout=15)
    # when the seed's eventType says EXIT (the master closed the trade)
    body = api.post(
        "/api/trades/replicate", {"trade": trade("M-EVT-1"), "eventType": "EXIT"}, format="json"
    ).json()
    # then it is an exit: the filled BUY is squared off, nothing new is bought
    assert body["message"] == "Exit order processed successfully"
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 2, timeout=15)
    assert sorted(o["side"] for o in sim.orders(follower.client_id)) == ["BUY", "SELL"]
    # and MODIFY through replicate is refused with the field named
    answer = api.post(
        "/api/trades/replicate", {"trade": trade("M-EVT-1"), "eventType": "MODIFY"}, format="json"
    )
    assert answer.status_code == 400
    assert "eventType" in answer.json()["message"]


def test_an_acknowledgement_wins_over_a_failed_not_placed(sim, engine, make_follower):
    # given a row a reconcile marked FAILED "not placed" while its send was stalled
    follower = make_follower()
    mapping = _mapping(follower, "M-LATE-1", status=Status.SUBMITTING, attempts=1)
    OrderMapping.objects.filter(pk=mapping.pk).update(status=Status.FAILED, reason="Order not placed: ...")
    # when the stalled send's acknowledgement finally arrives
    from broker.types import OrderAck

    mapping.refresh_from_db()
    placement._record_ack(mapping, OrderAck(order_id="261121000000999"))
    # then the order the broker holds is tracked
    row = OrderMapping.objects.get(pk=mapping.pk)
    assert (row.status, row.follower_order_id) == (Status.ACTIVE, "261121000000999")


def test_a_reconcile_that_meets_an_expired_session_marks_it_and_keeps_the_row_unknown(
    sim, engine, make_follower
):
    # given an order of unknown outcome, and the follower's session expired at the broker
    follower = make_follower()
    mapping = _mapping(follower, "M-EXP-1", status=Status.UNKNOWN, attempts=1, submitted_at=timezone.now())
    sim.expire_sessions(follower.client_id)
    # when
    outcome = reconcile.order_mapping_reconcile(mapping_id=mapping.pk)
    # then nothing is decided without the book, and the admin sees the session needs a login
    assert outcome.status == Status.UNKNOWN
    assert (
        BrokerCredential.objects.get(account=follower).session_status
        == BrokerCredential.SessionStatus.EXPIRED
    )


def test_an_exit_run_again_covers_an_entry_placed_after_it_was_given_up(api, sim, worker, make_follower):
    # given an entry given up as "not placed" and exited (nothing to do then)
    follower = make_follower()
    mapping = _mapping(follower, "M-LATE-2", status=Status.FAILED, attempts=1, reason="Order not placed: ...")
    first = api.post("/api/trades/exit", {"masterOrderId": "M-LATE-2"}, format="json").json()
    assert first["results"][0]["status"] == "SKIPPED"
    # when the stalled send's acknowledgement arrives after all: the order is at the broker and filled
    order = sim.place_as_user(
        follower.client_id, exchange="NSE", symbol="SBIN-EQ", side="BUY", quantity=10, tag=mapping.order_tag
    )
    from broker.types import OrderAck

    mapping.refresh_from_db()
    placement._record_ack(mapping, OrderAck(order_id=order["orderId"]))
    # and the exit is asked again
    api.post("/api/trades/exit", {"masterOrderId": "M-LATE-2"}, format="json")
    # then the position is squared off, once
    assert wait_for(lambda: len(sim.orders(follower.client_id)) == 2, timeout=15)
    assert sorted((o["side"], o["quantity"]) for o in sim.orders(follower.client_id)) == [
        ("BUY", 10),
        ("SELL", 10),
    ]

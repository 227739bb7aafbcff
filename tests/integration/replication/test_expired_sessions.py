"""No broker call for a follower whose session is known dead (defects 5 and 10): the loss rules name the
session and record the expiry, and status sync, risk snapshots and reconciles leave the account alone until
it is renewed (counted at the simulator)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import BrokerCredential
from replication import dispatch
from replication.models import OrderMapping
from replication.services.risk_snapshot import follower_risk_snapshot_refresh, followers_for_risk_snapshot
from replication.services.sweeper import follower_orders_sync, followers_to_sync
from replication.tasks import order_status_sync_task
from tests.factories.replication import OrderMappingFactory
from tests.integration.replication.conftest import trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


def _calls(sim, follower) -> list[dict]:
    return [r for r in sim.requests_log() if r.get("userId") == follower.client_id]


def _expire(follower) -> None:
    BrokerCredential.objects.filter(account=follower).update(
        session_status=BrokerCredential.SessionStatus.EXPIRED, updated_at=timezone.now()
    )


def test_a_session_expired_at_the_broker_is_named_by_the_loss_rule_and_recorded(
    api, sim, worker, make_follower
):
    # given the default daily-loss rule (5% of capital) and a follower whose session Alice Blue expired
    follower = make_follower()
    sim.expire_sessions(follower.client_id)
    # when a trade is replicated
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then the reason names the session (not "positions unavailable") and the expiry is recorded
    (result,) = body["results"]
    assert (result["status"], result["reason"]) == ("SKIPPED", "Broker session expired for this follower")
    credential = BrokerCredential.objects.get(account=follower)
    assert credential.session_status == BrokerCredential.SessionStatus.EXPIRED
    # and the next replicate does not call the broker with the dead session
    before = len(_calls(sim, follower))
    again = api.post("/api/trades/replicate", {"trade": trade("M-TEST-002")}, format="json").json()
    assert again["results"][0]["reason"] == "Broker session expired for this follower"
    assert len(_calls(sim, follower)) == before


def test_status_sync_skips_a_follower_whose_session_expired(api, sim, worker, make_follower, caplog):
    # given an open follower order, then the session expires and the sync notices it once
    follower = make_follower()
    body = api.post(
        "/api/trades/replicate", {"trade": trade(order_type="LIMIT", price="1")}, format="json"
    ).json()
    assert body["results"][0]["status"] == "SUCCESS", body
    sim.expire_sessions(follower.client_id)
    with caplog.at_level(logging.WARNING):
        assert follower_orders_sync(follower_pk=follower.pk) == 0
    assert BrokerCredential.objects.get(account=follower).session_status == "EXPIRED"
    before = len(_calls(sim, follower))
    # when the beat's status sync runs many times
    for _tick in range(5):
        order_status_sync_task.delay()
    # then the follower is not synced and its order book is not called again
    assert follower.pk not in followers_to_sync()
    assert follower.pk not in followers_for_risk_snapshot()
    assert follower_risk_snapshot_refresh(follower_pk=follower.pk) is None
    wait_for(lambda: False, timeout=1.0)
    assert len(_calls(sim, follower)) == before
    # and the expiry was logged as a warning once
    expired = [
        r for r in caplog.records if "expired" in r.getMessage().lower() and r.levelno == logging.WARNING
    ]
    assert len(expired) == 1, [r.getMessage() for r in expired]


def test_a_reconcile_waits_for_a_new_session_without_calling(sim, worker, make_follower, settings):
    # given an UNKNOWN mapping of a follower whose session is known expired
    settings.REPLICATION_RECONCILE_GRACE = 0.5
    follower = make_follower()
    _expire(follower)
    mapping = OrderMappingFactory(
        follower=follower,
        status=Status.UNKNOWN,
        attempts=1,
        submitted_at=timezone.now() - timedelta(seconds=5),
    )
    # when its reconcile runs
    dispatch.reconcile_enqueue(mapping.pk)
    # then it stays UNKNOWN, says why, and nothing was called
    assert wait_for(lambda: "session" in OrderMapping.objects.get(pk=mapping.pk).reason)
    mapping.refresh_from_db()
    assert mapping.status == Status.UNKNOWN
    assert _calls(sim, follower) == []
    # and once a new session is stored, the reconcile resolves it (confirmed absent: sent again)
    BrokerCredential.objects.filter(account=follower).update(
        session_status=BrokerCredential.SessionStatus.VALID
    )
    dispatch.reconcile_enqueue(mapping.pk)
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.ACTIVE)

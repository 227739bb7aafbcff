"""An error nobody planned for settles its row with a reason, or retries a bounded number of times; it never
loops (defect 11): bad data, an unusable stored session, a task that keeps crashing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import BrokerCredential, MasterSettings
from replication import dispatch
from replication.models import OrderMapping
from replication.services.sweeper import replication_sweep
from tests.factories.replication import OrderMappingFactory
from tests.integration.replication.conftest import settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = OrderMapping.Status


def _placements(sim) -> list[dict]:
    return sim.requests_log(path="placeorder")


@pytest.mark.parametrize("field", ["product_type", "order_type", "side"])
def test_a_row_that_cannot_become_an_order_fails_once_with_the_reason(sim, worker, make_follower, field):
    # given a PENDING mapping whose stored data Alice Blue does not take (an edited or older row)
    follower = make_follower()
    mapping = OrderMappingFactory(follower=follower, **{field: "BO"})
    # when its placement runs on the worker
    dispatch.placement_enqueue(mapping.pk)
    # then it ends FAILED with the reason, once, and nothing was sent
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.FAILED)
    mapping.refresh_from_db()
    assert mapping.reason.startswith("Invalid order data, not sent: ")
    assert mapping.reason_code == OrderMapping.ReasonCode.INTERNAL_ERROR
    assert mapping.attempts == 0
    assert _placements(sim) == []


def test_an_unknown_row_that_cannot_become_an_order_is_not_sent_again(sim, worker, make_follower, settings):
    # given an UNKNOWN mapping with bad data, sent long enough ago to be confirmed absent
    settings.REPLICATION_RECONCILE_GRACE = 0.5
    follower = make_follower()
    mapping = OrderMappingFactory(
        follower=follower,
        product_type="BO",
        status=Status.UNKNOWN,
        attempts=1,
        submitted_at=timezone.now() - timedelta(seconds=5),
    )
    # when the reconcile runs
    dispatch.reconcile_enqueue(mapping.pk)
    # then it is FAILED "not placed", not resent, and a later sweep leaves it alone
    assert wait_for(lambda: OrderMapping.objects.get(pk=mapping.pk).status == Status.FAILED)
    mapping.refresh_from_db()
    assert mapping.reason.startswith(f"Order not placed: tag {mapping.order_tag} not in the order book")
    assert "Invalid order data" in mapping.reason
    assert replication_sweep() == {"pending": 0, "stuck": 0, "unknown": 0, "actions": 0}
    assert _placements(sim) == []


def test_a_stored_session_http_cannot_carry_fails_the_order_and_marks_the_session(
    api, sim, worker, make_follower, settings
):
    # given a follower whose stored token has characters no HTTP header can carry (stored before tokens were
    # validated), a healthy follower, and no loss rule (so the first broker call is the order itself)
    MasterSettings.objects.update_or_create(pk=1, defaults={"max_daily_loss_percentage": 0})
    broken = make_follower()
    healthy = make_follower()
    credential = BrokerCredential.objects.get(account=broken)
    credential.access_token = "tökén€"
    credential.save()
    # when a trade is replicated
    body = api.post("/api/trades/replicate", {"trade": trade()}, format="json").json()
    # then the broken follower FAILED with a session reason (not UNKNOWN forever), the healthy one is placed
    assert wait_for(lambda: settled("M-TEST-001"))
    results = {r["follower_id"]: r for r in body["results"]}
    assert results[healthy.account_id]["status"] == "SUCCESS", body
    mapping = OrderMapping.objects.get(follower=broken)
    assert mapping.status == Status.FAILED
    assert mapping.reason_code == OrderMapping.ReasonCode.SESSION_EXPIRED
    assert "cannot be sent in an HTTP header" in mapping.reason
    credential.refresh_from_db()
    assert credential.session_status == BrokerCredential.SessionStatus.EXPIRED
    # and the next trade skips it without a broker call
    second = api.post("/api/trades/replicate", {"trade": trade("M-TEST-002")}, format="json").json()
    results = {r["follower_id"]: r for r in second["results"]}
    assert (results[broken.account_id]["status"], results[broken.account_id]["reason"]) == (
        "SKIPPED",
        "Broker session expired for this follower",
    )
    assert [r for r in sim.requests_log() if r.get("userId") == broken.client_id] == []

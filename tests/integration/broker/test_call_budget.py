"""The per-account budget of non-order calls: over budget, a read is refused without being sent; order calls
are never counted; the budget is shared through its storage (Redis in CI), and /api/health shows its use."""

from __future__ import annotations

import os

import pytest

from broker.budget import CallBudget
from broker.exceptions import BrokerRateLimitedError
from broker.openapi import OpenApiClient
from broker.types import OrderRequest, Side

pytestmark = pytest.mark.integration

STORAGES = ["memory://"] + ([os.environ["TEST_REDIS_URL"]] if os.environ.get("TEST_REDIS_URL") else [])
APP_SECRET = "sim-app-secret"


@pytest.fixture(params=STORAGES)
def budget(request):
    budget = CallBudget(rate="3 per 15 minutes", storage_uri=request.param)
    budget.reset_all()
    yield budget
    budget.reset_all()


def _client(sim, user_id: str, budget: CallBudget) -> OpenApiClient:
    sim.create_account(user_id)
    anonymous = OpenApiClient(base_url=sim.base_url, timeout=(1.0, 2.0), budget=budget)
    session = anonymous.session_from_auth_code(
        user_id=user_id, auth_code=sim.login(user_id), api_secret=APP_SECRET
    )
    return anonymous.with_session(session)


def test_reads_over_budget_are_refused_without_being_sent(sim, budget):
    # given a budget of 3 non-order calls, one spent on the session exchange
    client = _client(sim, "BUDGET1", budget)
    before = len(sim.requests_log())
    # when 3 more reads are made
    client.order_book()
    client.positions()
    with pytest.raises(BrokerRateLimitedError) as refused:
        client.profile()
    # then the third was never sent, and says when the window frees up
    assert refused.value.code == "budget_exhausted"
    assert 0 < refused.value.retry_after <= 15 * 60
    assert len(sim.requests_log()) == before + 2
    assert budget.use("BUDGET1").remaining == 0


def test_order_calls_are_never_counted_or_refused(sim, budget):
    # given an exhausted budget
    client = _client(sim, "BUDGET2", budget)
    client.order_book()
    client.positions()
    # when an order is placed
    ack = client.place_order(
        OrderRequest(
            exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=Side.BUY, quantity=1, tag="b-1"
        )
    )
    # then it went through
    assert ack.order_id
    assert budget.use("BUDGET2").remaining == 0


def test_the_budget_is_per_account(sim, budget):
    # given one account over budget
    first = _client(sim, "BUDGET3", budget)
    first.order_book()
    first.order_book()
    # when another account reads
    second = _client(sim, "BUDGET4", budget)
    # then it has its own budget
    assert second.order_book() == []


@pytest.mark.django_db
def test_health_shows_the_budget_without_naming_accounts(client, settings):
    # given
    from broker.conf import call_budget
    from tests.factories.accounts import FollowerFactory

    FollowerFactory(client_id="HEALTH1")
    call_budget().spend("HEALTH1")
    # when
    body = client.get("/api/health").json()
    # then
    report = body["checks"]["aliceCallBudget"]
    assert report["ok"] is True
    assert report["limit"] == "1700 per 15 minute"
    assert report["busiestUsed"] == 1
    assert report["accountsExhausted"] == 0
    assert "HEALTH1" not in str(body)

"""The client side of order updates against the simulator over real HTTP and real websockets:
createWsToken through the transport (budget, failure classes), the OrderNotifyStream, webhooks."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from websockets.asyncio.server import serve

from broker.budget import CallBudget
from broker.client import AliceBlueClient
from broker.exceptions import (
    BrokerAuthError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
    OrderNotifyClosed,
    OrderNotifyNotEnabled,
    OrderNotifyRefused,
)
from broker.legacy import LegacyClient
from broker.openapi import OpenApiClient
from broker.order_notify import OrderNotifyStream, connect_order_notify
from broker.types import ApiFlavor, OrderStatus, OrderType, OrderUpdate, ProductType, Session, Side

pytestmark = pytest.mark.integration

TIMEOUT = (1.0, 2.0)
FLAVORS = [ApiFlavor.OPENAPI, ApiFlavor.LEGACY]
SBIN = {"exchange": "NSE", "symbol": "SBIN-EQ"}
UPDATE_WAIT = 2.0
T = TypeVar("T")


def make_client(sim, user: str, flavor: ApiFlavor = ApiFlavor.OPENAPI, **kwargs: Any) -> AliceBlueClient:
    client_id = sim.create_account(user)["clientId"]
    session = Session(user_id=user, token=sim.issue_session(user), flavor=flavor, client_id=client_id)
    cls = OpenApiClient if flavor is ApiFlavor.OPENAPI else LegacyClient
    return cls(base_url=sim.base_url, session=session, timeout=TIMEOUT, **kwargs)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run an async scenario with an overall limit, so a hang fails instead of blocking the suite."""

    async def limited() -> T:
        return await asyncio.wait_for(scenario(), 30)

    return asyncio.run(limited())


async def off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking control call in a thread, so the stream keeps reading meanwhile."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def next_update(stream: OrderNotifyStream, timeout: float = UPDATE_WAIT) -> OrderUpdate:
    return await asyncio.wait_for(anext(stream), timeout)


async def closed_within(stream: OrderNotifyStream, seconds: float) -> tuple[OrderNotifyClosed, float]:
    started = time.monotonic()
    with pytest.raises(OrderNotifyClosed) as closed:
        await asyncio.wait_for(anext(stream), seconds)
    return closed.value, time.monotonic() - started


# -- createWsToken -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_order_notify_token(sim, account, flavor):
    # given
    client = make_client(sim, account, flavor)

    # when
    first = client.order_notify_token()
    second = client.order_notify_token()

    # then fresh tokens from the flavour's host style, sent with the flavour's header
    assert first
    assert second != first
    logged = sim.requests_log(path="createWsToken")
    expected_path = {
        ApiFlavor.OPENAPI: "/open-api/order-notify/ws/createWsToken",
        ApiFlavor.LEGACY: "/order-notify/ws/createWsToken",
    }[flavor]
    expected_header = "Bearer ***" if flavor is ApiFlavor.OPENAPI else f"Bearer {account} ***"
    assert [(e["method"], e["path"], e["headers"]["Authorization"]) for e in logged] == [
        ("GET", expected_path, expected_header)
    ] * 2


@pytest.mark.parametrize("flavor", FLAVORS)
def test_order_notify_token_is_none_when_the_feed_is_not_enabled(sim, account, flavor):
    # given
    client = make_client(sim, account, flavor)
    sim.set_order_notify_mode("empty", user_id=account)

    # when / then
    assert client.order_notify_token() is None


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_html_page_is_unavailable_not_a_token(sim, account, flavor):
    # given the ant host's SPA page for a path it does not know
    client = make_client(sim, account, flavor)
    sim.set_order_notify_mode("html")

    # when / then
    with pytest.raises(BrokerUnavailableError) as error:
        client.order_notify_token()
    assert error.value.code == "bad_response"
    assert "HTML" in error.value.message


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("expired_mode", ["http401", "json"])
def test_an_expired_session_is_an_auth_error(sim, account, flavor, expired_mode):
    # given
    client = make_client(sim, account, flavor)
    sim.configure(
        openapi_session_expired_mode="ec087" if expired_mode == "json" else "http401",
        legacy_session_expired_mode=expired_mode,
    )
    sim.expire_sessions(account)

    # when / then
    with pytest.raises(BrokerAuthError):
        client.order_notify_token()


def test_the_token_call_spends_the_budget_of_non_order_calls(sim, account):
    # given a budget of 2 non-order calls
    budget = CallBudget(rate="2 per 15 minutes", storage_uri="memory://")
    client = make_client(sim, account, budget=budget)

    # when
    client.order_notify_token()
    client.order_book()
    sent = len(sim.requests_log(user_id=account))
    with pytest.raises(BrokerRateLimitedError) as refused:
        client.order_notify_token()

    # then the third call was never sent
    assert refused.value.code == "budget_exhausted"
    assert len(sim.requests_log(user_id=account)) == sent
    assert budget.use(account).used == 2


def test_a_simulated_rate_limit_on_create_ws_token(sim, account):
    # given the broker's own limit of non-order calls
    client = make_client(sim, account)
    sim.configure(rate_limit=1)

    # when / then
    client.order_notify_token()
    with pytest.raises(BrokerRateLimitedError):
        client.order_notify_token()


@pytest.mark.parametrize(
    ("flavor", "base", "url"),
    [
        (
            ApiFlavor.OPENAPI,
            "https://a3.aliceblueonline.com/open-api/od/v1",
            "wss://a3.aliceblueonline.com/open-api/order-notify/websocket",
        ),
        (
            ApiFlavor.LEGACY,
            "https://ant.aliceblueonline.com/rest/AliceBlueAPIService/api",
            "wss://ant.aliceblueonline.com/order-notify/websocket",
        ),
        (ApiFlavor.OPENAPI, "http://127.0.0.1:9100", "ws://127.0.0.1:9100/open-api/order-notify/websocket"),
    ],
)
def test_order_notify_url(flavor, base, url):
    cls = OpenApiClient if flavor is ApiFlavor.OPENAPI else LegacyClient
    assert cls(base_url=base).order_notify_url() == url


# -- the stream ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_master_order_lifecycle_arrives_as_order_updates(sim, account, flavor):
    client = make_client(sim, account, flavor)

    async def scenario() -> list[OrderUpdate]:
        async with await connect_order_notify(client) as stream:
            order = await off_loop(
                sim.place_as_user,
                account,
                side="SELL",
                quantity=10,
                order_type="LIMIT",
                price="700",
                product="CNC",
                tag="web",
                **SBIN,
            )
            order_id = order["orderId"]
            updates = [await next_update(stream)]
            await off_loop(sim.modify_as_user, order_id, quantity=12, price="701.50")
            updates.append(await next_update(stream))
            await off_loop(sim.fill, order_id, 5)
            updates.append(await next_update(stream))
            await off_loop(sim.fill, order_id)
            updates.append(await next_update(stream))
            other = await off_loop(
                sim.place_as_user,
                account,
                side="BUY",
                quantity=1,
                order_type="SLM",
                trigger_price="900",
                **SBIN,
            )
            updates.append(await next_update(stream))
            await off_loop(sim.cancel, other["orderId"])
            updates.append(await next_update(stream))
            third = await off_loop(
                sim.place_as_user, account, side="BUY", quantity=1, order_type="LIMIT", price="650", **SBIN
            )
            updates.append(await next_update(stream))
            await off_loop(sim.reject, third["orderId"], "RMS: Blocked for the day")
            updates.append(await next_update(stream))
            return updates

    new, replaced, partial, complete, stop, cancelled, _, rejected = run(scenario)

    assert (new.status, new.report_type, new.side, new.product) == (
        OrderStatus.OPEN,
        "New",
        Side.SELL,
        ProductType.CNC,
    )
    assert (new.quantity, new.price, new.order_type, new.tag) == (
        10,
        Decimal("700.00"),
        OrderType.LIMIT,
        "web",
    )
    assert (new.exchange, new.trading_symbol, new.token, new.user_id) == ("NSE", "SBIN-EQ", "3045", account)
    assert (replaced.report_type, replaced.quantity, replaced.price) == ("Replaced", 12, Decimal("701.50"))
    assert (partial.status, partial.filled_quantity, partial.fill_quantity) == (OrderStatus.OPEN, 5, 5)
    assert partial.to_order().pending_quantity == 7
    assert (complete.status, complete.filled_quantity, complete.fill_quantity) == (
        OrderStatus.COMPLETE,
        12,
        7,
    )
    assert complete.average_price == Decimal("701.50")
    assert (stop.status, stop.order_type, stop.trigger_price) == (
        OrderStatus.TRIGGER_PENDING,
        OrderType.SLM,
        Decimal("900.00"),
    )
    assert (cancelled.status, cancelled.cancelled_quantity) == (OrderStatus.CANCELLED, 1)
    assert (rejected.status, rejected.rejection_reason) == (OrderStatus.REJECTED, "RMS: Blocked for the day")
    assert new.event_time is not None


def test_orders_placed_through_the_api_are_streamed_too(sim, account):
    client = make_client(sim, account)
    from broker.types import OrderRequest

    async def scenario() -> tuple[str, list[OrderUpdate]]:
        async with await connect_order_notify(client) as stream:
            request = OrderRequest(
                exchange="NSE", token="3045", trading_symbol="SBIN-EQ", side=Side.BUY, quantity=1, tag="ct-9"
            )
            ack = await off_loop(client.place_order, request)
            return ack.order_id, [await next_update(stream), await next_update(stream)]

    order_id, (new, fill) = run(scenario)

    assert [(u.order_id, u.report_type, u.status, u.tag) for u in (new, fill)] == [
        (order_id, "New", OrderStatus.OPEN, "ct-9"),
        (order_id, "Fill", OrderStatus.COMPLETE, "ct-9"),
    ]


def test_heartbeats_keep_the_stream_open_past_the_idle_limit(sim, account):
    # given a server that closes sockets silent for 1 s
    client = make_client(sim, account)
    sim.configure(order_notify_idle_seconds=1)

    async def scenario() -> tuple[OrderUpdate, list[dict[str, Any]]]:
        async with await connect_order_notify(client, heartbeat_seconds=0.3) as stream:
            await asyncio.sleep(2.5)
            await off_loop(
                sim.place_as_user, account, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN
            )
            return await next_update(stream), await off_loop(sim.streams, account)

    update, sockets = run(scenario)

    assert update.report_type == "New"
    assert sockets[0]["heartbeats"] >= 6


def test_without_heartbeats_the_server_closes_and_the_stream_raises(sim, account):
    # given
    client = make_client(sim, account)
    sim.configure(order_notify_idle_seconds=1)

    async def scenario() -> tuple[OrderNotifyClosed, float]:
        stream = await connect_order_notify(client, heartbeat_seconds=60)
        return await closed_within(stream, 3)

    closed, elapsed = run(scenario)

    assert 0.8 <= elapsed <= 2.5
    assert (closed.close_code, closed.reason, closed.code) == (1000, "No heartbeat for 1 s", "closed")
    assert closed.retryable


@pytest.mark.parametrize(
    ("mode", "close_code", "code"), [("close", 1001, "closed"), ("abort", None, "connection_lost")]
)
def test_a_dropped_stream_raises_promptly(sim, account, mode, close_code, code):
    client = make_client(sim, account)

    async def scenario() -> tuple[OrderNotifyClosed, float]:
        stream = await connect_order_notify(client)
        reading = asyncio.create_task(closed_within(stream, 3))
        await asyncio.sleep(0.1)
        await off_loop(sim.drop_streams, account, mode=mode)
        return await reading

    closed, elapsed = run(scenario)

    assert elapsed < 0.5 + 0.1
    assert (closed.close_code, closed.code) == (close_code, code)


def test_a_silently_dead_connection_is_detected_by_keepalive_pings(sim, account):
    client = make_client(sim, account)

    async def scenario() -> tuple[OrderNotifyClosed, float]:
        stream = await connect_order_notify(client, ping_interval=0.3, ping_timeout=0.3, close_timeout=0.5)
        await off_loop(sim.drop_streams, account, mode="silent", hold_seconds=10)
        return await closed_within(stream, 5)

    closed, elapsed = run(scenario)

    assert elapsed < 2
    assert closed.code == "connection_lost"


def test_a_used_token_is_refused_and_a_fresh_one_works(sim, account):
    client = make_client(sim, account)
    url = client.order_notify_url()

    async def scenario() -> OrderUpdate:
        token = await off_loop(client.order_notify_token)
        async with await OrderNotifyStream.connect(url, token=token, user_id=account):
            with pytest.raises(OrderNotifyRefused, match="Invalid orderToken"):
                await OrderNotifyStream.connect(url, token=token, user_id=account)
        async with await connect_order_notify(client) as again:
            await off_loop(
                sim.place_as_user, account, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN
            )
            return await next_update(again)

    assert run(scenario).report_type == "New"


def test_the_user_id_may_be_the_numeric_client_code_but_not_another_user(sim, account):
    client = make_client(sim, account)
    assert client.session is not None

    async def scenario() -> None:
        async with await connect_order_notify(client, user_id=client.session.client_id) as stream:
            assert stream.user_id == client.session.client_id
        with pytest.raises(OrderNotifyRefused, match="Invalid userId"):
            await connect_order_notify(client, user_id="SOMEONE")

    run(scenario)


def test_an_account_without_the_feed(sim, account):
    client = make_client(sim, account)
    sim.set_order_notify_mode("empty", user_id=account)

    with pytest.raises(OrderNotifyNotEnabled):
        run(lambda: connect_order_notify(client))


def test_connection_failures_raise_instead_of_hanging(sim, account, closed_port):
    client = make_client(sim, account)
    sim.add_fault(endpoint="order-notify/websocket", mode="http500", count=1)

    async def scenario() -> tuple[OrderNotifyClosed, OrderNotifyClosed, OrderNotifyClosed, float]:
        token = await off_loop(client.order_notify_token)
        with pytest.raises(OrderNotifyClosed) as refused:
            await OrderNotifyStream.connect(client.order_notify_url(), token=token, user_id=account)
        with pytest.raises(OrderNotifyClosed) as unreachable:
            await OrderNotifyStream.connect(f"ws://127.0.0.1:{closed_port}/ws", token=token, user_id=account)

        async def never_answers(connection: Any) -> None:
            await asyncio.sleep(10)

        async with serve(never_answers, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            started = time.monotonic()
            with pytest.raises(OrderNotifyClosed) as silent:
                await OrderNotifyStream.connect(
                    f"ws://127.0.0.1:{port}/", token=token, user_id=account, ack_timeout=0.5
                )
            waited = time.monotonic() - started
        return refused.value, unreachable.value, silent.value, waited

    refused, unreachable, silent, waited = run(scenario)

    assert (refused.code, refused.http_status) == ("handshake_refused", 500)
    assert unreachable.code == "connect_failed"
    assert silent.code == "ack_timeout"
    assert 0.4 < waited < 2


def test_every_stream_of_the_account_gets_every_update(sim, account):
    client = make_client(sim, account)

    async def scenario() -> tuple[OrderUpdate, OrderUpdate]:
        async with await connect_order_notify(client) as first, await connect_order_notify(client) as second:
            await off_loop(
                sim.place_as_user, account, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN
            )
            return await next_update(first), await next_update(second)

    first, second = run(scenario)

    assert first == second


def test_closing_the_stream_ends_iteration(sim, account):
    client = make_client(sim, account)

    async def scenario() -> list[OrderUpdate]:
        stream = await connect_order_notify(client)
        seen = []
        await off_loop(sim.place_as_user, account, side="BUY", quantity=1, **SBIN)
        async for update in stream:
            seen.append(update)
            if update.status is OrderStatus.COMPLETE:
                await stream.close()
        assert not stream.is_open
        return seen

    assert [u.report_type for u in run(scenario)] == ["New", "Fill"]


def test_the_token_and_frames_are_never_logged(sim, account, caplog):
    # given every logger at DEBUG, the websockets library's frame logs included
    caplog.set_level(logging.DEBUG)
    client = make_client(sim, account)
    url = client.order_notify_url()

    async def scenario() -> str:
        token = await off_loop(client.order_notify_token)
        stream = await OrderNotifyStream.connect(url, token=token, user_id=account, heartbeat_seconds=0.1)
        await off_loop(
            sim.place_as_user, account, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN
        )
        await next_update(stream)
        await asyncio.sleep(0.3)
        await off_loop(sim.drop_streams, account)
        with pytest.raises(OrderNotifyClosed):
            await next_update(stream)
        return token

    token = run(scenario)

    assert caplog.records
    session_token = client.session.token if client.session else ""
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert token not in text, record.name
        assert session_token not in text, record.name
        assert "norenordno" not in text, record.name


def test_frame_latency_over_fifty_orders(sim, account):
    """Order placed through the control API -> its frame yielded as an OrderUpdate (median and p95)."""
    client = make_client(sim, account)

    async def scenario() -> list[float]:
        latencies = []
        async with await connect_order_notify(client) as stream:
            for _ in range(50):
                started = time.perf_counter()
                placing = asyncio.create_task(
                    off_loop(
                        sim.place_as_user,
                        account,
                        side="BUY",
                        quantity=1,
                        order_type="LIMIT",
                        price="700",
                        **SBIN,
                    )
                )
                update = await next_update(stream)
                latencies.append((time.perf_counter() - started) * 1000)
                order = await placing
                assert update.order_id == order["orderId"]
        return latencies

    latencies = sorted(run(scenario))
    median = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"\norder-notify frame latency over {len(latencies)} orders: median {median:.1f} ms, p95 {p95:.1f} ms"
    )

    assert median < 50
    assert p95 < 200


# -- webhooks -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_webhook_subscribe_delivers_and_unsubscribe_stops(sim, account, flavor, webhook_receiver):
    # given
    client = make_client(sim, account, flavor)

    # when
    client.webhook_subscribe(webhook_receiver.url())
    order = sim.place_as_user(account, side="BUY", quantity=1, order_type="LIMIT", price="700", **SBIN)
    (body,) = webhook_receiver.wait_for(1)
    client.webhook_unsubscribe(webhook_receiver.url())
    sim.cancel(order["orderId"])
    time.sleep(0.3)

    # then
    from broker.parsing_order_notify import parse_order_update

    update = parse_order_update(body)
    assert update is not None
    assert (update.order_id, update.report_type, update.status) == (order["orderId"], "New", OrderStatus.OPEN)
    assert "t" not in body
    assert len(webhook_receiver.bodies()) == 1
    logged = sim.requests_log(path="/webhook/")
    expected_header = "Bearer ***" if flavor is ApiFlavor.OPENAPI else f"Bearer {account} ***"
    body = {"callbackUrl": webhook_receiver.url()}
    assert [(e["path"], e["headers"]["Authorization"], e["body"]) for e in logged] == [
        ("/rest/AliceBlueAPIService/api/webhook/subscribe", expected_header, body),
        ("/rest/AliceBlueAPIService/api/webhook/unsubscribe", expected_header, body),
    ]


def test_webhook_refusals(sim, account):
    # given
    client = make_client(sim, account)
    for n in range(5):
        client.webhook_subscribe(f"https://hooks.example/{n}")

    # when / then
    with pytest.raises(BrokerRejectedError, match="Maximum of 5"):
        client.webhook_subscribe("https://hooks.example/5")
    with pytest.raises(BrokerRejectedError, match="not subscribed"):
        client.webhook_unsubscribe("https://hooks.example/6")
    sim.expire_sessions(account)
    with pytest.raises(BrokerAuthError):
        client.webhook_unsubscribe("https://hooks.example/0")

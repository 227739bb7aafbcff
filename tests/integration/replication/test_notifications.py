"""Notifications end to end: events detected by the real services and beat tasks, delivered by a real Celery
worker to a real SMTP server (aiosmtpd) and a stand-in for Telegram's Bot API, both started here; each event
once, rate-limited, retried while a channel is down, and never carrying a credential."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from celery import current_app
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.dispatch import NOTIFICATION_SEND_TASK
from accounts.models import (
    Account,
    AuditEvent,
    BrokerCredential,
    Consent,
    MasterSettings,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
)
from accounts.services.notifications import (
    Notice,
    notification_deliver,
    notification_raise,
    notification_rate_reset,
)
from replication import dispatch
from replication.models import CaptureStatus, OrderMapping
from replication.services.control import copying_resume, copying_stop
from tests.factories.accounts import MasterFactory
from tests.factories.replication import OrderMappingFactory
from tests.integration.notify_servers import SmtpServer, TelegramStandIn
from tests.integration.replication.conftest import purge_broker, settled, trade, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BOT_TOKEN = "123456789:AAE-test-bot-token-never-shown"
OPERATOR_CHAT = "-1001234567890"
OPERATOR_MAIL = "ops@example.com"
Event = NotificationEvent
Delivery = NotificationDelivery.Status


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    server = TelegramStandIn(token=BOT_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def notify(engine, smtp, telegram):
    """Settings that send through the two servers, with quick retries."""
    engine.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    engine.TELEGRAM_API_BASE_URL = telegram.base_url
    engine.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    engine.EMAIL_HOST, engine.EMAIL_PORT = "127.0.0.1", smtp.port
    engine.EMAIL_HOST_USER, engine.EMAIL_HOST_PASSWORD = "", ""
    engine.EMAIL_USE_TLS = engine.EMAIL_USE_SSL = False
    engine.EMAIL_TIMEOUT = 3.0
    engine.NOTIFY_RATE_LIMIT = "20 per minute"
    engine.NOTIFY_RETRY_BACKOFF = 0.2
    engine.NOTIFY_RETRY_BACKOFF_MAX = 0.5
    engine.NOTIFY_MAX_ATTEMPTS = 4
    engine.NOTIFY_CAPTURE_WINDOW = ""
    return engine


def _channel(kind: str, target: str, events, account: Account | None = None, **fields) -> NotificationChannel:
    channel = NotificationChannel.objects.create(
        name=f"{kind.lower()} {target}",
        kind=kind,
        target=target,
        account=account,
        events=[str(e) for e in events],
        **fields,
    )
    notification_rate_reset(channel.pk)
    return channel


def _operator_channels(*events) -> tuple[NotificationChannel, NotificationChannel]:
    return (
        _channel(NotificationChannel.Kind.TELEGRAM, OPERATOR_CHAT, events),
        _channel(NotificationChannel.Kind.EMAIL, OPERATOR_MAIL, events),
    )


def _run(name: str, times: int = 2) -> None:
    """Run a beat task through the broker and the worker, `times` times, one after the other."""
    for _ in range(times):
        before = NotificationDelivery.objects.count()
        current_app.send_task(name)
        time.sleep(0.5)
        wait_for(lambda before=before: NotificationDelivery.objects.count() >= before, timeout=5)


def _all_final() -> bool:
    return not NotificationDelivery.objects.filter(status__in=(Delivery.QUEUED, Delivery.SENDING)).exists()


def _secrets_of(*followers: Account) -> list[str]:
    secrets = [BOT_TOKEN, BOT_TOKEN.split(":", 1)[1]]
    for follower in followers:
        credential = BrokerCredential.objects.get(account=follower)
        secrets += [s for s in (credential.api_key, credential.api_secret, credential.session_token) if s]
        consent = Consent.objects.filter(account=follower).first()
        if consent is not None and consent.consent_token:
            secrets.append(consent.consent_token)
    return secrets


def _assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    stored = [f"{d.subject} {d.body} {d.last_error}" for d in NotificationDelivery.objects.all()]
    for text in [*texts, *stored]:
        for secret in secrets:
            assert secret not in text


# ---------------------------------------------------------------- kill switch (service hook)
def test_the_kill_switch_on_and_off_reaches_telegram_and_email_once_each(notify, worker, smtp, telegram):
    # given an operator's Telegram chat and mailbox that want the kill switch
    _operator_channels(Event.KILL_SWITCH)
    # when the kill switch is turned on twice (the second is a no-op) and off once
    copying_stop(actor="admin:ops", reason="broker outage")
    copying_stop(actor="admin:ops", reason="again")
    copying_resume(actor="admin:ops")
    # then each toggle arrives once at each
    assert wait_for(lambda: len(telegram.sent) == 2 and len(smtp.mails) == 2, timeout=15)
    time.sleep(0.5)
    texts = sorted(telegram.to(OPERATOR_CHAT), key=lambda text: "ON" not in text.splitlines()[0])
    assert [t.splitlines()[0] for t in texts] == [
        "Kill switch ON: copying stopped",
        "Kill switch OFF: copying resumed",
    ]
    assert "by admin:ops: broker outage" in texts[0]
    assert " IST " in texts[0]
    assert sorted(m.subject for m in smtp.to(OPERATOR_MAIL)) == [
        "[copytrade] Kill switch OFF: copying resumed",
        "[copytrade] Kill switch ON: copying stopped",
    ]
    assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {Delivery.SENT}
    _assert_no_secret(texts + [m.body for m in smtp.mails], _secrets_of())


# ---------------------------------------------------------------- orders FAILED / UNKNOWN (beat scan)
def test_failed_and_unknown_orders_are_told_once_to_the_operator_and_only_to_their_own_follower(
    api, sim, notify, worker, make_follower, smtp, telegram
):
    # given two followers, each with its own Telegram chat, and the operator's mailbox
    expired, lost = make_follower(), make_follower()
    _channel("TELEGRAM", "1001", [Event.ORDER_FAILED, Event.ORDER_UNKNOWN], account=expired)
    _channel("TELEGRAM", "1002", [Event.ORDER_FAILED, Event.ORDER_UNKNOWN], account=lost)
    _channel("EMAIL", OPERATOR_MAIL, [Event.ORDER_FAILED, Event.ORDER_UNKNOWN])
    # and an entry that FAILED at the broker for the first (its session refused when placing)
    sim.add_fault(user_id=expired.client_id, endpoint="placeorder", mode="session_expired")
    response = api.post(
        "/api/trades/copy-selected",
        {"trade": trade("M-FAIL-1"), "follower_ids": [expired.account_id]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert wait_for(lambda: settled("M-FAIL-1"), timeout=15)
    failed = OrderMapping.objects.get(master_order_id="M-FAIL-1", follower=expired)
    assert failed.status == OrderMapping.Status.FAILED
    # and an order of the second whose outcome has been UNKNOWN for two minutes
    sent_at = timezone.now() - timedelta(minutes=2)
    OrderMappingFactory(
        follower=lost,
        master_order_id="M-LOST-1",
        trade_event__master_order_id="M-LOST-1",
        status=OrderMapping.Status.UNKNOWN,
        submitted_at=sent_at,
        reason="No answer from Alice Blue",
    )
    # when the beat scan runs twice
    _run(dispatch.NOTIFY_SCAN)
    assert wait_for(_all_final, timeout=15)
    # then each follower is told once, about its own order only
    assert wait_for(lambda: len(telegram.sent) == 2 and len(smtp.mails) == 2, timeout=10)
    (to_expired,), (to_lost,) = telegram.to("1001"), telegram.to("1002")
    assert to_expired.startswith(f"{expired.account_id}: order FAILED (BUY 100 SBIN")
    assert lost.account_id not in to_expired
    assert to_lost.startswith(f"{lost.account_id}: order outcome UNKNOWN (BUY 100 SBIN")
    assert expired.account_id not in to_lost
    # and the operator once about each
    assert sorted(m.subject.split(":")[0] for m in smtp.to(OPERATOR_MAIL)) == sorted(
        [f"[copytrade] {expired.account_id}", f"[copytrade] {lost.account_id}"]
    )
    _assert_no_secret(
        telegram.to("1001") + telegram.to("1002") + [m.body for m in smtp.mails], _secrets_of(expired, lost)
    )


# ---------------------------------------------------------------- readiness before the open (beat)
def test_followers_not_ready_are_listed_to_the_operator_and_each_told_about_itself(
    notify, worker, make_follower, smtp, telegram
):
    # given one ready follower, one without consent and one whose session expired
    ready = make_follower()
    unconsented = make_follower(consent=False)
    expired = make_follower()
    BrokerCredential.objects.filter(account=expired).update(
        session_status=BrokerCredential.SessionStatus.EXPIRED
    )
    MasterFactory(account_id="MASTER-1")
    _channel("TELEGRAM", OPERATOR_CHAT, [Event.FOLLOWER_NOT_READY])
    for follower, address in (
        (ready, "ready@example.com"),
        (unconsented, "nc@example.com"),
        (expired, "ex@example.com"),
    ):
        _channel("EMAIL", address, [Event.FOLLOWER_NOT_READY], account=follower)
    # when the pre-open report runs twice
    _run(dispatch.NOTIFY_READINESS)
    assert wait_for(lambda: len(telegram.sent) == 1 and len(smtp.mails) == 2, timeout=15)
    time.sleep(0.5)
    # then the operator gets one list naming the two not ready (and the master without a session)
    (listing,) = telegram.to(OPERATOR_CHAT)
    assert listing.splitlines()[0].startswith("2 of 3 followers not ready for the open")
    assert f"- {unconsented.account_id}: no consent" in listing
    assert f"- {expired.account_id}: session expired today: log in with Alice Blue" in listing
    assert "- Master: session missing today" in listing
    assert ready.account_id not in listing
    # and each not-ready follower one message about itself only; the ready one nothing
    (mine,) = smtp.to("nc@example.com")
    assert unconsented.account_id in mine.subject
    assert "no consent" in mine.body
    assert expired.account_id not in mine.body
    assert len(smtp.to("ex@example.com")) == 1
    assert smtp.to("ready@example.com") == []
    _assert_no_secret([listing] + [m.body for m in smtp.mails], _secrets_of(ready, unconsented, expired))


# ---------------------------------------------------------------- capture down (beat scan)
def test_capture_down_longer_than_the_limit_is_told_once_and_its_end_too(notify, worker, telegram):
    # given a master whose order book has not been read, and a limit of one second
    notify.NOTIFY_CAPTURE_DOWN_SECONDS = 1.0
    master = MasterFactory(account_id="MASTER-1")
    _channel("TELEGRAM", OPERATOR_CHAT, [Event.CAPTURE_DOWN])
    _run(dispatch.NOTIFY_SCAN, times=1)
    assert telegram.sent == []  # down, but not yet for long
    time.sleep(1.2)
    # when the scan runs on, three times
    _run(dispatch.NOTIFY_SCAN, times=3)
    # then capture down is told once
    assert wait_for(lambda: len(telegram.sent) == 1, timeout=10)
    assert telegram.sent[0]["text"].startswith("Master capture down for 1 min")
    # when the poll reads the book again and the scan runs twice
    CaptureStatus.objects.create(account=master, kind=CaptureStatus.Kind.POLL, last_run_at=timezone.now())
    _run(dispatch.NOTIFY_SCAN)
    # then its end is told once too
    assert wait_for(lambda: len(telegram.sent) == 2, timeout=10)
    time.sleep(0.5)
    assert [m["text"].splitlines()[0] for m in telegram.sent] == [
        "Master capture down for 1 min",
        "Master capture working again",
    ]


# ---------------------------------------------------------------- loss limit, auto-liquidation
def test_loss_limit_and_auto_liquidation_are_told_once_to_the_follower_and_the_operator(
    sim, notify, worker, make_follower, smtp, telegram
):
    # given a follower that lost 4,000 today (bought 100 at 800, sold at 760) against a 3,000 limit
    sim.set_price("NSE", "SBIN", "800")
    follower = make_follower(max_daily_loss=Decimal("3000"))
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="BUY", quantity=100)
    sim.set_price("NSE", "SBIN", "760")
    sim.place_as_user(follower.client_id, exchange="NSE", symbol="SBIN", side="SELL", quantity=100)
    MasterSettings.objects.update_or_create(pk=1, defaults={"auto_liquidate_on_loss": True})
    events = [Event.LOSS_LIMIT, Event.AUTO_LIQUIDATED]
    _channel("TELEGRAM", "2001", events, account=follower)
    _channel("EMAIL", OPERATOR_MAIL, events)
    # when its risk snapshot is refreshed twice by the worker
    for _ in range(2):
        current_app.send_task(dispatch.FOLLOWER_RISK_SNAPSHOT, args=[follower.pk])
        time.sleep(0.7)
    # then the follower and the operator hear of each once
    assert wait_for(lambda: len(telegram.sent) == 2 and len(smtp.mails) == 2, timeout=15)
    time.sleep(0.5)
    assert sorted(t.splitlines()[0] for t in telegram.to("2001")) == [
        f"{follower.account_id}: auto-liquidated",
        f"{follower.account_id}: daily loss limit hit",
    ]
    assert any("Daily loss ₹4000 reached max: ₹3000.00" in t for t in telegram.to("2001"))
    assert len(smtp.to(OPERATOR_MAIL)) == 2
    assert not Account.objects.get(pk=follower.pk).copy_trading_active
    _assert_no_secret(telegram.to("2001") + [m.body for m in smtp.mails], _secrets_of(follower))


# ---------------------------------------------------------------- rate limit, retries, refusals
def _notice(n: int) -> Notice:
    return Notice(event=Event.KILL_SWITCH, dedupe_key=f"burst:{n}", subject=f"Burst {n}", body="test")


def test_a_channel_gets_at_most_the_rate_limit_and_then_hears_how_many_were_suppressed(
    notify, worker, telegram
):
    # given a limit of 3 messages a minute on an operator channel
    notify.NOTIFY_RATE_LIMIT = "3 per minute"
    channel = _channel("TELEGRAM", OPERATOR_CHAT, [Event.KILL_SWITCH])
    # when 5 events are raised at once
    for n in range(5):
        notification_raise(notice=_notice(n))
    assert wait_for(_all_final, timeout=15)
    # then 3 are sent and 2 suppressed (kept in the log, not sent)
    statuses = list(NotificationDelivery.objects.values_list("status", flat=True))
    assert sorted(statuses) == sorted([Delivery.SENT] * 3 + [Delivery.SUPPRESSED] * 2)
    assert len(telegram.sent) == 3
    # when the minute has passed and another event comes
    notification_rate_reset(channel.pk)
    notification_raise(notice=_notice(9))
    # then it is sent; the messages sent after the suppressed ones said how many were (each counted once)
    assert wait_for(lambda: len(telegram.sent) == 4, timeout=10)
    counts = [re.search(r"\((\d+) earlier notification\(s\) suppressed", m["text"]) for m in telegram.sent]
    assert sum(int(found.group(1)) for found in counts if found) == 2


def test_two_scans_raising_the_same_event_at_once_deliver_it_once(notify, worker, telegram):
    # given an operator channel, and the same event raised by four threads at the same moment
    _channel("TELEGRAM", OPERATOR_CHAT, [Event.KILL_SWITCH])
    start = threading.Barrier(4)
    created: list[int] = []

    def raise_it() -> None:
        start.wait()
        try:
            created.append(notification_raise(notice=_notice(1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_it) for _ in range(4)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    # then one delivery, one message
    assert sorted(created) == [0, 0, 0, 1]
    assert wait_for(lambda: len(telegram.sent) == 1, timeout=10)
    assert wait_for(_all_final, timeout=5)
    assert NotificationDelivery.objects.count() == 1
    assert len(telegram.sent) == 1


@pytest.fixture
def no_worker() -> Iterator[None]:
    """No worker runs: the send tasks this test queues are dropped afterwards, never run by a later test."""
    yield
    purge_broker()


def test_only_enabled_channels_that_want_the_event_get_it_and_a_channel_switched_off_meanwhile_gets_nothing(
    notify, no_worker, telegram
):
    # given channels: one wanting the event, one not wanting it, one switched off
    wants = _channel("TELEGRAM", "1", [Event.KILL_SWITCH])
    _channel("TELEGRAM", "2", [Event.CAPTURE_DOWN])
    _channel("TELEGRAM", "3", [Event.KILL_SWITCH], enabled=False)
    # when the event is raised (no worker: the row is what is checked)
    notification_raise(notice=_notice(1))
    # then only the first has a delivery
    (queued,) = NotificationDelivery.objects.all()
    assert queued.channel == wants
    # when that channel is switched off before its delivery is sent
    NotificationChannel.objects.filter(pk=wants.pk).update(enabled=False)
    notification_deliver(delivery_pk=queued.pk)
    # then nothing is sent and the log says why
    queued.refresh_from_db()
    assert (queued.status, queued.last_error) == (
        Delivery.FAILED,
        "The channel was switched off before it was sent",
    )
    assert telegram.calls == 0


def test_a_telegram_that_is_down_is_tried_again_until_it_answers(notify, worker, telegram):
    # given a Bot API answering 502 twice
    telegram.fail_next = 2
    _channel("TELEGRAM", OPERATOR_CHAT, [Event.KILL_SWITCH])
    # when
    notification_raise(notice=_notice(1))
    # then the third try delivers it, once
    assert wait_for(lambda: len(telegram.sent) == 1, timeout=15)
    assert wait_for(_all_final, timeout=5)
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts, telegram.calls) == (Delivery.SENT, 3, 3)
    assert delivery.last_error == ""


def test_a_mail_server_that_stays_down_fails_after_the_tries_with_no_secret_in_the_error(
    notify, worker, smtp
):
    # given a mail server that is gone (nothing listens on its port), and a password configured for it
    smtp.stop()
    notify.EMAIL_PORT = smtp.port
    notify.EMAIL_HOST_PASSWORD = "smtp-password-never-shown"
    notify.NOTIFY_MAX_ATTEMPTS = 3
    _channel("EMAIL", OPERATOR_MAIL, [Event.KILL_SWITCH])
    # when
    notification_raise(notice=_notice(1))
    # then it was tried 3 times and failed with the reason, no secret
    assert wait_for(lambda: NotificationDelivery.objects.filter(status=Delivery.FAILED).exists(), timeout=15)
    delivery = NotificationDelivery.objects.get()
    assert delivery.attempts == 3
    assert delivery.last_error.startswith("Mail server unreachable")
    assert "smtp-password-never-shown" not in delivery.last_error


def test_a_wrong_bot_token_fails_at_once_without_showing_the_token(notify, worker, telegram):
    # given a token Telegram does not know
    notify.TELEGRAM_BOT_TOKEN = "999:wrong-token-also-secret"
    _channel("TELEGRAM", OPERATOR_CHAT, [Event.KILL_SWITCH])
    # when
    notification_raise(notice=_notice(1))
    # then one try, FAILED with Telegram's answer and no token
    assert wait_for(lambda: NotificationDelivery.objects.filter(status=Delivery.FAILED).exists(), timeout=10)
    delivery = NotificationDelivery.objects.get()
    assert (delivery.attempts, delivery.last_error) == (1, "Telegram answered 401: Unauthorized")
    assert telegram.sent == []


# ---------------------------------------------------------------- admin
@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


def test_admin_sends_a_test_message_through_the_task_and_audits_it(notify, worker, operator, telegram):
    # given an operator channel (even one switched off)
    channel = _channel("TELEGRAM", OPERATOR_CHAT, [], enabled=False)
    # when the admin action runs
    response = operator.post(
        reverse("admin:accounts_notificationchannel_changelist"),
        {"action": "send_test", "_selected_action": [channel.pk]},
    )
    # then the test message arrives and the action is audited
    assert response.status_code == 302
    assert wait_for(lambda: len(telegram.sent) == 1, timeout=10)
    assert telegram.sent[0]["text"].startswith("Test message\nA test message from copytrade")
    assert AuditEvent.objects.filter(action="notification_channel.tested", target=channel.name).exists()
    page = operator.get(reverse("admin:accounts_notificationdelivery_changelist")).content.decode()
    assert "Test message" in page
    assert BOT_TOKEN not in page


def test_admin_refuses_a_bad_target_and_a_follower_channel_with_operator_events(
    notify, operator, make_follower
):
    # given
    follower = make_follower()
    url = reverse("admin:accounts_notificationchannel_add")
    base = {"name": "x", "kind": "TELEGRAM", "enabled": "on"}
    # when
    bad_chat = operator.post(url, {**base, "target": "not a chat", "events": ["KILL_SWITCH"]})
    bad_mail = operator.post(url, {**base, "kind": "EMAIL", "target": "nobody@", "events": ["KILL_SWITCH"]})
    wider = operator.post(url, {**base, "target": "42", "account": follower.pk, "events": ["KILL_SWITCH"]})
    good = operator.post(url, {**base, "target": "42", "account": follower.pk, "events": ["ORDER_FAILED"]})
    # then the three are refused with the reason, nothing written, and the good one saved and audited
    assert "Enter a Telegram chat id" in bad_chat.content.decode()
    assert "Enter a valid e-mail address." in bad_mail.content.decode()
    assert "KILL_SWITCH are operator events" in wider.content.decode()
    assert good.status_code == 302
    (channel,) = NotificationChannel.objects.all()
    assert (channel.account_id, channel.events) == (follower.pk, ["ORDER_FAILED"])
    audit = AuditEvent.objects.get(action="notification_channel.created")
    assert set(audit.details["fields"]) >= {"target", "events"}


def test_the_send_task_is_on_the_default_queue():
    # then a slow channel can never hold up the placement queue
    assert current_app.amqp.router.route({}, NOTIFICATION_SEND_TASK)["queue"].name == "celery"

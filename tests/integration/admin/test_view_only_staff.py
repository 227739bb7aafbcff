"""Staff with only the view permissions on the issue-11 admin pages (freeze quantities, notification channels
and deliveries, the new account / risk-config / master settings fields, the test-message action): every
page renders, no field or button that acts, and every crafted post changes nothing and audits nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, MasterSettings, NotificationChannel, NotificationDelivery
from replication.models import FreezeQuantity
from tests.integration.admin.records import one_of_each

pytestmark = pytest.mark.django_db

EDIT_INPUTS = (
    'name="_save"',
    'name="_continue"',
    'name="_addanother"',
    'class="deletelink"',
    'name="symbol"',
    'name="freeze_quantity"',
    'name="target"',
    'name="events"',
    'name="capital_source"',
    'name="fixed_capital"',
    'name="risk_config-0-window_start"',
    'name="risk_config-0-price_guard_percent"',
    'name="risk_config-0-symbol_multipliers"',
    'name="enforce_copy_window"',
    'name="allow_amo"',
    'name="extra_closed_days"',
    'value="send_test"',
)


@pytest.fixture
def records():
    rows = one_of_each()
    rows["freeze"] = FreezeQuantity.objects.create(exchange="NFO", symbol="NIFTY", freeze_quantity=1800)
    return rows


def _pages(rows) -> list[str]:
    return [
        reverse("admin:replication_freezequantity_changelist"),
        reverse("admin:replication_freezequantity_change", args=[rows["freeze"].pk]),
        reverse("admin:accounts_notificationchannel_changelist"),
        reverse("admin:accounts_notificationchannel_change", args=[rows["channel"].pk]),
        reverse("admin:accounts_notificationdelivery_changelist"),
        reverse("admin:accounts_notificationdelivery_change", args=[rows["delivery"].pk]),
        reverse("admin:accounts_account_change", args=[rows["follower"].pk]),
        reverse("admin:accounts_mastersettings_change", args=[rows["settings"].pk]),
    ]


def test_view_only_staff_see_the_new_pages_without_a_field_or_button_that_acts(viewer, records):
    # when
    pages = {url: viewer.get(url) for url in _pages(records)}
    # then
    for url, page in pages.items():
        assert page.status_code == 200, url
        html = page.content.decode()
        for needle in EDIT_INPUTS:
            assert needle not in html, (url, needle)


def test_view_only_staff_change_nothing_on_the_new_pages(viewer, records):
    # given
    audits = AuditEvent.objects.count()
    deliveries = NotificationDelivery.objects.count()
    freeze, channel, follower = records["freeze"], records["channel"], records["follower"]
    # when: every crafted add, change, delete and the test-message action
    posts = [
        (
            reverse("admin:replication_freezequantity_add"),
            {"exchange": "NFO", "symbol": "X", "freeze_quantity": 9},
        ),
        (
            reverse("admin:replication_freezequantity_change", args=[freeze.pk]),
            {"exchange": "NFO", "symbol": "NIFTY", "freeze_quantity": 1},
        ),
        (reverse("admin:replication_freezequantity_delete", args=[freeze.pk]), {"post": "yes"}),
        (
            reverse("admin:accounts_notificationchannel_add"),
            {"name": "Mine", "kind": "TELEGRAM", "target": "42", "events": ["KILL_SWITCH"], "enabled": "on"},
        ),
        (
            reverse("admin:accounts_notificationchannel_change", args=[channel.pk]),
            {"name": "Ops", "kind": "TELEGRAM", "target": "42", "events": ["KILL_SWITCH"], "enabled": "on"},
        ),
        (reverse("admin:accounts_notificationchannel_delete", args=[channel.pk]), {"post": "yes"}),
        (
            reverse("admin:accounts_mastersettings_change", args=[records["settings"].pk]),
            {"enforce_copy_window": "on", "allow_amo": "on", "extra_closed_days": "2026-12-31"},
        ),
        (
            reverse("admin:accounts_account_change", args=[follower.pk]),
            {"capital_source": "FIXED", "fixed_capital": "1"},
        ),
    ]
    answers = [(url, viewer.post(url, data)) for url, data in posts]
    action = viewer.post(
        reverse("admin:accounts_notificationchannel_changelist"),
        {"action": "send_test", "_selected_action": [channel.pk]},
    )
    # then
    for url, answer in answers:
        assert answer.status_code == 403, url
    assert action.status_code in (200, 302, 403)
    assert NotificationDelivery.objects.count() == deliveries
    assert AuditEvent.objects.count() == audits
    assert FreezeQuantity.objects.get().freeze_quantity == 1800
    assert list(NotificationChannel.objects.values_list("name", "target")) == [
        ("Ops Telegram", "-1001234567890")
    ]
    settings = MasterSettings.objects.get()
    assert (settings.allow_amo, settings.extra_closed_days) == (False, [])
    follower.refresh_from_db()
    assert (follower.capital_source, follower.fixed_capital) != ("FIXED", Decimal("1"))


def test_an_operator_sees_those_fields_and_buttons_on_the_same_pages(operator, records):
    # given the needles above are the real names: a superuser's pages have each of them
    # when
    html = "".join(operator.get(url).content.decode() for url in _pages(records))
    # then
    for needle in EDIT_INPUTS:
        assert needle in html, needle

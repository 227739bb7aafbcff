"""Every record has a human title (never "RiskConfig object (5)" or "#5"), on its admin page too."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.integration.admin.records import one_of_each

pytestmark = pytest.mark.django_db

TITLES = {
    "follower": "TEST-USER-1 (follower)",
    "credential": "TEST-USER-1 credential",
    "consent": "TEST-USER-1 consent",
    "risk_config": "TEST-USER-1 risk config",
    "settings": "Master settings",
    "trade": "Master order 12345 BUY SBIN 10",
    "event": "PLACE event for master order 12345 BUY SBIN 10",
    "mapping": "Mapping TEST-USER-1 ENTRY for 12345",
    "action": "EXIT of TEST-USER-1 ENTRY for 12345",
    "capture": "MASTER-1 order-update stream",
    "snapshot": "TEST-USER-1 risk snapshot",
    "instrument": "NSE:SBIN-EQ (3045)",
    "lease": "Lease master-stream:MASTER-1 held by stream@vm:1",
    "channel": "Ops Telegram (Telegram, operator)",
    "delivery": "Follower order FAILED to Ops Telegram: FAILED",
}
# The admin change page of each record: its title is the page's subtitle and breadcrumb.
PAGES = {
    "follower": "accounts_account",
    "settings": "accounts_mastersettings",
    "trade": "replication_mastertrade",
    "event": "replication_tradeevent",
    "mapping": "replication_ordermapping",
    "action": "replication_orderaction",
    "capture": "replication_capturestatus",
    "snapshot": "replication_followerrisksnapshot",
    "instrument": "broker_instrument",
    "channel": "accounts_notificationchannel",
    "delivery": "accounts_notificationdelivery",
}


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


def test_every_model_has_a_human_title():
    # given
    rows = one_of_each()
    # when
    titles = {name: str(rows[name]) for name in TITLES}
    # then
    assert titles == TITLES
    assert str(rows["audit"]).startswith("account.created TEST-USER-1 by admin:ops at ")
    assert str(rows["heartbeat"]).startswith("worker heartbeat at ")
    assert all("object (" not in title and "#" not in title for title in titles.values())


@pytest.mark.parametrize("name", sorted(PAGES))
def test_change_page_is_titled_by_the_record(operator, name):
    # given
    rows = one_of_each()
    # when
    page = operator.get(reverse(f"admin:{PAGES[name]}_change", args=[rows[name].pk])).content.decode()
    # then
    assert f"<h2>{escape(TITLES[name])}</h2>" in page
    assert " object (" not in page


def test_inline_records_on_the_account_page_are_titled_by_the_account(operator):
    # given
    rows = one_of_each()
    # when
    page = operator.get(reverse("admin:accounts_account_change", args=[rows["follower"].pk])).content.decode()
    # then
    for name in ("risk_config", "consent", "credential"):
        assert TITLES[name] in page

"""Changelists fit a 1,366 px screen: the columns an operator scans, short headers, long text cut with its
full text in a tooltip (checked in Chromium at 1366x768 with the navigation and filter sidebars open)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape, strip_tags

from tests.integration.admin.records import LONG_REASON, one_of_each

pytestmark = pytest.mark.django_db

COLUMNS = {
    "accounts_account": [
        "Account id",
        "Name",
        "Role",
        "Status",
        "Copy",
        "Consent",
        "Session",
        "Alice Blue",
    ],
    "accounts_auditevent": ["When (IST)", "Actor", "Action", "Target"],
    "accounts_notificationchannel": ["Name", "Kind", "Owner", "Target", "Events", "Enabled"],
    "accounts_notificationdelivery": ["Queued (IST)", "Event", "Channel", "Status", "Tries", "Last error"],
    "replication_tradeevent": ["Time (IST)", "Event type", "Master order", "Order", "Followers", "Status"],
    "replication_ordermapping": [
        "Time (IST)",
        "Status",
        "Follower",
        "Master order",
        "Order",
        "Filled",
        "Reason",
    ],
    "replication_orderaction": [
        "Updated (IST)",
        "Kind",
        "Status",
        "Follower",
        "Master order",
        "Tries",
        "Reason",
    ],
    "replication_mastertrade": ["State", "Time (IST)", "Order id", "Order", "Kind", "Status", "Note"],
    "replication_capturestatus": [
        "Account",
        "Kind",
        "Connected",
        "Feed",
        "Last frame (IST)",
        "Last run (IST)",
        "Reconnects",
        "Last error",
    ],
    "replication_followerrisksnapshot": [
        "Follower",
        "Realised",
        "Unrealised",
        "Day P&L",
        "Opening cash",
        "Fetched (IST)",
        "Error",
    ],
    "broker_instrument": ["Exchange", "Trading symbol", "Symbol", "Token", "Lot", "Tick", "Freeze", "Expiry"],
    "core_heartbeat": ["Name", "Last seen (IST)", "Hostname"],
}
# Models whose list shows a long reason, note or error, cut short.
TRUNCATED = {
    "accounts_notificationdelivery",
    "replication_ordermapping",
    "replication_orderaction",
    "replication_mastertrade",
    "replication_capturestatus",
    "replication_followerrisksnapshot",
}


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


def _headers(page: str) -> list[str]:
    head = page.split('<table id="result_list">', 1)[1].split("</thead>", 1)[0]
    # Each header's label (its sort controls stand beside it, in their own div).
    labels = re.findall(r'<div class="text">(.*?)</div>', head, flags=re.S)
    return [
        " ".join(strip_tags(label).split()).replace("&amp;", "&")
        for label in labels
        if strip_tags(label).strip()
    ]


@pytest.mark.parametrize("model", sorted(COLUMNS))
def test_changelist_shows_only_the_columns_an_operator_scans(operator, model):
    # given
    one_of_each()
    # when
    response = operator.get(reverse(f"admin:{model}_changelist"))
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert _headers(page) == COLUMNS[model]
    assert len(COLUMNS[model]) <= 8
    if model in TRUNCATED:
        assert f'title="{escape(LONG_REASON)}"' in page
        assert f">{escape(LONG_REASON)}<" not in page


def test_orders_read_as_operators_say_them(operator):
    # given
    one_of_each()
    # when
    mappings = operator.get(reverse("admin:replication_ordermapping_changelist")).content.decode()
    trades = operator.get(reverse("admin:replication_mastertrade_changelist")).content.decode()
    events = operator.get(reverse("admin:replication_tradeevent_changelist")).content.decode()
    # then side, symbol and quantity stay in sight, in one column
    assert "ENTRY BUY SBIN 10" in mappings
    assert "BUY SBIN 10" in trades
    assert "0/0 ok" in events

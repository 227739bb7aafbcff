"""An account that traded is never deleted (the admin says why and to deactivate it); one that never traded
is deleted through the service, which writes an audit row."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse

from accounts.models import Account, AuditEvent, BrokerCredential, Consent, RiskConfig
from accounts.services.accounts import account_delete
from copytrade.core.exceptions import Conflict
from replication.models import MasterTrade
from tests.factories.accounts import BrokerCredentialFactory, ConsentFactory, FollowerFactory, MasterFactory
from tests.factories.replication import OrderMappingFactory, TradeEventFactory

pytestmark = pytest.mark.django_db

REFUSAL = "TEST-USER-1 has trading history (2 order mappings); deactivate it instead."


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-123", email="r@x.io")
    otp_login(client, user)
    return client


@pytest.fixture
def traded():
    """TEST-USER-1 with two order mappings."""
    follower = FollowerFactory(account_id="TEST-USER-1")
    for master_order_id in ("M-1", "M-2"):
        OrderMappingFactory(trade_event=TradeEventFactory(master_order_id=master_order_id), follower=follower)
    return follower


@pytest.fixture
def fresh():
    """TEST-USER-2: a follower with a credential, risk config and consent that never traded."""
    follower = FollowerFactory(account_id="TEST-USER-2")
    BrokerCredentialFactory(account=follower)
    ConsentFactory(account=follower)
    return follower


def test_delete_view_refuses_an_account_with_history_and_says_why(operator, traded):
    # given
    url = reverse("admin:accounts_account_delete", args=[traded.pk])
    # when
    shown = operator.get(url, follow=True)
    posted = operator.post(url, {"post": "yes"}, follow=True)
    # then
    for response in (shown, posted):
        assert response.redirect_chain[-1][0] == reverse("admin:accounts_account_change", args=[traded.pk])
        assert REFUSAL in response.content.decode()
    assert Account.objects.filter(pk=traded.pk).exists()
    assert not AuditEvent.objects.filter(action="account.deleted").exists()


def test_delete_view_deletes_an_account_without_history_through_the_service(operator, fresh):
    # given
    url = reverse("admin:accounts_account_delete", args=[fresh.pk])
    # when
    confirm = operator.get(url)
    deleted = operator.post(url, {"post": "yes"}, follow=True)
    # then
    assert confirm.status_code == 200
    assert "Are you sure" in confirm.content.decode()
    assert deleted.status_code == 200
    assert not Account.objects.filter(account_id="TEST-USER-2").exists()
    for model in (BrokerCredential, RiskConfig, Consent):
        assert not model.objects.filter(account_id=fresh.pk).exists()
    event = AuditEvent.objects.get(action="account.deleted")
    assert (event.actor, event.target, event.details["role"]) == ("admin:root", "TEST-USER-2", "FOLLOWER")
    assert LogEntry.objects.filter(action_flag=DELETION, object_repr="TEST-USER-2 (follower)").exists()


def test_bulk_delete_refuses_accounts_with_history_and_deletes_the_rest(operator, traded, fresh):
    # given
    url = reverse("admin:accounts_account_changelist")
    selected = {"action": "delete_selected", "_selected_action": [traded.pk, fresh.pk]}
    # when
    confirm = operator.post(url, selected)
    done = operator.post(url, {**selected, "_selected_action": [fresh.pk], "post": "yes"}, follow=True)
    # then the confirmation page names only the account that may go, and says why the other stays
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert REFUSAL in page
    assert f'name="_selected_action" value="{fresh.pk}"' in page
    assert f'name="_selected_action" value="{traded.pk}"' not in page
    assert "Deleted 1 account(s): TEST-USER-2." in done.content.decode()
    assert list(Account.objects.values_list("account_id", flat=True)) == ["TEST-USER-1"]
    assert AuditEvent.objects.get(action="account.deleted").target == "TEST-USER-2"


def test_bulk_delete_of_only_traded_accounts_deletes_nothing(operator, traded):
    # when: even a crafted confirmation
    response = operator.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "delete_selected", "_selected_action": [traded.pk], "post": "yes"},
        follow=True,
    )
    # then
    assert REFUSAL in response.content.decode()
    assert Account.objects.filter(pk=traded.pk).exists()


def test_service_refuses_a_master_with_captured_trades():
    # given
    master = MasterFactory(account_id="MASTER-1")
    MasterTrade.objects.create(account=master, broker_order_id="1", symbol="SBIN", side="BUY", quantity=1)
    # when
    with pytest.raises(Conflict) as refused:
        account_delete(account=master, actor="admin:root")
    # then
    assert refused.value.message == "MASTER-1 has trading history (1 master trade); deactivate it instead"
    assert refused.value.extra == {"orderMappings": 0, "masterTrades": 1}
    assert Account.objects.filter(pk=master.pk).exists()
    assert not AuditEvent.objects.exists()

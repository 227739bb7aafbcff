"""The Django admin for accounts: masked credentials, write-only replace form, actions, badges, audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AuditEvent, BrokerCredential, MasterSettings
from tests.factories.accounts import BrokerCredentialFactory, ConsentFactory, FollowerFactory, MasterFactory

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "eyJ-secret-session-token-value-7788"
SECRET_KEY = "api-key-secret-material-4455"


@pytest.fixture
def admin_client(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-123", email="r@x.io")
    otp_login(client, user)
    return client


@pytest.fixture
def follower_with_secrets():
    follower = FollowerFactory(account_id="TEST-USER-1", client_id="AB1001")
    ConsentFactory(account=follower)
    BrokerCredentialFactory(
        account=follower,
        access_token=SECRET_TOKEN,
        api_key=SECRET_KEY,
        api_secret="api-secret-material-1122",
        last_verified_at=timezone.now(),
    )
    return follower


def test_changelist_and_change_page_show_masked_state_and_login_link(admin_client, follower_with_secrets):
    # when
    changelist = admin_client.get(reverse("admin:accounts_account_changelist"))
    change = admin_client.get(reverse("admin:accounts_account_change", args=[follower_with_secrets.pk]))
    # then
    for response in (changelist, change):
        page = response.content.decode()
        assert response.status_code == 200
        assert SECRET_TOKEN not in page
        assert SECRET_KEY not in page
        assert "api-secret-material" not in page
        assert "ready for today" in page
        assert "/api/alice/oauth/vendor/start?accountId=TEST-USER-1" in page
    page = change.content.decode()
    assert "••••7788" in page
    assert "••••4455" in page
    assert "Replace credential" in page


def test_badge_says_not_ready_when_unverified(admin_client):
    # given
    follower = FollowerFactory(account_id="TEST-USER-2")
    BrokerCredentialFactory(account=follower, last_verified_at=None)
    # when
    page = admin_client.get(reverse("admin:accounts_account_changelist")).content.decode()
    # then
    assert "not verified today" in page


def test_replace_credential_form_is_write_only(admin_client, follower_with_secrets):
    # given
    url = reverse("admin:accounts_account_replace_credential", args=[follower_with_secrets.pk])
    # when
    form_page = admin_client.get(url)
    posted = admin_client.post(url, {"access_token": "brand-new-token-value-0001"})
    # then
    assert form_page.status_code == 200
    assert SECRET_TOKEN not in form_page.content.decode()
    assert SECRET_KEY not in form_page.content.decode()
    assert posted.status_code == 302
    credential = BrokerCredential.objects.get(account=follower_with_secrets)
    assert credential.access_token == "brand-new-token-value-0001"
    assert credential.api_key == SECRET_KEY
    event = AuditEvent.objects.get(action="credential.replaced")
    assert event.details["fields"] == ["access_token"]
    assert "brand-new" not in str(event.details)
    assert event.actor == "admin:root"


def test_replace_credential_form_requires_a_value(admin_client, follower_with_secrets):
    # when
    response = admin_client.post(
        reverse("admin:accounts_account_replace_credential", args=[follower_with_secrets.pk]), {}
    )
    # then
    assert response.status_code == 200
    assert "Enter at least one value" in response.content.decode()
    assert not AuditEvent.objects.filter(action="credential.replaced").exists()


def test_stop_resume_enable_disable_actions_call_services(admin_client, follower_with_secrets):
    # given
    other = FollowerFactory(account_id="TEST-USER-2")
    url = reverse("admin:accounts_account_changelist")
    ids = [follower_with_secrets.pk, other.pk]
    # when
    stopped = admin_client.post(url, {"action": "stop_copy", "_selected_action": ids}, follow=True)
    disabled = admin_client.post(url, {"action": "disable_accounts", "_selected_action": ids}, follow=True)
    # then
    assert "Stopped copy trading for 2 account(s)." in stopped.content.decode()
    assert "Disabled 2 account(s)." in disabled.content.decode()
    follower_with_secrets.refresh_from_db()
    assert not follower_with_secrets.copy_trading_active
    assert follower_with_secrets.stopped_by == "root"
    assert follower_with_secrets.status == "INACTIVE"
    assert AuditEvent.objects.filter(action="copy_trading.stopped").count() == 2
    # when
    admin_client.post(url, {"action": "resume_copy", "_selected_action": ids})
    admin_client.post(url, {"action": "enable_accounts", "_selected_action": ids})
    # then
    assert Account.objects.filter(copy_trading_active=True, status="ACTIVE").count() == 2


def test_enable_action_refuses_a_second_active_master(admin_client):
    # given
    MasterFactory(account_id="MASTER-1")
    old = MasterFactory(account_id="MASTER-0", status=Account.Status.INACTIVE)
    # when
    response = admin_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "enable_accounts", "_selected_action": [old.pk]},
        follow=True,
    )
    # then
    assert "already the active master" in response.content.decode()
    assert Account.objects.get(pk=old.pk).status == "INACTIVE"


def test_master_settings_singleton_and_read_only_audit_log(admin_client):
    # when
    settings_page = admin_client.get(reverse("admin:accounts_mastersettings_changelist"), follow=True)
    audit_add = admin_client.get(reverse("admin:accounts_auditevent_add"))
    # then
    assert settings_page.status_code == 200
    assert MasterSettings.objects.count() == 1
    assert audit_add.status_code == 403
    event = AuditEvent.objects.create(actor="x", action="y")
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()

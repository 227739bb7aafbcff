"""`make run`'s demo data: admin user, a master and three followers with live simulator sessions."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Account, BrokerCredential
from accounts.selectors import account_broker_client


@pytest.mark.integration
@pytest.mark.django_db
def test_demo_setup_creates_ready_accounts_and_is_repeatable(sim, settings, monkeypatch):
    # given
    settings.ALICE_API_BASE_URL = sim.base_url
    settings.ALICE_LEGACY_BASE_URL = sim.base_url
    monkeypatch.setenv("COPYTRADE_ADMIN_PASSWORD", "demo-admin-password-1")
    out = StringIO()
    # when run twice (make run restarts the in-memory simulator, so sessions are re-issued every time)
    call_command("demo_setup", simulator_url=sim.base_url, stdout=out)
    call_command("demo_setup", simulator_url=sim.base_url, stdout=out)
    # then
    assert get_user_model().objects.get(username="admin").check_password("demo-admin-password-1")
    assert Account.objects.filter(role=Account.Role.MASTER).count() == 1
    followers = Account.objects.filter(role=Account.Role.FOLLOWER).order_by("account_id")
    assert [f.account_id for f in followers] == ["DEMO-FOLLOWER-1", "DEMO-FOLLOWER-2", "DEMO-FOLLOWER-3"]
    for account in Account.objects.all():
        assert account.credential.session_status == BrokerCredential.SessionStatus.VALID
        # the stored session really works against the simulator
        assert account_broker_client(account=account).profile().client_id
    assert followers[1].risk_config.lot_multiplier == 0.5
    assert followers[2].risk_config.allowed_instruments == ["INFY", "RELIANCE"]
    assert all(f.consent.trade_replication_enabled for f in followers)
    assert "secret" not in out.getvalue().lower()


@pytest.mark.integration
@pytest.mark.django_db
def test_demo_setup_without_simulator_fails_cleanly(monkeypatch):
    # given
    monkeypatch.setenv("COPYTRADE_ADMIN_PASSWORD", "demo-admin-password-1")
    # when / then
    with pytest.raises(CommandError, match="simulator not usable"):
        call_command("demo_setup", simulator_url="http://127.0.0.1:9", stdout=StringIO())
    assert not Account.objects.exists()

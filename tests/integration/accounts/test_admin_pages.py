"""The Django admin for accounts: masked credentials, write-only replace form, actions, badges, audit log."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AuditEvent, BrokerCredential, Consent, MasterSettings, RiskConfig
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
    # given: the follower's session works today, so a pasted token waits as its replacement
    url = reverse("admin:accounts_account_replace_credential", args=[follower_with_secrets.pk])
    # when
    form_page = admin_client.get(url)
    posted = admin_client.post(url, {"access_token": "brand-new-token-value-0001"}, follow=True)
    # then
    assert form_page.status_code == 200
    assert SECRET_TOKEN not in form_page.content.decode()
    assert SECRET_KEY not in form_page.content.decode()
    assert posted.redirect_chain[0][1] == 302
    page = posted.content.decode()
    assert "the new token waits for its check" in page
    assert "brand-new-token-value-0001" not in page
    credential = BrokerCredential.objects.get(account=follower_with_secrets)
    assert credential.access_token == SECRET_TOKEN
    assert credential.pending_session_token == "brand-new-token-value-0001"
    assert credential.api_key == SECRET_KEY
    event = AuditEvent.objects.get(action="credential.replaced")
    assert event.details["fields"] == ["access_token"]
    assert event.details["session"] == "pending"
    assert "brand-new" not in str(event.details)
    assert event.actor == "admin:root"


def test_replace_credential_without_a_working_session_replaces_it_as_unverified(admin_client):
    # given: a session nobody verified today
    follower = FollowerFactory(account_id="TEST-USER-2")
    BrokerCredentialFactory(account=follower, last_verified_at=None)
    url = reverse("admin:accounts_account_replace_credential", args=[follower.pk])
    # when
    admin_client.post(url, {"access_token": "brand-new-token-value-0002"})
    # then
    credential = BrokerCredential.objects.get(account=follower)
    assert credential.access_token == "brand-new-token-value-0002"
    assert credential.session_status == "UNVERIFIED"
    assert not credential.has_pending_token


@pytest.mark.parametrize(
    ("field", "value"),
    [("access_token", "tökén€"), ("access_token", "x" * 4097), ("api_key", "k" * 513), ("api_secret", "a b")],
)
def test_replace_credential_refuses_values_that_cannot_be_sent(
    admin_client, follower_with_secrets, field, value
):
    # given
    url = reverse("admin:accounts_account_replace_credential", args=[follower_with_secrets.pk])
    # when
    response = admin_client.post(url, {field: value})
    # then
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    credential = BrokerCredential.objects.get(account=follower_with_secrets)
    assert credential.access_token == SECRET_TOKEN
    assert not credential.has_pending_token
    assert not AuditEvent.objects.filter(action="credential.replaced").exists()


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
    # when: never saved, the changelist leads to the add form (defaults), and saving goes through the service
    settings_page = admin_client.get(reverse("admin:accounts_mastersettings_changelist"), follow=True)
    audit_add = admin_client.get(reverse("admin:accounts_auditevent_add"))
    # then
    assert settings_page.status_code == 200
    assert settings_page.redirect_chain[-1][0] == reverse("admin:accounts_mastersettings_add")
    assert not MasterSettings.objects.exists()
    assert audit_add.status_code == 403
    event = AuditEvent.objects.create(actor="x", action="y")
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def _settings_form(**overrides) -> dict:
    return {
        "max_quantity_per_trade": 1000,
        "max_daily_loss_percentage": "5.00",
        "min_lot_size": 1,
        "default_lot_multiplier": "1",
        "max_concurrent_trades": 10,
        "auto_replicate_new_trades": "on",
        "poll_interval_seconds": "2.00",
        "poll_interval_with_stream_seconds": "15.00",
        **overrides,
    }


def test_master_settings_admin_saves_through_the_service(admin_client):
    # given
    add_url = reverse("admin:accounts_mastersettings_add")
    # when
    created = admin_client.post(add_url, _settings_form(max_quantity_per_trade=500))
    changed = admin_client.post(
        reverse("admin:accounts_mastersettings_change", args=[1]), _settings_form(max_quantity_per_trade=700)
    )
    # then
    assert created.status_code == 302
    assert changed.status_code == 302
    assert MasterSettings.objects.get().max_quantity_per_trade == 700
    events = list(AuditEvent.objects.filter(action="master_settings.updated").order_by("id"))
    assert [e.actor for e in events] == ["admin:root", "admin:root"]
    assert events[1].details["changed"] == {"max_quantity_per_trade": 700}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_quantity_per_trade", 4504172226),
        ("max_quantity_per_trade", 10**30),
        ("min_lot_size", 0),
        ("max_concurrent_trades", 10**6),
        ("default_lot_multiplier", "1" * 20),
    ],
)
def test_master_settings_admin_refuses_out_of_range_values(admin_client, field, value):
    # when
    response = admin_client.post(
        reverse("admin:accounts_mastersettings_add"), _settings_form(**{field: value})
    )
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not MasterSettings.objects.exists()
    assert not AuditEvent.objects.exists()


# ----------------------------------------------------------------- admin writes go through services
def _form_value(value):
    if callable(value):
        value = value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return list(value)
    return str(value)


def _change_form_data(response, **overrides) -> dict:
    """What the browser would post back from an admin add/change page, plus `overrides`."""
    data: dict = {}

    def put(form, name, field) -> None:
        value = _form_value(form.initial.get(name, field.initial))
        if value is not None:
            data[form.add_prefix(name)] = value

    form = response.context["adminform"].form
    for name, field in form.fields.items():
        put(form, name, field)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management.initial[name]
        for inline_form in formset.forms:
            for name, field in inline_form.fields.items():
                put(inline_form, name, field)
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_admin_creates_an_account_through_the_service(admin_client):
    # given
    url = reverse("admin:accounts_account_add")
    page = admin_client.get(url)
    data = _change_form_data(
        page, account_id="TEST-USER-9", role="FOLLOWER", client_id="AB9009", name="Nine", status="ACTIVE"
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302
    account = Account.objects.get(account_id="TEST-USER-9")
    assert account.risk_config.max_quantity == 100
    event = AuditEvent.objects.get(action="account.created", target="TEST-USER-9")
    assert event.actor == "admin:root"
    assert event.details["client_id"] == "AB9009"


def test_admin_creates_an_account_with_a_fixed_capital_in_one_audited_step(admin_client):
    # given
    url = reverse("admin:accounts_account_add")
    data = _change_form_data(
        admin_client.get(url),
        account_id="TEST-USER-8",
        role="FOLLOWER",
        status="ACTIVE",
        capital_source="FIXED",
        fixed_capital="250000",
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302
    account = Account.objects.get(account_id="TEST-USER-8")
    assert (account.capital_source, account.fixed_capital) == ("FIXED", Decimal("250000"))
    events = AuditEvent.objects.filter(target="TEST-USER-8")
    assert [e.action for e in events] == ["account.created"]
    assert events[0].details["capital_source"] == "FIXED"
    assert Decimal(events[0].details["fixed_capital"]) == Decimal("250000")


@pytest.mark.parametrize(
    ("field", "value"),
    [("account_id", "BAD ID"), ("account_id", "x" * 121), ("name", "bell\x07"), ("client_id", "ÄB1")],
)
def test_admin_account_form_refuses_bad_values(admin_client, field, value):
    # given
    url = reverse("admin:accounts_account_add")
    data = _change_form_data(
        admin_client.get(url),
        **{"account_id": "TEST-USER-9", "role": "FOLLOWER", "status": "ACTIVE", field: value},
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


def test_admin_change_and_risk_inline_go_through_services(admin_client, follower_with_secrets):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    page = admin_client.get(url)
    data = _change_form_data(
        page,
        name="Renamed",
        **{
            "risk_config-0-max_quantity": "250",
            "risk_config-0-allowed_instruments": "sbin, INFY",
            "risk_config-0-allowed_product_types": ["MIS"],
            "risk_config-0-allowed_order_types": [],
        },
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302, response.context and response.context["errors"]
    follower_with_secrets.refresh_from_db()
    assert follower_with_secrets.name == "Renamed"
    config = RiskConfig.objects.get(account=follower_with_secrets)
    assert config.max_quantity == 250
    assert config.allowed_instruments == ["SBIN", "INFY"]
    assert config.allowed_product_types == ["MIS"]
    assert config.allowed_order_types == []
    updated = AuditEvent.objects.get(action="account.updated")
    assert updated.details["changed"] == {"name": "Renamed"}
    assert updated.actor == "admin:root"
    replaced = AuditEvent.objects.get(action="risk_config.replaced")
    assert replaced.actor == "admin:root"
    assert set(replaced.details["changed"]) == {
        "max_quantity",
        "allowed_instruments",
        "allowed_product_types",
        "allowed_order_types",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_quantity", "4504172226"),
        ("fixed_quantity", str(10**30)),
        ("lot_multiplier", "0"),
        ("max_order_value", "-1"),
        ("allowed_instruments", "SB\x01IN"),
        ("allowed_product_types", ["BOGUS"]),
    ],
)
def test_admin_risk_inline_refuses_out_of_range_values(admin_client, follower_with_secrets, field, value):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    before = RiskConfig.objects.get(account=follower_with_secrets).updated_at
    data = _change_form_data(admin_client.get(url), **{f"risk_config-0-{field}": value})
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 200
    assert RiskConfig.objects.get(account=follower_with_secrets).updated_at == before
    assert not AuditEvent.objects.exists()


def test_risk_inline_has_checkboxes_and_says_empty_means_all(admin_client, follower_with_secrets):
    # when
    page = admin_client.get(
        reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    ).content.decode()
    # then
    for name, codes in (("product", ("MIS", "CNC", "NRML")), ("order", ("MARKET", "LIMIT", "SL", "SLM"))):
        for code in codes:
            assert f'type="checkbox" name="risk_config-0-allowed_{name}_types" value="{code}"' in page
    # each label as wide as its text, so "SLM (stop-loss market)" stays on its box's line
    assert 'style="width:auto"><input type="checkbox" name="risk_config-0-allowed_order_types"' in page
    assert 'name="risk_config-0-allowed_instruments"' in page
    for help_text in (
        "Comma-separated trading symbols, e.g. SBIN, INFY. Empty means all: every instrument.",
        "Empty means all: with none ticked, every product type is allowed.",
        "Empty means all: with none ticked, every order type is allowed.",
    ):
        assert help_text in page


def test_risk_inline_saved_empty_means_all_through_the_service(admin_client, follower_with_secrets):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    data = _change_form_data(
        admin_client.get(url),
        **{
            "risk_config-0-allowed_instruments": "",
            "risk_config-0-allowed_product_types": None,
            "risk_config-0-allowed_order_types": None,
        },
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302
    config = RiskConfig.objects.get(account=follower_with_secrets)
    assert (config.allowed_instruments, config.allowed_product_types, config.allowed_order_types) == (
        [],
        [],
        [],
    )
    replaced = AuditEvent.objects.get(action="risk_config.replaced")
    assert replaced.actor == "admin:root"
    assert set(replaced.details["changed"]) == {"allowed_product_types", "allowed_order_types"}


# ------------------------------------------------------------------------------------------------ icons
BADGE_EMOJI = ("✅", "❌", "⚠️", "⏳", "⛔")


def test_badges_show_the_admin_icons_not_emoji_alone(admin_client, follower_with_secrets):
    # given one follower ready, one not verified today without consent, one whose consent was revoked
    unverified = FollowerFactory(account_id="TEST-USER-2")
    BrokerCredentialFactory(account=unverified, last_verified_at=None)
    revoked = FollowerFactory(account_id="TEST-USER-3")
    ConsentFactory(account=revoked, trade_replication_enabled=False, revoked_at=timezone.now())
    # when
    changelist = admin_client.get(reverse("admin:accounts_account_changelist")).content.decode()
    change = admin_client.get(
        reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    ).content.decode()
    # then
    for icon, text in (
        ("icon-yes.svg", "ready for today"),
        ("icon-alert.svg", "not verified today"),
        ("icon-no.svg", "no session"),
        ("icon-yes.svg", "given (unknown)"),
        ("icon-alert.svg", "none"),
        ("icon-no.svg", "revoked"),
    ):
        assert re.search(rf'{icon}" alt="[a-z]+" width="13" height="13"[^>]*> {re.escape(text)}', changelist)
    assert re.search(r'icon-yes.svg" alt="yes"[^>]*> ready for today', change)
    for page in (changelist, change):
        assert not any(emoji in page for emoji in BADGE_EMOJI)


@pytest.mark.parametrize(("ok", "icon"), [(True, "icon-yes.svg"), (False, "icon-no.svg")])
def test_login_result_page_shows_an_icon(ok, icon, follower_with_secrets):
    # when
    page = render_to_string(
        "accounts/login_result.html", {"ok": ok, "message": "m", "account": follower_with_secrets}
    )
    # then
    assert f"/static/admin/img/{icon}" in page
    assert not any(emoji in page for emoji in BADGE_EMOJI)


# ------------------------------------------------------------------------------------ consent in admin
def test_consent_is_read_only_in_the_account_admin(admin_client):
    # given: a follower without consent
    follower = FollowerFactory(account_id="TEST-USER-3")
    Consent.objects.create(account=follower)
    url = reverse("admin:accounts_account_change", args=[follower.pk])
    page = admin_client.get(url)
    # when: a crafted post tries to tick the old checkbox
    data = _change_form_data(page, **{"consent-0-trade_replication_enabled": "on"})
    response = admin_client.post(url, data)
    # then
    assert 'name="consent-0-trade_replication_enabled"' not in page.content.decode()
    assert response.status_code == 302
    assert Consent.objects.get(account=follower).trade_replication_enabled is False


def test_send_consent_link_action_shows_the_links(admin_client, settings):
    # given
    settings.COPYTRADE_PUBLIC_URL = "https://copytrade.example.com"
    one = FollowerFactory(account_id="TEST-USER-1")
    two = FollowerFactory(account_id="TEST-USER-2")
    # when
    response = admin_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "send_consent_links", "_selected_action": [one.pk, two.pk]},
    )
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('value="https://copytrade.example.com/consent/') == 2
    assert Consent.objects.exclude(link_nonce="").count() == 2
    events = AuditEvent.objects.filter(action="consent.link_issued")
    assert sorted(e.target for e in events) == ["TEST-USER-1", "TEST-USER-2"]
    assert all("consent/" not in str(e.details) for e in events)


def test_send_consent_link_without_public_url_says_so(admin_client, settings):
    # given
    settings.COPYTRADE_PUBLIC_URL = ""
    follower = FollowerFactory(account_id="TEST-USER-1")
    # when
    response = admin_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "send_consent_links", "_selected_action": [follower.pk]},
        follow=True,
    )
    # then
    assert "COPYTRADE_PUBLIC_URL" in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_consent_buttons_issue_revoke_and_record(admin_client, settings):
    # given
    settings.COPYTRADE_PUBLIC_URL = "https://copytrade.example.com"
    follower = FollowerFactory(account_id="TEST-USER-1")
    change = admin_client.get(reverse("admin:accounts_account_change", args=[follower.pk])).content.decode()
    link_url = reverse("admin:accounts_account_consent_link", args=[follower.pk])
    revoke_url = reverse("admin:accounts_account_consent_revoke", args=[follower.pk])
    record_url = reverse("admin:accounts_account_consent_record", args=[follower.pk])
    # when
    confirm = admin_client.get(link_url)
    issued = admin_client.post(link_url)
    no_reference = admin_client.post(record_url, {"reference": "", "confirm": "on"})
    recorded = admin_client.post(record_url, {"reference": "signed form #123", "confirm": "on"})
    revoked = admin_client.post(revoke_url)
    # then
    for url in (link_url, revoke_url, record_url):
        assert url in change
    assert confirm.status_code == 200
    assert "https://copytrade.example.com/consent/" in issued.content.decode()
    assert no_reference.status_code == 200
    assert no_reference.context["form"].errors["reference"]
    assert recorded.status_code == 302
    assert revoked.status_code == 302
    consent = Consent.objects.get(account=follower)
    assert consent.trade_replication_enabled is False
    assert consent.revoked_by == "admin:root"
    assert consent.reference == "signed form #123"
    assert consent.recorded_by == "OPERATOR"
    assert consent.link_nonce == ""
    assert [e.action for e in AuditEvent.objects.order_by("id")] == [
        "consent.link_issued",
        "consent.recorded",
        "consent.revoked",
    ]


def test_revoke_consent_action(admin_client):
    # given
    follower = FollowerFactory(account_id="TEST-USER-1")
    ConsentFactory(account=follower)
    # when
    response = admin_client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": "revoke_consents", "_selected_action": [follower.pk]},
        follow=True,
    )
    # then
    assert "Revoked consent of 1 account(s)." in response.content.decode()
    consent = Consent.objects.get(account=follower)
    assert consent.trade_replication_enabled is False
    assert consent.revoked_at is not None
    assert AuditEvent.objects.get(action="consent.revoked").actor == "admin:root"


# ------------------------------------------------------------------ capital sizing, per-symbol multipliers
def test_risk_inline_saves_capital_sizing_and_per_symbol_multipliers_through_the_service(
    admin_client, follower_with_secrets
):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    page = admin_client.get(url)
    assert 'name="risk_config-0-symbol_multipliers"' in page.content.decode()
    data = _change_form_data(
        page,
        **{
            "risk_config-0-sizing_mode": "CAPITAL",
            "risk_config-0-symbol_multipliers": "nifty=2, RELIANCE-EQ = 0.5",
        },
    )
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302, response.context and response.context["errors"]
    config = RiskConfig.objects.get(account=follower_with_secrets)
    assert config.sizing_mode == "CAPITAL"
    assert config.symbol_multipliers == {"NIFTY": "2", "RELIANCE-EQ": "0.5"}
    replaced = AuditEvent.objects.get(action="risk_config.replaced")
    assert set(replaced.details["changed"]) == {"sizing_mode", "symbol_multipliers"}
    # and the page shows them as typed back
    assert 'value="NIFTY=2, RELIANCE-EQ=0.5"' in admin_client.get(url).content.decode()


@pytest.mark.parametrize(
    "value",
    ["NIFTY", "NIFTY=0", "NIFTY=-1", "NIFTY=abc", "NIFTY=2, NIFTY=3", "NIFTY 50=2", "=2", "SBIN=0.00001"],
)
def test_risk_inline_refuses_bad_symbol_multipliers(admin_client, follower_with_secrets, value):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    before = RiskConfig.objects.get(account=follower_with_secrets).updated_at
    data = _change_form_data(admin_client.get(url), **{"risk_config-0-symbol_multipliers": value})
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.forms[0].errors["symbol_multipliers"]
    assert RiskConfig.objects.get(account=follower_with_secrets).updated_at == before
    assert not AuditEvent.objects.exists()


def test_account_admin_sets_a_fixed_capital_and_shows_todays_capital(admin_client, follower_with_secrets):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    page = admin_client.get(url)
    assert "not read yet today" in page.content.decode()
    data = _change_form_data(page, capital_source="FIXED", fixed_capital="250000")
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302, response.context and response.context["errors"]
    follower_with_secrets.refresh_from_db()
    assert (follower_with_secrets.capital_source, follower_with_secrets.fixed_capital) == ("FIXED", 250000)
    updated = AuditEvent.objects.get(action="account.updated")
    assert updated.details["changed"] == {"capital_source": "FIXED", "fixed_capital": "250000"}
    assert "₹2,50,000 (fixed)" in admin_client.get(url).content.decode()


def test_account_admin_refuses_a_fixed_source_without_an_amount(admin_client, follower_with_secrets):
    # given
    url = reverse("admin:accounts_account_change", args=[follower_with_secrets.pk])
    data = _change_form_data(admin_client.get(url), capital_source="FIXED", fixed_capital="")
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["fixed_capital"]
    follower_with_secrets.refresh_from_db()
    assert follower_with_secrets.capital_source == "BROKER"
    assert not AuditEvent.objects.exists()

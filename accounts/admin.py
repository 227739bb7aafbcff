"""Admin: accounts with risk config, consent and (masked, read-only) credential state; a write-only
"replace credential" form; consent links and revocation; vendor-login links and session badges; master
settings; the audit log. An account that traded is never deleted (deactivated instead).

Every save and action that changes state calls the service the API calls, and that service writes the audit
row; the admin only parses forms and reports outcomes.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from accounts import validators as v
from accounts.encryption import mask_last4
from accounts.models import (
    SUBSCRIBABLE_EVENTS,
    Account,
    AuditEvent,
    BrokerCredential,
    Consent,
    MasterSettings,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
    OrderTypeChoices,
    ProductTypeChoices,
    RiskConfig,
    validate_instruments,
)
from accounts.selectors import account_capital_today, account_history, credential_of, session_state
from accounts.services.accounts import (
    MASTER_SETTINGS_FIELDS,
    CredentialInput,
    account_copy_trading_set,
    account_create,
    account_delete,
    account_status_set,
    account_update,
    credential_replace,
    master_settings_update,
    risk_config_replace,
)
from accounts.services.consent import consent_link_issue, consent_record_by_operator, consent_revoke
from accounts.services.notifications import (
    notification_channel_delete,
    notification_channel_save,
    notification_test,
)
from accounts.services.sessions import account_session_check
from copytrade.core.admin_display import ReadOnlyAdmin, TimesInIstMixin, icon, time_column, truncated
from copytrade.core.exceptions import ApplicationError
from copytrade.core.rupees import format_rupees

CONSENT_TEMPLATE = "admin/accounts/account/consent_action.html"


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _masked(value: str) -> str:
    last4 = mask_last4(value)
    return f"••••{last4}" if last4 else ("set" if value else "—")


# ------------------------------------------------------------------------------------------ risk config
class Checkboxes(forms.CheckboxSelectMultiple):
    """One checkbox a line, each label as wide as its text (the admin's inlines make every label 160 px)."""

    option_template_name = "accounts/widgets/checkbox_option.html"


class RiskConfigForm(forms.ModelForm):
    """The risk config with proper widgets: symbols as text, product and order types as checkboxes."""

    allowed_instruments = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Comma-separated trading symbols, e.g. SBIN, INFY. Empty means all: every instrument.",
    )
    allowed_product_types = forms.MultipleChoiceField(
        choices=ProductTypeChoices.choices,
        required=False,
        widget=Checkboxes,
        help_text="Empty means all: with none ticked, every product type is allowed.",
    )
    allowed_order_types = forms.MultipleChoiceField(
        choices=OrderTypeChoices.choices,
        required=False,
        widget=Checkboxes,
        help_text="Empty means all: with none ticked, every order type is allowed.",
    )

    symbol_multipliers = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "NIFTY=2, RELIANCE-EQ=0.5"}),
        help_text="Comma-separated SYMBOL=multiplier pairs replacing the lot multiplier for that instrument "
        "(in multiplier and capital sizing; not fixed quantity): the exact trading symbol first, then the "
        "underlying, e.g. NIFTY=2, RELIANCE-EQ=0.5. Empty: none.",
    )

    class Meta:
        model = RiskConfig
        fields = (
            "enabled",
            "sizing_mode",
            "lot_multiplier",
            "fixed_quantity",
            "max_quantity",
            "max_order_value",
            "max_daily_loss",
            "allowed_instruments",
            "allowed_product_types",
            "allowed_order_types",
            "symbol_multipliers",
            "window_start",
            "window_end",
            "price_guard_percent",
            "price_guard_action",
        )
        widgets = {
            "window_start": forms.TimeInput(format="%H:%M:%S", attrs={"type": "time", "step": 1}),
            "window_end": forms.TimeInput(format="%H:%M:%S", attrs={"type": "time", "step": 1}),
            "price_guard_percent": forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 100}),
            "price_guard_action": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["allowed_instruments"] = ", ".join(self.instance.allowed_instruments or [])
        self.initial["symbol_multipliers"] = ", ".join(
            f"{symbol}={multiplier}"
            for symbol, multiplier in (self.instance.symbol_multipliers or {}).items()
        )

    def clean_symbol_multipliers(self) -> dict[str, str]:
        raw = self.cleaned_data.get("symbol_multipliers") or ""
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            symbol, equals, multiplier = part.partition("=")
            symbol = symbol.strip().upper()
            if not equals or not symbol or not multiplier.strip():
                raise ValidationError(f"{part!r} is not SYMBOL=multiplier (e.g. NIFTY=2)")
            if symbol in pairs:
                raise ValidationError(f"{symbol} is given twice")
            pairs[symbol] = multiplier.strip()
        return v.symbol_multipliers_normalized(pairs)

    def clean_allowed_instruments(self) -> list[str]:
        raw = self.cleaned_data.get("allowed_instruments") or ""
        symbols = list(dict.fromkeys(part.strip().upper() for part in raw.split(",") if part.strip()))
        validate_instruments(symbols)
        return symbols


class RiskConfigInline(admin.StackedInline):
    model = RiskConfig
    form = RiskConfigForm
    can_delete = False
    extra = 0
    max_num = 1
    fields = (
        "enabled",
        ("sizing_mode", "lot_multiplier"),
        "symbol_multipliers",
        ("fixed_quantity", "max_quantity"),
        ("max_order_value", "max_daily_loss"),
        "allowed_instruments",
        "allowed_product_types",
        "allowed_order_types",
        ("window_start", "window_end"),
        ("price_guard_percent", "price_guard_action"),
    )


# ---------------------------------------------------------------------------------------------- consent
class ConsentInline(admin.StackedInline):
    """Read-only evidence: consent is given by the follower (a consent link) or recorded with a reference."""

    model = Consent
    can_delete = False
    extra = 0
    max_num = 0
    fields = (
        ("trade_replication_enabled", "consent_given_at", "terms_version"),
        ("recorded_by", "recorded_by_actor", "reference"),
        ("ip_address", "user_agent"),
        ("revoked_at", "revoked_by"),
    )
    readonly_fields = tuple(name for row in fields for name in row)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RecordConsentForm(forms.Form):
    """Consent the follower gave elsewhere, recorded on the operator's word with a reference to evidence."""

    reference = forms.CharField(
        max_length=v.REFERENCE_MAX_LENGTH,
        validators=[v.validate_printable],
        help_text='Where the evidence is, e.g. "signed form #123" or "recorded call 2025-01-31 10:02".',
    )
    terms_version = forms.CharField(
        max_length=v.TERMS_VERSION_MAX_LENGTH,
        required=False,
        validators=[v.validate_printable],
        help_text="The version of the terms the follower agreed to, if known.",
    )
    confirm = forms.BooleanField(
        label="I hold the follower's consent to trade replication and the evidence named above."
    )


# ------------------------------------------------------------------------------------------ credentials
class CredentialInline(admin.StackedInline):
    """Credential state only: secrets as last 4 characters; replaced through the form, never edited here."""

    model = BrokerCredential
    can_delete = False
    extra = 0
    max_num = 0
    fields = (
        ("api_key_masked", "api_secret_masked"),
        ("access_token_masked", "broker_session_id_masked"),
        ("effective_state", "session_obtained_at", "last_verified_at"),
        ("replacement", "pending_since"),
        "last_error",
    )
    readonly_fields = (*(name for row in fields[:-1] for name in row), "last_error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="API key")
    def api_key_masked(self, obj: BrokerCredential) -> str:
        return _masked(obj.api_key)

    @admin.display(description="API secret")
    def api_secret_masked(self, obj: BrokerCredential) -> str:
        return "set" if obj.api_secret else "—"

    @admin.display(description="Access token")
    def access_token_masked(self, obj: BrokerCredential) -> str:
        return _masked(obj.access_token)

    @admin.display(description="Broker session id")
    def broker_session_id_masked(self, obj: BrokerCredential) -> str:
        return _masked(obj.broker_session_id)

    @admin.display(description="Session")
    def effective_state(self, obj: BrokerCredential) -> str:
        return session_state(obj)

    @admin.display(description="Replacement token")
    def replacement(self, obj: BrokerCredential) -> str:
        if not obj.has_pending_token:
            return "—"
        return f"{_masked(obj.pending_session_token)} waits for its check (the working session stays in use)"


class ReplaceCredentialForm(forms.Form):
    """Write-only: fields are never pre-filled; blank fields keep the stored value."""

    api_key = forms.CharField(
        required=False,
        max_length=v.API_KEY_MAX_LENGTH,
        validators=[v.validate_header_safe],
        widget=forms.PasswordInput(render_value=False),
        strip=True,
    )
    api_secret = forms.CharField(
        required=False,
        max_length=v.API_KEY_MAX_LENGTH,
        validators=[v.validate_header_safe],
        widget=forms.PasswordInput(render_value=False),
        strip=True,
    )
    access_token = forms.CharField(
        required=False,
        max_length=v.TOKEN_MAX_LENGTH,
        validators=[v.validate_header_safe],
        widget=forms.PasswordInput(render_value=False),
        strip=True,
        help_text="A session token pasted from elsewhere: unverified until a check passes (one runs at "
        "once). Over a session that works today it waits as the replacement until that check accepts it.",
    )
    broker_session_id = forms.CharField(
        required=False,
        max_length=v.TOKEN_MAX_LENGTH,
        validators=[v.validate_header_safe],
        widget=forms.PasswordInput(render_value=False),
        strip=True,
    )
    clear_session = forms.BooleanField(required=False, help_text="Forget the current session token.")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not any(data.get(n) for n in BrokerCredential.ENCRYPTED_FIELDS) and not data.get("clear_session"):
            raise ValidationError("Enter at least one value (blank fields keep the stored value).")
        return data


# ---------------------------------------------------------------------------------------------- accounts
_CAPITAL = ("capital_source", "fixed_capital")
_EDITABLE = ("account_id", "name", "client_id", "api_flavor", "status", "paper", *_CAPITAL)


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("role", *_EDITABLE)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("role") == Account.Role.MASTER and data.get("status") == Account.Status.ACTIVE:
            others = Account.objects.filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            active = others.first()
            if active is not None:
                raise ValidationError(
                    f"{active.account_id} is already the active master; deactivate it first."
                )
        if self.instance.pk and "role" in self.changed_data:
            raise ValidationError(
                "The role of an existing account cannot be changed (a follower never becomes the "
                "master silently); create a new account instead."
            )
        return data


# The session states as the admin's icons and words; the detail page adds what a waiting token means.
_SESSION_BADGES = {
    BrokerCredential.SessionStatus.VALID: ("yes", "#176c2d", "ready for today"),
    BrokerCredential.SessionStatus.UNVERIFIED: ("alert", "#a86400", "not verified today"),
    BrokerCredential.SessionStatus.EXPIRED: ("no", "#a31515", "expired"),
    BrokerCredential.SessionStatus.MISSING: ("no", "#a31515", "no session"),
}


def _history_refusal(account: Account) -> str | None:
    """Why `account` cannot be deleted (it traded), or None."""
    history = account_history(account=account)
    if history.empty:
        return None
    return f"{account.account_id} has trading history ({history}); deactivate it instead."


@admin.register(Account)
class AccountAdmin(TimesInIstMixin, admin.ModelAdmin):
    form = AccountForm
    # What an operator scans (who, on or off, consent, session); client id and API flavour are on its page.
    list_display = (
        "account_id",
        "name_short",
        "role_label",
        "status",
        "copy_trading",
        "consent_state",
        "session_column",
        "login_link",
    )
    list_filter = (
        "role",
        "status",
        "copy_trading_active",
        "paper",
        "api_flavor",
        "consent__trade_replication_enabled",
        "credential__session_status",
    )
    search_fields = ("account_id", "name", "client_id")
    readonly_fields = (
        "copy_trading_active",
        "stopped_at",
        "stopped_by",
        "session_badge",
        "login_link",
        "replace_credential_link",
        "consent_buttons",
        "capital_today",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("account_id", "role", "name", "client_id", "api_flavor", "status", "paper")}),
        ("Copy trading", {"fields": ("copy_trading_active", "stopped_at", "stopped_by")}),
        (
            "Capital (for capital sizing)",
            {"fields": ("capital_source", "fixed_capital", "capital_today")},
        ),
        ("Session", {"fields": ("session_badge", "login_link", "replace_credential_link")}),
        ("Consent", {"fields": ("consent_buttons",)}),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )
    inlines = (RiskConfigInline, ConsentInline, CredentialInline)
    actions = (
        "stop_copy",
        "resume_copy",
        "enable_accounts",
        "disable_accounts",
        "check_sessions",
        "send_consent_links",
        "revoke_consents",
        "delete_selected",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("credential", "consent")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "role") if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.role != Account.Role.FOLLOWER:
            return tuple(fs for fs in fieldsets if fs[0] != "Consent")
        return fieldsets

    def get_inlines(self, request, obj):
        # A new account gets its defaults from the service; a master has no risk config or consent.
        if obj is None:
            return ()
        if obj.role != Account.Role.FOLLOWER:
            return (CredentialInline,)
        return self.inlines

    # -------------------------------------------------------------------------------- columns
    @admin.display(description="Capital today")
    def capital_today(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        capital = account_capital_today(obj)
        if obj.capital_source == Account.CapitalSource.FIXED:
            return f"₹{format_rupees(capital)} (fixed)" if capital is not None else "— (no fixed capital)"
        if capital is None:
            last = (
                f"; last read ₹{format_rupees(obj.broker_capital)} for {obj.broker_capital_day:%Y-%m-%d}"
                if obj.broker_capital is not None and obj.broker_capital_day
                else ""
            )
            return f"not read yet today{last}"
        read_at = timezone.localtime(obj.broker_capital_read_at) if obj.broker_capital_read_at else None
        when = f" at {read_at:%H:%M:%S} {read_at.tzname()}" if read_at else ""
        return f"₹{format_rupees(capital)} (broker opening cash, read today{when})"

    @admin.display(description="Name", ordering="name")
    def name_short(self, obj: Account) -> str:
        return truncated(obj.name, 24)

    @admin.display(description="Role", ordering="role")
    def role_label(self, obj: Account) -> str:
        return f"{obj.get_role_display()}, paper" if obj.paper else obj.get_role_display()

    @admin.display(description="Copy", boolean=True, ordering="copy_trading_active")
    def copy_trading(self, obj: Account) -> bool:
        return obj.copy_trading_active

    @admin.display(description="Consent")
    def consent_state(self, obj: Account) -> str:
        if obj.role != Account.Role.FOLLOWER:
            return "—"
        consent = getattr(obj, "consent", None)
        if consent is not None and consent.trade_replication_enabled:
            return icon("yes", f"given ({(consent.recorded_by or 'unknown').lower()})")
        if consent is not None and consent.revoked_at:
            return icon("no", "revoked")
        return icon("alert", "none")

    def _session(self, obj: Account, *, detail: bool) -> str:
        credential = credential_of(obj)
        kind, color, text = _SESSION_BADGES[session_state(credential)]
        if credential is not None and credential.has_pending_token:
            text += " (replacement token waiting for its check)" if detail else " (new token waiting)"
        return format_html('<span style="color:{};font-weight:bold">{}</span>', color, icon(kind, text))

    @admin.display(description="Session")
    def session_column(self, obj: Account) -> str:
        return self._session(obj, detail=False)

    @admin.display(description="Session")
    def session_badge(self, obj: Account) -> str:
        return self._session(obj, detail=True)

    @admin.display(description="Alice Blue")
    def login_link(self, obj: Account) -> str:
        url = reverse("accounts:vendor-login-start") + "?" + urlencode({"accountId": obj.account_id})
        return format_html('<a href="{}">Login with Alice Blue</a>', url)

    @admin.display(description="Credential")
    def replace_credential_link(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:accounts_account_replace_credential", args=[obj.pk])
        return format_html('<a class="button" href="{}">Replace credential</a>', url)

    @admin.display(description="Consent")
    def consent_buttons(self, obj: Account) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a class="button" href="{}">Send consent link</a> '
            '<a class="button" href="{}">Revoke consent</a> '
            '<a class="button" href="{}">Record consent on the follower\'s behalf</a>',
            reverse("admin:accounts_account_consent_link", args=[obj.pk]),
            reverse("admin:accounts_account_consent_revoke", args=[obj.pk]),
            reverse("admin:accounts_account_consent_record", args=[obj.pk]),
        )

    # ------------------------------------------------------------------------------- saving
    def save_model(self, request, obj: Account, form, change: bool) -> None:
        data = form.cleaned_data
        if change:
            values = {name: data[name] for name in form.changed_data if name in _EDITABLE}
            saved = account_update(account=obj, actor=_actor(request), **values)
        else:
            saved = account_create(
                account_id=data["account_id"],
                role=data["role"],
                client_id=data.get("client_id", ""),
                name=data.get("name", ""),
                api_flavor=data.get("api_flavor") or None,
                status=data["status"],
                paper=data.get("paper", False),
                capital_source=data.get("capital_source") or Account.CapitalSource.BROKER,
                fixed_capital=data.get("fixed_capital"),
                actor=_actor(request),
            )
        # The admin goes on with `obj` (log entry, messages, redirect): point it at the row the service wrote.
        for field in obj._meta.concrete_fields:
            if not field.generated:
                setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    # ----------------------------------------------------------------------------- deleting
    def delete_view(self, request, object_id, extra_context=None):
        account = self.get_object(request, unquote(object_id))
        if account is None:
            return super().delete_view(request, object_id, extra_context)
        refusal = _history_refusal(account)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(self._change_url(account))
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            # It traded between the confirmation page and the delete (the service checks under a lock).
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(account))

    def delete_model(self, request, obj: Account) -> None:
        account_delete(account=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        for account in queryset:
            account_delete(account=account, actor=_actor(request))

    @admin.action(description="Delete selected accounts that never traded", permissions=["delete"])
    def delete_selected(self, request, queryset):
        # Django's own action under its own name (its confirmation page posts back to "delete_selected"),
        # refusing accounts with trading history and deleting through the service.
        deletable = []
        for account in queryset:
            refusal = _history_refusal(account)
            if refusal:
                self.message_user(request, refusal, messages.ERROR)
            else:
                deletable.append(account.pk)
        if not deletable:
            return None
        queryset = queryset.filter(pk__in=deletable)
        if not request.POST.get("post"):
            return django_delete_selected(self, request, queryset)
        if not self.has_delete_permission(request):
            raise PermissionDenied
        deleted, failed = [], []
        for account in queryset:
            try:
                with transaction.atomic():
                    self.log_deletions(request, queryset.filter(pk=account.pk))
                    account_delete(account=account, actor=_actor(request))
            except ApplicationError as exc:
                failed.append(exc.message)
            else:
                deleted.append(account.account_id)
        if deleted:
            self.message_user(
                request, f"Deleted {len(deleted)} account(s): {', '.join(deleted)}.", messages.SUCCESS
            )
        if failed:
            self.message_user(request, "Not deleted: " + " ".join(failed), messages.ERROR)
        return None

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is not RiskConfig:
            # Consent and credential inlines are read-only: nothing to save.
            super().save_formset(request, form, formset, change)
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            values = {name: inline_form.cleaned_data.get(name) for name in RiskConfigForm.Meta.fields}
            config = risk_config_replace(
                follower_id=form.instance.account_id, actor=_actor(request), **values
            )
            formset.changed_objects.append((config, list(inline_form.changed_data)))

    # ------------------------------------------------------------------------------ actions
    def _each(self, request, queryset, fn, verb: str) -> None:
        done, failed = 0, []
        for account in queryset:
            try:
                fn(account)
                done += 1
            except ApplicationError as exc:
                failed.append(f"{account.account_id}: {exc.message}")
        if done:
            self.message_user(request, f"{verb} {done} account(s).", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Failed for {len(failed)}: " + "; ".join(failed), messages.ERROR)

    @admin.action(description="Stop copy trading for the selected followers")
    def stop_copy(self, request, queryset) -> None:
        self._each(
            request,
            queryset.filter(role=Account.Role.FOLLOWER),
            lambda a: account_copy_trading_set(
                account=a, active=False, actor=_actor(request), stopped_by=request.user.get_username()
            ),
            "Stopped copy trading for",
        )

    @admin.action(description="Resume copy trading for the selected followers")
    def resume_copy(self, request, queryset) -> None:
        self._each(
            request,
            queryset.filter(role=Account.Role.FOLLOWER),
            lambda a: account_copy_trading_set(account=a, active=True, actor=_actor(request)),
            "Resumed copy trading for",
        )

    @admin.action(description="Enable the selected accounts")
    def enable_accounts(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda a: account_status_set(account=a, status=Account.Status.ACTIVE, actor=_actor(request)),
            "Enabled",
        )

    @admin.action(description="Disable the selected accounts")
    def disable_accounts(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda a: account_status_set(account=a, status=Account.Status.INACTIVE, actor=_actor(request)),
            "Disabled",
        )

    @admin.action(description="Check sessions now (a read call per account)")
    def check_sessions(self, request, queryset) -> None:
        counts: dict[str, int] = {}
        for account in queryset.select_related("credential"):
            result = account_session_check(account=account, actor=_actor(request))
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.message_user(request, f"Checked {sum(counts.values())} session(s): {summary}.", messages.INFO)

    @admin.action(description="Send consent link to the selected followers (shows the links)")
    def send_consent_links(self, request, queryset):
        links, failed = [], []
        for account in queryset.filter(role=Account.Role.FOLLOWER):
            try:
                links.append((account, consent_link_issue(account=account, actor=_actor(request))))
            except ApplicationError as exc:
                failed.append(f"{account.account_id}: {exc.message}")
        if failed:
            self.message_user(request, f"No link for {len(failed)}: " + "; ".join(failed), messages.ERROR)
        if not links:
            return None
        return self._consent_page(request, title="Consent links", links=links)

    @admin.action(description="Revoke consent of the selected followers")
    def revoke_consents(self, request, queryset) -> None:
        self._each(
            request,
            queryset.filter(role=Account.Role.FOLLOWER),
            lambda a: consent_revoke(account=a, actor=_actor(request)),
            "Revoked consent of",
        )

    # ------------------------------------------------------------------------------- custom views
    def get_urls(self):
        custom = [
            path(
                "<int:pk>/replace-credential/",
                self.admin_site.admin_view(self.replace_credential_view),
                name="accounts_account_replace_credential",
            ),
            path(
                "<int:pk>/consent-link/",
                self.admin_site.admin_view(self.consent_link_view),
                name="accounts_account_consent_link",
            ),
            path(
                "<int:pk>/consent-revoke/",
                self.admin_site.admin_view(self.consent_revoke_view),
                name="accounts_account_consent_revoke",
            ),
            path(
                "<int:pk>/consent-record/",
                self.admin_site.admin_view(self.consent_record_view),
                name="accounts_account_consent_record",
            ),
        ]
        return custom + super().get_urls()

    def _account_to_change(self, request: HttpRequest, pk: int, *, follower: bool = False) -> Account:
        account = get_object_or_404(Account, pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        if follower and account.role != Account.Role.FOLLOWER:
            raise PermissionDenied
        return account

    def _change_url(self, account: Account) -> str:
        return reverse("admin:accounts_account_change", args=[account.pk])

    def _consent_page(self, request: HttpRequest, **context) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **context}
        return TemplateResponse(request, CONSENT_TEMPLATE, context)

    def consent_link_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = self._account_to_change(request, pk, follower=True)
        if request.method != "POST":
            return self._consent_page(
                request,
                title=f"Send consent link: {account.account_id}",
                account=account,
                intro="Issue a new consent link for this follower. Any link issued before stops working. "
                "Send the link to the follower: it opens a page with the terms, where they agree.",
                submit="Issue consent link",
            )
        try:
            link = consent_link_issue(account=account, actor=_actor(request))
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(account))
        return self._consent_page(request, title="Consent link", account=account, links=[(account, link)])

    def consent_revoke_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = self._account_to_change(request, pk, follower=True)
        if request.method != "POST":
            return self._consent_page(
                request,
                title=f"Revoke consent: {account.account_id}",
                account=account,
                intro="No new order will be copied into this follower's account (exits still flow), and "
                "every consent link issued to them stops working.",
                submit="Revoke consent",
            )
        consent_revoke(account=account, actor=_actor(request))
        self.message_user(request, f"Consent revoked for {account.account_id}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(account))

    def consent_record_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = self._account_to_change(request, pk, follower=True)
        form = RecordConsentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            consent_record_by_operator(
                follower_id=account.account_id,
                reference=form.cleaned_data["reference"],
                terms_version=form.cleaned_data["terms_version"],
                actor=_actor(request),
            )
            self.message_user(request, f"Consent recorded for {account.account_id}.", messages.SUCCESS)
            return HttpResponseRedirect(self._change_url(account))
        return self._consent_page(
            request,
            title=f"Record consent on the follower's behalf: {account.account_id}",
            account=account,
            intro="Only for consent the follower gave elsewhere (a signed form, a recorded call). Prefer a "
            "consent link: the follower then agrees themselves and the evidence is recorded for you.",
            form=form,
            submit="Record consent",
        )

    @method_decorator(sensitive_post_parameters(*BrokerCredential.ENCRYPTED_FIELDS))
    def replace_credential_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = self._account_to_change(request, pk)
        form = ReplaceCredentialForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            clear = data["clear_session"]
            values = CredentialInput(
                api_key=data["api_key"] or None,
                api_secret=data["api_secret"] or None,
                access_token="" if clear else (data["access_token"] or None),
                broker_session_id="" if clear else (data["broker_session_id"] or None),
            )
            try:
                credential = credential_replace(account=account, values=values, actor=_actor(request))
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                if credential.has_pending_token:
                    message = (
                        f"Credential replaced for {account.account_id}: the new token waits for its check; "
                        "the working session stays in use until it passes."
                    )
                else:
                    message = (
                        f"Credential replaced for {account.account_id} (session {session_state(credential)})."
                    )
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(account))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Replace credential: {account.account_id}",
            "account": account,
            "form": form,
            "opts": self.model._meta,
            "credential": credential_of(account),
            "session_state": session_state(credential_of(account)),
        }
        return TemplateResponse(request, "admin/accounts/account/replace_credential.html", context)


class DaysField(forms.Field):
    """A list of dates typed as comma-separated YYYY-MM-DD (the JSON column holds ISO strings)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, widget=forms.TextInput(attrs={"size": 60}), **kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        days = []
        for part in str(value or "").split(","):
            if part.strip():
                try:
                    days.append(date.fromisoformat(part.strip()).isoformat())
                except ValueError:
                    raise forms.ValidationError(f"Not a date (YYYY-MM-DD): {part.strip()[:20]}") from None
        return sorted(set(days))


class MasterSettingsForm(forms.ModelForm):
    extra_closed_days = DaysField(
        help_text="Extra days the market is closed, not in the NSE calendar: comma-separated YYYY-MM-DD."
    )
    extra_trading_days = DaysField(
        help_text="Special sessions on otherwise closed days (e.g. Muhurat trading on a Sunday): "
        "comma-separated YYYY-MM-DD. The followers' copy windows still apply."
    )

    class Meta:
        model = MasterSettings
        fields = MASTER_SETTINGS_FIELDS  # what the settings service updates


@admin.register(MasterSettings)
class MasterSettingsAdmin(admin.ModelAdmin):
    form = MasterSettingsForm
    # Never shown as a list: the changelist opens the one row.
    list_display = ("__str__",)
    # The kill switch has its own page (audited, a typed confirmation to square off): never a form field.
    readonly_fields = (
        "copying_stopped",
        "copying_stopped_at",
        "copying_stopped_by",
        "copying_stopped_reason",
    )

    def has_add_permission(self, request) -> bool:
        return not MasterSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        row = MasterSettings.objects.filter(pk=MasterSettings.SINGLETON_ID).first()
        if row is None:
            # Never saved: the defaults apply; the add form shows them and saving goes through the service.
            return HttpResponseRedirect(reverse("admin:accounts_mastersettings_add"))
        return HttpResponseRedirect(reverse("admin:accounts_mastersettings_change", args=[row.pk]))

    def save_model(self, request, obj, form, change) -> None:
        names = form.changed_data if change else list(form.cleaned_data)
        master_settings_update(actor=_actor(request), **{name: form.cleaned_data[name] for name in names})
        obj._state.adding, obj._state.db = False, "default"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (time_column("created_at", "When"), "actor", "action", "target_short")
    list_filter = ("action",)
    search_fields = ("actor", "action", "target")
    readonly_fields = ("created_at", "actor", "action", "target", "details")
    date_hierarchy = "created_at"

    @admin.display(description="Target", ordering="target")
    def target_short(self, obj: AuditEvent) -> str:
        return truncated(obj.target, 40)


# ---------------------------------------------------------------------------------------- notifications
class NotificationChannelForm(forms.ModelForm):
    """A channel with its events as checkboxes; the model's clean() checks the target and the owner."""

    events = forms.MultipleChoiceField(
        choices=[(e.value, e.label) for e in SUBSCRIBABLE_EVENTS],
        required=False,
        widget=Checkboxes,
        help_text="What this channel is told. A follower's channel hears only about that follower (capture "
        "and kill switch are operator events).",
    )

    class Meta:
        model = NotificationChannel
        fields = ("name", "kind", "account", "target", "events", "enabled")


@admin.register(NotificationChannel)
class NotificationChannelAdmin(TimesInIstMixin, admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ("name", "kind", "owner", "target", "event_labels", "enabled")
    list_filter = ("kind", "enabled", ("account", admin.EmptyFieldListFilter))
    search_fields = ("name", "target", "account__account_id")
    readonly_fields = ("created_at", "updated_at")
    actions = ("send_test",)

    @admin.display(description="Owner", ordering="account__account_id")
    def owner(self, obj: NotificationChannel) -> str:
        return obj.account.account_id if obj.account is not None else "operator"

    @admin.display(description="Events")
    def event_labels(self, obj: NotificationChannel) -> str:
        labels = [NotificationEvent(e).label for e in obj.events or [] if e in NotificationEvent.values]
        return truncated(", ".join(labels), 40)

    def save_model(self, request, obj: NotificationChannel, form, change: bool) -> None:
        notification_channel_save(
            channel=obj, changed=list(form.changed_data), actor=_actor(request), created=not change
        )

    def delete_model(self, request, obj: NotificationChannel) -> None:
        notification_channel_delete(channel=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        for channel in queryset:
            notification_channel_delete(channel=channel, actor=_actor(request))

    @admin.action(description="Send a test message to the selected channels", permissions=["change"])
    def send_test(self, request, queryset) -> None:
        count = 0
        for channel in queryset:
            notification_test(channel=channel, actor=_actor(request))
            count += 1
        self.message_user(
            request,
            f"Test message queued for {count} channel(s); its outcome is in the notification deliveries.",
            messages.SUCCESS,
        )


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        time_column("created_at", "Queued"),
        "event",
        "channel",
        "status",
        "tries",
        "error_short",
    )
    list_filter = ("status", "event", "channel__kind", "channel")
    search_fields = ("dedupe_key", "subject", "channel__name")
    readonly_fields = (
        "created_at",
        "channel",
        "event",
        "dedupe_key",
        "status",
        "attempts",
        "sent_at",
        "updated_at",
        "last_error",
        "subject",
        "body",
    )
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel")

    @admin.display(description="Tries", ordering="attempts")
    def tries(self, obj: NotificationDelivery) -> int:
        return obj.attempts

    @admin.display(description="Last error", ordering="last_error")
    def error_short(self, obj: NotificationDelivery) -> str:
        return truncated(obj.last_error, 40)

"""Admin: accounts with risk config, consent and (masked, read-only) credential state; a write-only
"replace credential" form; vendor-login links and session badges; master settings; the audit log."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from accounts.encryption import mask_last4
from accounts.models import Account, AuditEvent, BrokerCredential, Consent, MasterSettings, RiskConfig
from accounts.selectors import credential_of, session_ready_today
from accounts.services.accounts import (
    CredentialInput,
    account_copy_trading_set,
    account_status_set,
    audit_admin_change,
    credential_replace,
)
from accounts.services.audit import audit_record
from accounts.services.sessions import account_session_check
from copytrade.core.exceptions import ApplicationError


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _masked(value: str) -> str:
    last4 = mask_last4(value)
    return f"••••{last4}" if last4 else ("set" if value else "—")


class RiskConfigInline(admin.StackedInline):
    model = RiskConfig
    can_delete = False
    extra = 0
    max_num = 1
    fields = (
        ("enabled", "sizing_mode"),
        ("lot_multiplier", "fixed_quantity", "max_quantity"),
        ("max_order_value", "max_daily_loss"),
        "allowed_instruments",
        ("allowed_product_types", "allowed_order_types"),
    )


class ConsentInline(admin.StackedInline):
    model = Consent
    can_delete = False
    extra = 0
    max_num = 1
    fields = ("trade_replication_enabled", "consent_given_at", "consent_token", "ip_address", "user_agent")
    readonly_fields = ("consent_given_at", "consent_token", "ip_address", "user_agent")


class CredentialInline(admin.StackedInline):
    """Credential state only: secrets as last 4 characters; replaced through the form, never edited here."""

    model = BrokerCredential
    can_delete = False
    extra = 0
    max_num = 0
    fields = (
        ("api_key_masked", "api_secret_masked"),
        ("access_token_masked", "broker_session_id_masked"),
        ("session_status", "session_obtained_at", "last_verified_at"),
        "last_error",
    )
    readonly_fields = fields[0] + fields[1] + fields[2] + ("last_error",)

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


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("account_id", "role", "name", "client_id", "api_flavor", "status", "paper")

    def clean(self):
        data = super().clean()
        if data.get("role") == Account.Role.MASTER and data.get("status") == Account.Status.ACTIVE:
            others = Account.objects.filter(role=Account.Role.MASTER, status=Account.Status.ACTIVE)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise ValidationError(
                    f"{others.first().account_id} is already the active master; deactivate it first."
                )
        if self.instance.pk and "role" in self.changed_data:
            raise ValidationError(
                "The role of an existing account cannot be changed (a follower never becomes the "
                "master silently); create a new account instead."
            )
        return data


class ReplaceCredentialForm(forms.Form):
    """Write-only: fields are never pre-filled; blank fields keep the stored value."""

    api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False), strip=True)
    api_secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False), strip=True)
    access_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        strip=True,
        help_text="A session token pasted from elsewhere (stored as unverified until the next check).",
    )
    broker_session_id = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=True
    )
    clear_session = forms.BooleanField(required=False, help_text="Forget the current session token.")

    def clean(self):
        data = super().clean()
        if not any(data.get(n) for n in BrokerCredential.ENCRYPTED_FIELDS) and not data.get("clear_session"):
            raise ValidationError("Enter at least one value (blank fields keep the stored value).")
        return data


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = (
        "account_id",
        "name",
        "role",
        "status",
        "client_id",
        "api_flavor",
        "copy_trading",
        "paper",
        "session_badge",
        "login_link",
    )
    list_filter = (
        "role",
        "status",
        "copy_trading_active",
        "paper",
        "api_flavor",
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
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("account_id", "role", "name", "client_id", "api_flavor", "status", "paper")}),
        ("Copy trading", {"fields": ("copy_trading_active", "stopped_at", "stopped_by")}),
        ("Session", {"fields": ("session_badge", "login_link", "replace_credential_link")}),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )
    inlines = (RiskConfigInline, ConsentInline, CredentialInline)
    actions = ("stop_copy", "resume_copy", "enable_accounts", "disable_accounts", "check_sessions")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("credential")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "role") if obj is not None else fields

    # -------------------------------------------------------------------------------- columns
    @admin.display(description="Copy", boolean=True, ordering="copy_trading_active")
    def copy_trading(self, obj: Account) -> bool:
        return obj.copy_trading_active

    @admin.display(description="Session")
    def session_badge(self, obj: Account) -> str:
        credential = credential_of(obj)
        if session_ready_today(credential):
            color, text = "#176c2d", "✅ ready for today"
        elif credential is None or credential.session_status == BrokerCredential.SessionStatus.MISSING:
            color, text = "#a31515", "❌ no session"
        elif credential.session_status == BrokerCredential.SessionStatus.EXPIRED:
            color, text = "#a31515", "❌ expired"
        else:
            color, text = "#a86400", "⚠️ not verified today"
        return format_html('<span style="color:{};font-weight:bold">{}</span>', color, text)

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

    # ------------------------------------------------------------------------------- saving
    def save_model(self, request, obj: Account, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_admin_change(
            actor=_actor(request),
            obj=obj,
            changed=list(form.changed_data),
            action="account.changed" if change else "account.created",
        )

    def save_formset(self, request, form, formset, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if inline_form.has_changed() and inline_form.instance.pk:
                name = inline_form.instance._meta.model_name
                audit_admin_change(
                    actor=_actor(request),
                    obj=inline_form.instance,
                    changed=list(inline_form.changed_data),
                    action=f"{name}.changed",
                )

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

    # -------------------------------------------------------------------- replace credential
    def get_urls(self):
        custom = [
            path(
                "<int:pk>/replace-credential/",
                self.admin_site.admin_view(self.replace_credential_view),
                name="accounts_account_replace_credential",
            ),
        ]
        return custom + super().get_urls()

    @method_decorator(sensitive_post_parameters(*BrokerCredential.ENCRYPTED_FIELDS))
    def replace_credential_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        account = get_object_or_404(Account, pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
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
            credential_replace(account=account, values=values, actor=_actor(request))
            self.message_user(request, f"Credential replaced for {account.account_id}.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:accounts_account_change", args=[account.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Replace credential: {account.account_id}",
            "account": account,
            "form": form,
            "opts": self.model._meta,
            "credential": credential_of(account),
        }
        return TemplateResponse(request, "admin/accounts/account/replace_credential.html", context)


@admin.register(MasterSettings)
class MasterSettingsAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "max_quantity_per_trade",
        "max_daily_loss_percentage",
        "min_lot_size",
        "default_lot_multiplier",
        "auto_liquidate_on_loss",
        "max_concurrent_trades",
        "auto_replicate_new_trades",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:
        return not MasterSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        row, _ = MasterSettings.objects.get_or_create(pk=MasterSettings.SINGLETON_ID)
        return HttpResponseRedirect(reverse("admin:accounts_mastersettings_change", args=[row.pk]))

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=_actor(request),
            action="master_settings.updated",
            target="master_settings",
            details={"changed": {n: str(form.cleaned_data[n]) for n in form.changed_data}},
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target")
    list_filter = ("action",)
    search_fields = ("actor", "action", "target")
    readonly_fields = ("created_at", "actor", "action", "target", "details")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

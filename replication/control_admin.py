"""The control panel's pages inside the admin: the dashboard (the admin's landing page), copy to selected
followers with a dry-run preview, live results, exit confirmation, positions with square-off, and the kill
switch.

Views parse the request, call one service or selector, and render; every change is a CSRF-protected POST that
needs the matching permission (view-only staff see everything and change nothing). The admin site wires these
into its URLs behind `admin_view` (staff login and second factor).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Account
from accounts.selectors import master_settings_get
from broker.types import OrderType, ProductType
from copytrade.core.exceptions import ApplicationError
from replication import panel_selectors
from replication.models import MasterTrade, OrderMapping
from replication.services import control
from replication.services.capture_poll import master_poll_now
from replication.services.fanout import TradeInput, trade_fan_out_preview
from replication.services.reconcile import order_mappings_reconcile_now

PERM_TRADE = "replication.operate_trades"
PERM_SQUARE_OFF = "replication.square_off_followers"
PERM_KILL = "replication.use_kill_switch"


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"Needs the permission {perm}")


def _rights(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "can_trade": user.has_perm(PERM_TRADE),
        "can_square_off": user.has_perm(PERM_SQUARE_OFF),
        "can_kill": user.has_perm(PERM_KILL),
    }


def _results_url(master_order_id: str) -> str:
    return reverse("admin:control-results", args=[master_order_id])


class ControlPanel:
    """The panel's views, bound to the admin site that serves them."""

    def __init__(self, site: AdminSite) -> None:
        self.site = site

    def urls(self) -> list:
        view = self.site.admin_view
        routes: list[tuple[str, Callable[..., HttpResponse], str]] = [
            ("panels/", self.dashboard_panels, "control-panels"),
            ("poll/", self.poll, "control-poll"),
            ("copy/", self.manual_copy, "control-manual-copy"),
            ("orders/<str:master_order_id>/copy/", self.copy, "control-copy"),
            ("orders/<str:master_order_id>/replicate/", self.replicate, "control-replicate"),
            ("orders/<str:master_order_id>/dismiss/", self.dismiss, "control-dismiss"),
            ("orders/<str:master_order_id>/exit/", self.exit, "control-exit"),
            ("orders/<str:master_order_id>/results/", self.results, "control-results"),
            ("orders/<str:master_order_id>/results/panel/", self.results_panel, "control-results-panel"),
            ("mappings/<int:pk>/retry/", self.retry, "control-retry"),
            ("mappings/<int:pk>/reconcile/", self.reconcile, "control-reconcile"),
            ("positions/", self.positions, "control-positions"),
            ("positions/square-off/", self.square_off, "control-square-off"),
            ("kill-switch/", self.kill_switch, "control-kill-switch"),
        ]
        return [path(f"control/{route}", view(fn), name=name) for route, fn, name in routes]

    def _render(self, request: HttpRequest, template: str, title: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.site.each_context(request),
                **_rights(request),
                "title": title,
                "kill_switch": master_settings_get(),
                **context,
            },
        )

    # ------------------------------------------------------------------------------------ dashboard
    def _panels_context(self) -> dict[str, Any]:
        attention, failed_actions = panel_selectors.needs_attention()
        return {
            "trades": panel_selectors.master_trades_today(),
            "followers": panel_selectors.follower_readiness(),
            "attention": attention,
            "failed_actions": failed_actions,
            "capture": panel_selectors.capture_overview(),
        }

    def dashboard(self, request: HttpRequest, app_list: list) -> TemplateResponse:
        return self._render(
            request,
            "admin/control/dashboard.html",
            "Dashboard",
            app_list=app_list,
            **self._panels_context(),
        )

    def dashboard_panels(self, request: HttpRequest) -> TemplateResponse:
        return self._render(request, "admin/control/_panels.html", "Dashboard", **self._panels_context())

    @staticmethod
    def _back(request: HttpRequest) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:index"))

    def _act(
        self, request: HttpRequest, fn: Callable[[], object], failure_url: str, success: str = ""
    ) -> HttpResponse | None:
        """Run an action; report its outcome (`success`, or the text it returns) or its error as a message.
        None on success, else the redirect to `failure_url`."""
        try:
            outcome = fn()
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(failure_url)
        text = outcome if isinstance(outcome, str) else success
        if text:
            messages.success(request, text)
        return None

    def poll(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        _require(request, PERM_TRADE)

        def run() -> str:
            result = master_poll_now()
            return result.skipped or f"Polled the master: {result.new_trades} new, {result.changed} changed."

        return self._act(request, run, reverse("admin:index")) or self._back(request)

    # ------------------------------------------------------------------------------------ copying
    def _preview(self, trade: TradeInput) -> list[panel_selectors.PreviewLine]:
        return panel_selectors.preview_lines(trade_fan_out_preview(trade=trade))

    def _copy_selected(
        self, request: HttpRequest, master_order_id: str, failure_url: str, trade: TradeInput | None = None
    ) -> HttpResponse:
        """POST "Copy to selected": the fan-out the API runs, then the result page (or back, erring)."""
        _require(request, PERM_TRADE)
        chosen = request.POST.getlist("followers")
        failed = self._act(
            request,
            lambda: control.master_order_copy(
                master_order_id=master_order_id, follower_ids=chosen, actor=_actor(request), trade=trade
            ),
            failure_url,
            success=f"Master order {master_order_id}: copying to {len(chosen)} selected followers.",
        )
        return failed or HttpResponseRedirect(_results_url(master_order_id))

    def copy(self, request: HttpRequest, master_order_id: str) -> HttpResponse:
        here = reverse("admin:control-copy", args=[master_order_id])
        if request.method == "POST":
            return self._copy_selected(request, master_order_id, here)
        captured = MasterTrade.objects.filter(broker_order_id=master_order_id).order_by("-pk").first()
        try:
            trade = control.trade_input_for(master_order_id=master_order_id)
            lines, problem = self._preview(trade), ""
        except ApplicationError as exc:
            trade, lines, problem = None, [], exc.message
        return self._render(
            request,
            "admin/control/copy.html",
            f"Copy master order {master_order_id} to selected followers",
            master_order_id=master_order_id,
            trade=trade,
            captured=captured,
            lines=lines,
            problem=problem,
            form_action=here,
        )

    def manual_copy(self, request: HttpRequest) -> HttpResponse:
        here = reverse("admin:control-manual-copy")
        data = None
        if request.method == "POST":
            if "copy" in request.POST:
                _require(request, PERM_TRADE)
            data = request.POST.copy()
            # Fixed at the first preview, so the copy that follows is the same trade (idempotent on replay).
            if not data.get("master_order_id"):
                data["master_order_id"] = control.manual_order_id()
        form = ManualTradeForm(data)
        lines: list[panel_selectors.PreviewLine] = []
        problem = ""
        if request.method == "POST" and form.is_valid():
            trade = form.trade_input()
            if "copy" in request.POST:
                return self._copy_selected(request, trade.id, here, trade=trade)
            try:
                lines = self._preview(trade)
            except ApplicationError as exc:
                problem = exc.message
        return self._render(
            request,
            "admin/control/copy.html",
            "Copy a manual trade to selected followers",
            form=form,
            lines=lines,
            problem=problem,
            form_action=here,
            manual=True,
        )

    def replicate(self, request: HttpRequest, master_order_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        _require(request, PERM_TRADE)
        failed = self._act(
            request,
            lambda: control.master_order_copy(
                master_order_id=master_order_id, follower_ids=None, actor=_actor(request)
            ),
            reverse("admin:index"),
            success=f"Master order {master_order_id}: replicating to every active follower.",
        )
        return failed or HttpResponseRedirect(_results_url(master_order_id))

    def dismiss(self, request: HttpRequest, master_order_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        _require(request, PERM_TRADE)
        dismissed = control.master_order_dismiss(master_order_id=master_order_id, actor=_actor(request))
        if dismissed:
            messages.success(request, f"Master order {master_order_id} dismissed: it will not be copied.")
        else:
            messages.warning(request, f"Master order {master_order_id} was not waiting: nothing dismissed.")
        return self._back(request)

    def exit(self, request: HttpRequest, master_order_id: str) -> HttpResponse:
        here = reverse("admin:control-exit", args=[master_order_id])
        if request.method == "POST":
            _require(request, PERM_TRADE)
            failed = self._act(
                request,
                lambda: control.master_order_exit(master_order_id=master_order_id, actor=_actor(request)),
                here,
                success=f"Master order {master_order_id}: exiting on every follower.",
            )
            return failed or HttpResponseRedirect(_results_url(master_order_id))
        return self._render(
            request,
            "admin/control/exit.html",
            f"Exit master order {master_order_id}",
            master_order_id=master_order_id,
            plan=panel_selectors.exit_plan(master_order_id=master_order_id),
        )

    def results(self, request: HttpRequest, master_order_id: str) -> TemplateResponse:
        return self._render(
            request,
            "admin/control/results.html",
            f"Results for master order {master_order_id}",
            results=panel_selectors.order_results(master_order_id=master_order_id),
        )

    def results_panel(self, request: HttpRequest, master_order_id: str) -> TemplateResponse:
        results = panel_selectors.order_results(master_order_id=master_order_id)
        response = self._render(request, "admin/control/_results.html", "Results", results=results)
        response["X-Refresh-Final"] = "1" if results.final else "0"
        return response

    # ------------------------------------------------------------------------------------ attention
    def retry(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        _require(request, PERM_TRADE)
        mapping = get_object_or_404(OrderMapping, pk=pk)
        failed = self._act(
            request,
            lambda: control.order_mapping_retry(mapping_id=pk, actor=_actor(request)),
            reverse("admin:index"),
            success=f"{mapping.follower.account_id}: sending the entry for {mapping.master_order_id} again.",
        )
        return failed or HttpResponseRedirect(_results_url(mapping.master_order_id))

    def reconcile(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        _require(request, PERM_TRADE)
        mapping = get_object_or_404(OrderMapping, pk=pk)
        outcomes = order_mappings_reconcile_now(mapping_ids=[pk], actor=_actor(request))
        ignored = outcomes.pop("not UNKNOWN", 0)
        summary = ", ".join(f"{status}" for status in sorted(outcomes)) or "nothing to do"
        text = f"{mapping.follower.account_id} order for {mapping.master_order_id}: reconciled ({summary})"
        messages.info(request, text + (" — it was not UNKNOWN, left alone." if ignored else "."))
        return self._back(request)

    # ------------------------------------------------------------------------------------ positions
    def positions(self, request: HttpRequest) -> TemplateResponse:
        return self._render(
            request,
            "admin/control/positions.html",
            "Positions: master and followers",
            overview=panel_selectors.positions_overview(),
        )

    def square_off(self, request: HttpRequest) -> HttpResponse:
        source = request.POST if request.method == "POST" else request.GET
        follower_id = source.get("follower", "")
        follower = (
            get_object_or_404(Account, account_id=follower_id, role=Account.Role.FOLLOWER)
            if follower_id
            else None
        )
        pks = [follower.pk] if follower is not None else None
        if request.method == "POST" and "confirm" in request.POST:
            _require(request, PERM_SQUARE_OFF)
            result = control.followers_square_off(follower_pks=pks, actor=_actor(request))
            who = follower.account_id if follower is not None else "every follower"
            messages.success(request, f"Squaring off {who}: {result.trades} copied trades being exited.")
            return HttpResponseRedirect(reverse("admin:control-positions"))
        return self._render(
            request,
            "admin/control/square_off.html",
            f"Square off {follower.account_id if follower else 'every follower'}",
            follower=follower,
            plan=panel_selectors.square_off_plan(follower_pks=pks),
        )

    # ------------------------------------------------------------------------------------ kill switch
    def kill_switch(self, request: HttpRequest) -> HttpResponse:
        here = reverse("admin:control-kill-switch")
        if request.method == "POST":
            _require(request, PERM_KILL)
            action = request.POST.get("action", "")
            actor, reason = _actor(request), request.POST.get("reason", "")
            if action == "stop":
                control.copying_stop(actor=actor, reason=reason)
                messages.warning(request, "Copying stopped: no new entry goes to any follower; exits flow.")
            elif action == "resume":
                control.copying_resume(actor=actor)
                messages.success(request, "Copying resumed: new master trades are copied again.")
            elif action == "stop_and_square_off":
                _require(request, PERM_SQUARE_OFF)
                confirmation = request.POST.get("confirmation", "")

                def stop_and_square_off() -> str:
                    result = control.copying_stop_and_square_off(
                        actor=actor, confirmation=confirmation, reason=reason
                    )
                    return f"Copying stopped; squaring off everyone: {result.trades} copied trades exiting."

                failed = self._act(request, stop_and_square_off, here)
                if failed:
                    return failed
            else:
                messages.error(request, "Unknown action: nothing done.")
            return HttpResponseRedirect(here)
        return self._render(
            request,
            "admin/control/kill_switch.html",
            "Kill switch",
            confirmation_text=control.SQUARE_OFF_EVERYONE,
            plan=panel_selectors.square_off_plan(follower_pks=None),
        )


class ManualTradeForm(forms.Form):
    """A trade the operator enters by hand (the seed's trade object): previewed, then copied."""

    master_order_id = forms.RegexField(regex=control.MANUAL_ORDER_ID, widget=forms.HiddenInput)
    symbol = forms.CharField(max_length=40, help_text="Trading symbol as on the exchange, e.g. SBIN")
    exchange = forms.ChoiceField(choices=[(e, e) for e in ("NSE", "BSE", "NFO", "BFO", "CDS", "MCX")])
    side = forms.ChoiceField(choices=[("BUY", "BUY"), ("SELL", "SELL")])
    quantity = forms.IntegerField(min_value=1, max_value=1_000_000)
    product_type = forms.ChoiceField(choices=[(p.value, p.value) for p in ProductType])
    order_type = forms.ChoiceField(choices=[(o.value, o.value) for o in OrderType])
    price = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=4,
        help_text="For LIMIT and SL",
    )

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("order_type") in ("LIMIT", "SL") and not data.get("price"):
            self.add_error("price", "A LIMIT or SL order needs a price.")
        return data

    def trade_input(self) -> TradeInput:
        data = self.cleaned_data
        return TradeInput(
            id=data["master_order_id"],
            symbol=data["symbol"],
            side=data["side"],
            quantity=data["quantity"],
            exchange=data["exchange"],
            product_type=data["product_type"],
            order_type=data["order_type"],
            price=data.get("price"),
        )

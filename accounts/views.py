"""Public pages (not the API, no operator auth): the follower's consent page behind a signed consent link."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_variables

from accounts.exceptions import ConsentLinkGone
from accounts.selectors import consent_link_is_current, consent_link_read
from accounts.services.consent import TERMS_TEMPLATE, TERMS_VERSION, consent_give_by_link
from copytrade.core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

PAGE = "accounts/consent/page.html"


def client_ip(request: HttpRequest) -> str:
    """The follower's address as the proxy in front of us reports it (first X-Forwarded-For hop)."""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.headers.get("x-real-ip") or request.META.get("REMOTE_ADDR") or "unknown"


def _refused(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    # The link itself is a credential: never logged.
    logger.warning("consent link refused from %s: %s", client_ip(request), exc.code)
    return render(request, PAGE, {"state": "refused", "message": exc.message}, status=exc.status_code)


@method_decorator([never_cache, csrf_protect], name="dispatch")
class ConsentPageView(View):
    """GET shows the terms and an "I agree" form; POST records the follower's consent (time, IP, user agent,
    terms version). A link that does not work is refused with 400 (not ours) or 410 (expired, used,
    revoked, replaced), and nothing is written."""

    http_method_names = ["get", "post"]

    @method_decorator(sensitive_variables("token", "nonce"))
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            account, nonce = consent_link_read(token=token)
            if not consent_link_is_current(account=account, nonce=nonce):
                raise ConsentLinkGone()
        except ApplicationError as exc:
            return _refused(request, exc)
        return render(request, PAGE, self._context(account, state="ask"))

    @method_decorator(sensitive_variables("token", "nonce"))
    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            account, nonce = consent_link_read(token=token)
            if not consent_link_is_current(account=account, nonce=nonce):
                raise ConsentLinkGone()
            if request.POST.get("agree") != "yes":
                context = self._context(
                    account, state="ask", error="Tick the box to agree, or close this page."
                )
                return render(request, PAGE, context, status=400)
            consent = consent_give_by_link(
                token=token, ip_address=client_ip(request), user_agent=request.headers.get("user-agent", "")
            )
        except ApplicationError as exc:
            return _refused(request, exc)
        return render(request, PAGE, {**self._context(account, state="given"), "consent": consent})

    @staticmethod
    def _context(account, *, state: str, error: str = "") -> dict:
        return {
            "state": state,
            "account": account,
            "terms_template": TERMS_TEMPLATE,
            "terms_version": TERMS_VERSION,
            "error": error,
        }

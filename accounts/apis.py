"""Follower, admin, master and vendor-login APIs with the seed's paths and JSON (every body has `ok`).

Each view parses its input, calls one service or selector and serializes the answer; errors are raised as
ApplicationError subclasses and rendered by the core handler.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import serializers as s
from accounts.encryption import mask_last4, token_mask
from accounts.exceptions import SessionMissing
from accounts.models import Account, BrokerCredential
from accounts.selectors import (
    account_get,
    accounts_with_token,
    credential_of,
    follower_get,
    follower_list,
    follower_risk_config_get,
    master_get_active,
    master_settings_get,
    session_state,
)
from accounts.services.accounts import (
    CredentialInput,
    account_copy_trading_set,
    credential_upsert,
    follower_create,
    master_settings_update,
    risk_config_replace,
)
from accounts.services.consent import (
    consent_link_issue,
    consent_record_by_operator,
    consent_revoke,
)
from accounts.services.sessions import (
    PENDING_LOGIN_SESSION_KEY,
    REPLACEMENT_REFUSED,
    account_session_check,
    master_disconnect,
    vendor_login_complete,
    vendor_login_url,
)
from copytrade.core.auth import ServiceUser
from copytrade.core.exceptions import ApplicationError, NotFound, UpstreamFailed, ValidationFailed

logger = logging.getLogger(__name__)

ERRORS = {
    400: OpenApiResponse(s.ErrorOutput, description="Validation failed (the message names the field)"),
    401: OpenApiResponse(s.ErrorOutput, description="Missing or wrong x-qa-secret"),
    404: OpenApiResponse(s.ErrorOutput, description="Follower not found"),
}


def _actor(request: Request) -> str:
    return getattr(request.user, "username", "") or "api"


def _parse(serializer_class, data) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _follower_data(account: Account) -> dict[str, Any]:
    credential = credential_of(account)
    consent = getattr(account, "consent", None)
    state = session_state(credential)
    return {
        "follower_id": account.account_id,
        "name": account.name,
        "client_id": account.client_id,
        "status": account.status,
        "api_flavor": account.api_flavor,
        "paper": account.paper,
        "copy_trading_active": account.copy_trading_active,
        "consent_given": bool(consent and consent.trade_replication_enabled),
        "session_status": state,
        "session_ready_today": state == BrokerCredential.SessionStatus.VALID,
        "replacement_pending": bool(credential and credential.has_pending_token),
        "created_at": account.created_at,
    }


def _consent_data(account: Account) -> dict[str, Any] | None:
    consent = getattr(account, "consent", None)
    if consent is None:
        return None
    return {
        "follower_id": account.account_id,
        "enabled": consent.trade_replication_enabled,
        "consentGivenAt": consent.consent_given_at,
        "recordedBy": consent.recorded_by or None,
        "reference": consent.reference,
        "termsVersion": consent.terms_version,
        "revokedAt": consent.revoked_at,
    }


def _stop_state(account: Account) -> dict[str, Any]:
    consent = getattr(account, "consent", None)
    return {
        "follower_id": account.account_id,
        "enabled": bool(consent and consent.trade_replication_enabled),
        "copyTradingActive": account.copy_trading_active,
        "stoppedAt": account.stopped_at,
        "stoppedBy": account.stopped_by or None,
    }


class FollowersApi(APIView):
    """List followers, or create one (with default risk config and, optionally, credentials)."""

    @extend_schema(operation_id="followers_list", responses={200: s.FollowerListOutput, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        followers = [_follower_data(account) for account in follower_list()]
        return Response(s.FollowerListOutput({"ok": True, "followers": followers}).data)

    @extend_schema(
        operation_id="followers_create",
        request=s.FollowerCreateInput,
        responses={201: s.FollowerCreateOutput, **ERRORS, 409: OpenApiResponse(s.ErrorOutput)},
    )
    @sensitive_variables("data")
    def post(self, request: Request) -> Response:
        data = _parse(s.FollowerCreateInput, request.data)
        account = follower_create(
            follower_id=data["followerId"],
            client_id=data["clientId"],
            name=data.get("name", ""),
            api_flavor=data.get("apiFlavor"),
            paper=data.get("paper", False),
            credential=CredentialInput(
                api_key=data.get("apiKey") or None,
                api_secret=data.get("apiSecret") or None,
                access_token=data.get("accessToken") or None,
                broker_session_id=data.get("brokerSessionId") or None,
            ),
            actor=_actor(request),
        )
        account = follower_list().get(pk=account.pk)
        body = {"ok": True, "message": "Follower added successfully", "follower": _follower_data(account)}
        return Response(s.FollowerCreateOutput(body).data, status=201)


class FollowerCredentialsApi(APIView):
    """Store a follower's broker credentials (encrypted), or show them as last-4 characters.

    A new token is UNVERIFIED and checked in the background at once; over a session that works today it
    waits as the replacement (`replacementPending`) and the working session stays in use until it passes.
    """

    @extend_schema(
        operation_id="followers_credentials_save",
        request=s.CredentialsInput,
        responses={200: s.CredentialSavedOutput, **ERRORS},
    )
    @sensitive_variables("data")
    def post(self, request: Request) -> Response:
        data = _parse(s.CredentialsInput, request.data)
        credential = credential_upsert(
            follower_id=data["followerId"],
            client_id=data.get("clientId") or None,
            values=CredentialInput(
                api_key=data.get("apiKey"),
                api_secret=data.get("apiSecret"),
                access_token=data["accessToken"],
                broker_session_id=data.get("brokerSessionId", ""),
            ),
            actor=_actor(request),
        )
        body = {
            "ok": True,
            "message": "Credentials saved successfully",
            "credentialId": credential.pk,
            "sessionStatus": session_state(credential),
            "replacementPending": credential.has_pending_token,
        }
        return Response(s.CredentialSavedOutput(body).data)

    @extend_schema(
        operation_id="followers_credentials_get",
        parameters=[s.FollowerIdQuery],
        responses={200: s.CredentialGetOutput, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.FollowerIdQuery, request.query_params)
        account = follower_get(follower_id=query["followerId"])
        credential = credential_of(account)
        if credential is None:
            raise NotFound("Credentials not found", code="credentials_not_found")
        body = {
            "ok": True,
            "credential": {
                "follower_id": account.account_id,
                "client_id": account.client_id,
                "api_key_last4": mask_last4(credential.api_key),
                "access_token_last4": mask_last4(credential.session_token),
                "status": account.status,
                "created_at": credential.created_at,
                "session_status": session_state(credential),
                "replacement_pending": credential.has_pending_token,
                "last_verified_at": credential.last_verified_at,
                "last_error": credential.last_error,
            },
        }
        return Response(s.CredentialGetOutput(body).data)


class FollowerRiskConfigApi(APIView):
    """Replace a follower's risk config (omitted fields reset to the seed defaults), or read it."""

    @extend_schema(
        operation_id="followers_risk_config_replace",
        request=s.RiskConfigInput,
        responses={200: s.RiskConfigSavedOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = dict(_parse(s.RiskConfigInput, request.data))
        follower_id = data.pop("followerId")
        config = risk_config_replace(follower_id=follower_id, actor=_actor(request), **data)
        body = {"ok": True, "message": "Risk config updated successfully", "configId": config.pk}
        return Response(s.RiskConfigSavedOutput(body).data)

    @extend_schema(
        operation_id="followers_risk_config_get",
        parameters=[s.FollowerIdQuery],
        responses={200: s.RiskConfigGetOutput, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.FollowerIdQuery, request.query_params)
        config = follower_risk_config_get(follower_id=query["followerId"])
        return Response(s.RiskConfigGetOutput({"ok": True, "config": config}).data)


class FollowerConsentApi(APIView):
    """Read a follower's consent and its evidence, or record consent the follower gave elsewhere.

    Followers give consent themselves, on the page of a consent link (`POST /api/followers/consent-link`).
    The operator may record consent obtained otherwise only with `recordedByOperator: true` and a
    `reference` to the evidence; no IP or user agent is stored then (they would be the operator's).
    """

    @extend_schema(
        operation_id="followers_consent_record",
        request=s.ConsentInput,
        responses={
            200: s.ConsentSavedOutput,
            400: OpenApiResponse(
                s.ErrorOutput,
                description="Validation failed, or recordedByOperator/reference missing "
                "(code consent_needs_follower: send the follower a consent link instead)",
            ),
            401: ERRORS[401],
            404: ERRORS[404],
        },
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.ConsentInput, request.data)
        follower_get(follower_id=data["followerId"])
        consent = consent_record_by_operator(
            follower_id=data["followerId"],
            reference=data["reference"],
            consent_token=data["consentToken"],
            terms_version=data["termsVersion"],
            actor=_actor(request),
        )
        body = {"ok": True, "message": "Consent recorded successfully", "consentId": consent.pk}
        return Response(s.ConsentSavedOutput(body).data)

    @extend_schema(
        operation_id="followers_consent_get",
        parameters=[s.FollowerIdQuery],
        responses={200: s.ConsentGetOutput, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.FollowerIdQuery, request.query_params)
        account = follower_get(follower_id=query["followerId"])
        return Response(s.ConsentGetOutput({"ok": True, "consent": _consent_data(account)}).data)


class FollowerConsentRevokeApi(APIView):
    """Withdraw a follower's consent (no more copies) and end every consent link issued to them."""

    @extend_schema(
        operation_id="followers_consent_revoke",
        request=s.FollowerIdInput,
        responses={200: s.ConsentRevokedOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.FollowerIdInput, request.data)
        account = follower_get(follower_id=data["followerId"])
        consent_revoke(account=account, actor=_actor(request))
        account = follower_list().get(pk=account.pk)
        body = {
            "ok": True,
            "message": f"Consent revoked for {account.account_id}",
            "consent": _consent_data(account),
        }
        return Response(s.ConsentRevokedOutput(body).data)


class FollowerConsentLinkApi(APIView):
    """Issue a signed, expiring consent link for the follower (older links stop working); send it to them."""

    @extend_schema(
        operation_id="followers_consent_link",
        request=s.FollowerIdInput,
        responses={
            200: s.ConsentLinkOutput,
            **ERRORS,
            503: OpenApiResponse(s.ErrorOutput, description="COPYTRADE_PUBLIC_URL is not set"),
        },
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.FollowerIdInput, request.data)
        account = follower_get(follower_id=data["followerId"])
        link = consent_link_issue(account=account, actor=_actor(request))
        body = {"ok": True, "url": link.url, "expiresAt": link.expires_at}
        return Response(s.ConsentLinkOutput(body).data)


class FollowerStopCopyApi(APIView):
    """The master's per-follower stop/resume switch."""

    @extend_schema(
        operation_id="followers_stop_copy_trading_set",
        request=s.StopCopyInput,
        parameters=[
            OpenApiParameter("x-master-id", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)
        ],
        responses={200: s.StopCopyOutput, **ERRORS},
    )
    def patch(self, request: Request) -> Response:
        data = _parse(s.StopCopyInput, request.data)
        action = data["action"].lower()
        account = follower_get(follower_id=data["followerId"])
        stopped_by = request.headers.get("x-master-id", "").strip()
        if not stopped_by:
            stopped_by = "admin" if isinstance(request.user, ServiceUser) else request.user.username
        account = account_copy_trading_set(
            account=account, active=action == "resume", actor=_actor(request), stopped_by=stopped_by
        )
        verb = "resumed" if action == "resume" else "stopped"
        body = {
            "ok": True,
            "message": f"Copy trading {verb} for {account.account_id}",
            "consent": _stop_state(account),
        }
        return Response(s.StopCopyOutput(body).data)

    @extend_schema(
        operation_id="followers_stop_copy_trading_get",
        parameters=[s.FollowerIdQuery],
        responses={200: s.StopCopyGetOutput, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = _parse(s.FollowerIdQuery, request.query_params)
        state = _stop_state(follower_get(follower_id=query["followerId"]))
        body = {"ok": True, **{k: state[k] for k in ("copyTradingActive", "stoppedAt", "stoppedBy")}}
        return Response(s.StopCopyGetOutput(body).data)


class FollowerTestConnectApi(APIView):
    """Verify a follower's session with a real read call (profile) and record the result (a replacement
    token waiting for its check is tried first)."""

    @extend_schema(
        operation_id="followers_test_connect",
        parameters=[s.FollowerIdQuery],
        responses={200: s.TestConnectOutput, **ERRORS, 502: OpenApiResponse(s.ErrorOutput)},
    )
    def get(self, request: Request) -> Response:
        if not request.query_params.get("followerId", "").strip():
            raise ValidationFailed("followerId required", extra={"field": "followerId"})
        query = _parse(s.FollowerIdQuery, request.query_params)
        account = follower_get(follower_id=query["followerId"])
        result = account_session_check(account=account, actor=_actor(request))
        if result.status == "MISSING":
            raise SessionMissing()
        if result.status == "EXPIRED":
            raise UpstreamFailed(f"Session expired: {result.message}", code="session_expired")
        if result.status != "VALID":
            raise UpstreamFailed(f"Alice Blue call failed: {result.message}")
        body = {
            "ok": True,
            "message": "Connected",
            "clientId": account.client_id,
            "sessionStatus": BrokerCredential.SessionStatus.VALID,
            "replacementPending": result.replacement == "pending",
            "warning": REPLACEMENT_REFUSED if result.replacement == "refused" else None,
        }
        return Response(s.TestConnectOutput(body).data)


class AdminAccountsApi(APIView):
    """Accounts holding a session token, with the seed's tokenMask (first 10 + '...' + last 4)."""

    @extend_schema(
        operation_id="admin_accounts_list", responses={200: s.AdminAccountsOutput, 401: ERRORS[401]}
    )
    def get(self, request: Request) -> Response:
        rows = [
            {"userId": a.account_id, "tokenMask": token_mask(a.credential.session_token)}
            for a in accounts_with_token()
        ]
        return Response(s.AdminAccountsOutput({"ok": True, "accounts": len(rows), "list": rows}).data)


class AdminSettingsApi(APIView):
    """The master settings: read (snake_case) or update (camelCase; fields not sent keep their value)."""

    @extend_schema(
        operation_id="admin_settings_get", responses={200: s.MasterSettingsGetOutput, 401: ERRORS[401]}
    )
    def get(self, request: Request) -> Response:
        return Response(s.MasterSettingsGetOutput({"ok": True, "settings": master_settings_get()}).data)

    @extend_schema(
        operation_id="admin_settings_update",
        request=s.MasterSettingsInput,
        responses={200: s.OkMessageOutput, 400: ERRORS[400], 401: ERRORS[401]},
    )
    def post(self, request: Request) -> Response:
        data = _parse(s.MasterSettingsInput, request.data)
        values = {s.MasterSettingsInput.FIELD_MAP[key]: value for key, value in data.items()}
        master_settings_update(actor=_actor(request), **values)
        return Response(s.OkMessageOutput({"ok": True, "message": "Settings updated successfully"}).data)


class MasterStatusApi(APIView):
    """The active master and its token mask, or null when there is none or it has no session."""

    @extend_schema(operation_id="master_status", responses={200: s.MasterStatusOutput, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
        master = master_get_active()
        credential = credential_of(master) if master else None
        data = None
        if master is not None and credential is not None and credential.session_token:
            data = {"userId": master.account_id, "tokenMask": token_mask(credential.session_token)}
        return Response(s.MasterStatusOutput({"ok": True, "master": data}).data)


class MasterDisconnectApi(APIView):
    """Forget the master's session; the account stays the master."""

    @extend_schema(
        operation_id="master_disconnect", request=None, responses={200: s.OkMessageOutput, 401: ERRORS[401]}
    )
    def post(self, request: Request) -> Response:
        master_disconnect(actor=_actor(request))
        return Response(s.OkMessageOutput({"ok": True, "message": "Master account disconnected"}).data)


class VendorLoginStartApi(APIView):
    """Redirect the browser to Alice Blue's login page with our app code, remembering the account."""

    @extend_schema(
        operation_id="alice_vendor_login_start",
        parameters=[s.VendorStartQuery],
        responses={
            302: OpenApiResponse(description="Redirect to ALICE_LOGIN_URL?appcode=..."),
            **ERRORS,
            503: OpenApiResponse(s.ErrorOutput, description="Alice Blue login is not configured"),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        query = _parse(s.VendorStartQuery, request.query_params)
        url = vendor_login_url()
        account_id = query.get("accountId")
        if account_id:
            account_get(account_id=account_id)  # 404 for an unknown account
            request.session[PENDING_LOGIN_SESSION_KEY] = account_id
        else:
            request.session.pop(PENDING_LOGIN_SESSION_KEY, None)
        return HttpResponseRedirect(url)


class VendorLoginCallbackApi(APIView):
    """Where Alice Blue sends the browser back: exchange authCode and store the session on the account.

    Reachable without x-qa-secret (Alice Blue's redirect carries none); the one-time authCode is the
    proof. Answers an HTML page saying what happened, never a secret.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="alice_vendor_login_callback",
        auth=[],
        parameters=[s.VendorCallbackQuery],
        responses={
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Session stored"),
            (400, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="authCode or userId missing"),
            (403, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="No account to store it on"),
            (502, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Alice Blue refused the code"),
            (503, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="Login not configured"),
        },
    )
    @sensitive_variables("auth_code", "params")
    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        auth_code = params.get("authCode") or params.get("authcode") or params.get("code") or ""
        user_id = (params.get("userId") or params.get("userid") or params.get("user") or "").strip()
        pending = request.session.pop(PENDING_LOGIN_SESSION_KEY, None)
        context: dict[str, Any] = {"user_id": user_id}
        if not auth_code or not user_id:
            context.update(ok=False, message="The callback needs authCode and userId")
            return render(request._request, "accounts/login_result.html", context, status=400)
        try:
            account = vendor_login_complete(
                user_id=user_id,
                auth_code=auth_code,
                pending_account_id=pending,
                actor=f"vendor-login:{user_id}",
            )
        except ApplicationError as exc:
            logger.warning("vendor login callback refused for user %s: %s", user_id, exc.code)
            context.update(ok=False, message=exc.message)
            return render(request._request, "accounts/login_result.html", context, status=exc.status_code)
        context.update(
            ok=True, account=account, message=f"Alice Blue session stored for {account.account_id}."
        )
        return render(request._request, "accounts/login_result.html", context)

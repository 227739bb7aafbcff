"""Account, follower, master and vendor-login API routes (the seed's paths), relative to /api/."""

from django.urls import path

from accounts import apis

app_name = "accounts"
urlpatterns = [
    path("followers", apis.FollowersApi.as_view(), name="followers"),
    path("followers/credentials", apis.FollowerCredentialsApi.as_view(), name="follower-credentials"),
    path("followers/risk-config", apis.FollowerRiskConfigApi.as_view(), name="follower-risk-config"),
    path("followers/consent", apis.FollowerConsentApi.as_view(), name="follower-consent"),
    path("followers/consent/revoke", apis.FollowerConsentRevokeApi.as_view(), name="follower-consent-revoke"),
    path("followers/consent-link", apis.FollowerConsentLinkApi.as_view(), name="follower-consent-link"),
    path("followers/stop-copy-trading", apis.FollowerStopCopyApi.as_view(), name="follower-stop-copy"),
    path("followers/test-connect", apis.FollowerTestConnectApi.as_view(), name="follower-test-connect"),
    path("admin/accounts", apis.AdminAccountsApi.as_view(), name="admin-accounts"),
    path("admin/settings", apis.AdminSettingsApi.as_view(), name="admin-settings"),
    path("master/status", apis.MasterStatusApi.as_view(), name="master-status"),
    path("master/disconnect", apis.MasterDisconnectApi.as_view(), name="master-disconnect"),
    path("alice/oauth/vendor/start", apis.VendorLoginStartApi.as_view(), name="vendor-login-start"),
    path("alice/oauth/vendor/callback", apis.VendorLoginCallbackApi.as_view(), name="vendor-login-callback"),
]

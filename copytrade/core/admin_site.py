"""The admin site: Django's, with a second factor (a django-otp TOTP device) when the settings require it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

NO_DEVICE_MESSAGE = (
    "No second-factor device is enrolled for this user. An operator enrols one with "
    "`manage.py otp_enrol <username>`."
)


class OtpAdminLoginForm(OTPAdminAuthenticationForm):
    """Username, password and a TOTP token; a wrong token counts as a failed login for django-axes."""

    def clean_otp(self, user) -> None:
        if user is not None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user))
            if not devices:
                raise ValidationError(NO_DEVICE_MESSAGE, code="no_device")
            # django-otp asks which device when none is chosen; with one there is nothing to ask.
            if len(devices) == 1:
                self.cleaned_data["otp_device"] = devices[0].persistent_id
        try:
            super().clean_otp(user)
        except ValidationError as exc:
            if exc.code == "invalid_token":
                # The password was right; guessing the token is brute force all the same.
                user_login_failed.send(
                    sender=__name__, credentials={"username": user.get_username()}, request=self.request
                )
            raise


class CopytradeAdminSite(OTPAdminSite):
    """`admin.site`: staff only and, when COPYTRADE_ADMIN_REQUIRE_OTP is on, verified by a TOTP token. Its
    landing page is the control panel's dashboard; the stock list of models sits below it."""

    site_header = "copytrade control panel"
    site_title = "copytrade"
    index_title = "Dashboard"
    site_url = "/admin/"  # "View site" leads to the dashboard: the service has no public site

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def get_urls(self):
        from replication.control_admin import ControlPanel

        return ControlPanel(self).urls() + super().get_urls()

    def index(self, request: HttpRequest, extra_context=None):
        from replication.control_admin import ControlPanel

        return ControlPanel(self).dashboard(request, app_list=self.get_app_list(request))

    @property
    def login_form(self):
        return OtpAdminLoginForm if settings.COPYTRADE_ADMIN_REQUIRE_OTP else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:
        return OTPAdminSite.login_template if settings.COPYTRADE_ADMIN_REQUIRE_OTP else None

    def has_permission(self, request: HttpRequest) -> bool:
        if settings.COPYTRADE_ADMIN_REQUIRE_OTP:
            return super().has_permission(request)
        return AdminSite.has_permission(self, request)

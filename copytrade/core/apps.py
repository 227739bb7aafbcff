from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    name = "copytrade.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from copytrade.core import schema  # noqa: F401 - registers the OpenAPI security schemes


class CopytradeAdminConfig(admin_apps.AdminConfig):
    """Django's admin app, with copytrade's site (second factor at login) as `admin.site`."""

    # Named in INSTALLED_APPS by its path; never copytrade.core's own config.
    default = False
    default_site = "copytrade.core.admin_site.CopytradeAdminSite"

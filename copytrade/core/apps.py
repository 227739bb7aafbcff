from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "copytrade.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from copytrade.core import schema  # noqa: F401 - registers the OpenAPI security schemes

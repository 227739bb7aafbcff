from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "copytrade.core"
    label = "core"
    verbose_name = "Core"

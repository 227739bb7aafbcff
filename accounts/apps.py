from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Fail fast (web, worker, beat and every manage.py command) when the credential keys are missing or
        # malformed: there is no plaintext fallback.
        from accounts.encryption import load_keys

        load_keys()

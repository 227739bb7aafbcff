"""manage.py demo_setup: the admin user (and, with the accounts app, demo accounts) for `make run`."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the demo admin user; the password comes from COPYTRADE_ADMIN_PASSWORD."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", required=True, help="Root URL of the Alice Blue simulator")

    def handle(self, *args, **options):
        password = os.environ.get("COPYTRADE_ADMIN_PASSWORD", "")
        if not password:
            raise CommandError("COPYTRADE_ADMIN_PASSWORD is not set")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
        )
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        self.stdout.write(self.style.SUCCESS(f"admin user {'created' if created else 'updated'}"))

"""WSGI entry point (gunicorn copytrade.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copytrade.settings")
application = get_wsgi_application()

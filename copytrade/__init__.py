"""copytrade: copy trading for Alice Blue on Django, DRF and Celery."""

from copytrade.celery import app as celery_app

__all__ = ["celery_app"]

"""The Celery application, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copytrade.settings")

app = Celery("copytrade")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_db_connections(sender=None, task=None, **kwargs) -> None:
    """Treat each task like a Django request: reuse the thread's DB connection up to CONN_MAX_AGE, drop it
    when it errored or was left in a transaction (Django's `close_old_connections`, with CONN_HEALTH_CHECKS).

    Celery's own Django fixup closes every connection before and after each task unless CELERY_DB_REUSE_MAX
    is set (settings), which made each placement task open a new MariaDB connection: measured by
    bench/fanout_bench.py as the largest single CPU cost of the fan-out. Eager tasks run inside the
    caller's request or transaction, whose connection is not ours to close.
    """
    request = getattr(task or sender, "request", None)
    if getattr(request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()

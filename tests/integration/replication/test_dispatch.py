"""Every task name the dispatch module sends (and every beat entry) is a task a worker has registered."""

from django.conf import settings

from copytrade.celery import app
from replication import dispatch


def test_every_dispatched_name_is_a_registered_task():
    # given the worker's view of the tasks
    app.loader.import_default_modules()
    registered = set(app.tasks)
    # then
    assert set(dispatch.TASK_NAMES) <= registered
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= registered

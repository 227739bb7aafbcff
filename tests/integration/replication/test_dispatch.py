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


def test_a_fan_out_is_placed_in_a_small_first_batch_then_full_ones():
    ids = list(range(1, 101))
    # when
    batches = dispatch.placement_batches(ids, first=5, size=25)
    # then every id is in exactly one batch, in order, the first one small
    assert [len(b) for b in batches] == [5, 25, 25, 25, 20]
    assert [pk for batch in batches for pk in batch] == ids
    assert dispatch.placement_batches(ids[:3], first=5, size=25) == [[1, 2, 3]]
    assert dispatch.placement_batches([], first=5, size=25) == []
    assert [len(b) for b in dispatch.placement_batches(ids[:30], first=50, size=10)] == [10, 10, 10]

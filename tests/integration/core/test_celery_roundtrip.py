"""A task goes through the configured broker (Redis in CI, filesystem otherwise) to a real worker."""

import os
import time

import pytest
from celery.contrib.testing.worker import start_worker

from copytrade.celery import app
from copytrade.core.models import Heartbeat
from copytrade.core.tasks import heartbeat_task


def _wait_for_heartbeat(seconds: float) -> Heartbeat | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        beat = Heartbeat.objects.filter(name="worker").first()
        if beat is not None:
            return beat
        time.sleep(0.1)
    return None


@pytest.fixture
def worker():
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10):
        yield


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_task_round_trips_through_the_broker_to_a_worker(worker):
    # when
    heartbeat_task.delay()
    # then the worker ran it and wrote the row
    beat = _wait_for_heartbeat(15)
    assert beat is not None


@pytest.mark.redis
def test_redis_is_the_broker_when_test_redis_url_is_set(settings):
    if not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("TEST_REDIS_URL is not set")
    # then
    assert app.conf.broker_url.startswith("redis://")
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)

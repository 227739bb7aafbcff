"""The task guard: an unexpected error is retried 3 times (1, 2, 4 s), then the task settles its rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.exceptions import Retry

from replication.tasks import UNEXPECTED_ERROR_RETRIES, _guarded


class _Task:
    name = "replication.test"

    def __init__(self, errors: int):
        self.request = SimpleNamespace(args=[7], kwargs={"unexpected_errors": errors})
        self.retried: list[dict] = []

    def retry(self, *, countdown: float, kwargs: dict, exc: BaseException) -> Retry:
        self.retried.append({"countdown": countdown, "kwargs": kwargs})
        return Retry("retry", exc=exc)


def _boom() -> None:
    raise ValueError("a bug")


@pytest.mark.parametrize("errors", range(UNEXPECTED_ERROR_RETRIES))
def test_an_unexpected_error_is_retried_with_a_growing_pause(errors):
    # given
    task = _Task(errors)
    settled: list[BaseException] = []
    # when / then
    with pytest.raises(Retry):
        _guarded(task, _boom, errors=errors, settle=settled.append)
    assert task.retried == [{"countdown": 2**errors, "kwargs": {"unexpected_errors": errors + 1}}]
    assert settled == []


def test_after_the_last_retry_the_rows_are_settled_instead():
    # given
    task = _Task(UNEXPECTED_ERROR_RETRIES)
    settled: list[BaseException] = []
    # when
    result = _guarded(task, _boom, errors=UNEXPECTED_ERROR_RETRIES, settle=settled.append)
    # then
    assert result is None
    assert task.retried == []
    assert [type(exc) for exc in settled] == [ValueError]


def test_a_retry_the_service_asked_for_passes_through():
    # given
    task = _Task(0)

    def asks_retry() -> None:
        raise Retry("later")

    # when / then
    with pytest.raises(Retry):
        _guarded(task, asks_retry, errors=0, settle=lambda exc: pytest.fail("settled"))
    assert task.retried == []

"""Base models and the heartbeat row that proves beat and a worker are alive."""

from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """Last time a scheduled heartbeat task ran on a worker (beat -> broker -> worker -> DB), one row per
    Celery queue."""

    # Row names: the default queue's ("worker", named before there were two queues) and the placement queue's.
    DEFAULT_QUEUE = "worker"
    PLACEMENT_QUEUE = "placement"

    name = models.CharField(max_length=64, unique=True)
    last_seen = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        if self.last_seen is None:
            return f"{self.name} heartbeat"
        # In the current time zone: the admin's (IST) on its pages.
        seen = timezone.localtime(self.last_seen)
        return f"{self.name} heartbeat at {seen:%Y-%m-%d %H:%M:%S} {seen.tzname()}"


class Lease(models.Model):
    """A named lease one process holds at a time across every machine (the master stream, the poll): taken or
    renewed by a conditional UPDATE, so the database arbitrates; it lapses if its holder stops renewing it."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"Lease {self.name} held by {self.holder or 'nobody'}"

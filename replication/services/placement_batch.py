"""Placing a fan-out's first attempts in batches: one task claims many PENDING rows in one statement, sends
all their orders at once from the process's asyncio client (`broker.async_transport`), and writes the
acknowledgements in one statement.

The per-row contract is `placement.order_mapping_place`'s: rows are locked and moved PENDING -> SUBMITTING
(attempts + 1) in a committed transaction before any order is sent; failures are recorded by
`placement.record_failure` exactly as on the single-row path. Retries (attempts > 0) always go through the
single-row task, which looks the tag up before sending again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from accounts.exceptions import SessionMissing
from accounts.selectors import account_broker_client, master_settings_get
from accounts.services.sessions import account_session_note_success
from broker.async_transport import send_all
from broker.client import AliceBlueClient, PlaceCall
from broker.exceptions import BrokerError, BrokerOutcomeUnknownError
from broker.transport import WireRequest
from broker.types import OrderAck
from replication import selectors, states
from replication.models import OrderMapping
from replication.services import placement

logger = logging.getLogger(__name__)

Status = states.MappingStatus


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch run did; `retry` lists (mapping id, seconds) for the single-row task to try again."""

    statuses: dict[int, str]
    retry: list[tuple[int, float]]


def _claim_batch(mapping_ids: list[int]) -> tuple[list[OrderMapping], dict[int, str]]:
    """Lock the first-attempt PENDING rows among `mapping_ids` (in pk order) and mark them SUBMITTING.

    Rows that must not be sent now (see `placement.send_blocked`) end SKIPPED/FAILED instead; their statuses
    are returned beside the claimed rows.
    """
    settled: dict[int, str] = {}
    with transaction.atomic():
        rows = list(
            OrderMapping.objects.select_for_update()
            .filter(pk__in=mapping_ids, status=Status.PENDING, attempts=0)
            .order_by("pk")
        )
        if not rows:
            return [], settled
        followers = selectors.followers_with_rules().in_bulk({row.follower_id for row in rows})
        master_settings = master_settings_get()
        closed_masters = selectors.master_orders_closed(
            (row.master_order_id, row.follower_id) for row in rows if row.leg == OrderMapping.Leg.ENTRY
        )
        claimed = []
        follower_field = OrderMapping.follower.field
        for row in rows:
            follower_field.set_cached_value(row, followers[row.follower_id])
            blocked = placement.send_blocked(row, master_settings, closed_masters=closed_masters)
            if blocked is None:
                claimed.append(row)
            else:
                reason, code, never_sent_status = blocked
                settled[row.pk] = placement.stop_before_send(
                    row, reason=reason, code=code, never_sent_status=never_sent_status
                )
        now = timezone.now()
        _mark_submitting([row.pk for row in claimed], now)
    for row in claimed:
        row.status, row.attempts, row.submitted_at, row.next_attempt_at = Status.SUBMITTING, 1, now, None
    return claimed, settled


def _mark_submitting(pks: list[int], now: datetime) -> None:
    """PENDING -> SUBMITTING (attempts + 1) for the locked rows `pks`, in one statement (written in SQL for
    the reason `_record_acks` gives)."""
    if not pks:
        return
    states.check_transition((Status.PENDING,), Status.SUBMITTING)
    column = {name: connection.ops.quote_name(_column(name)) for name in _SUBMIT_COLUMNS}
    at = OrderMapping._meta.get_field("submitted_at").get_db_prep_value(now, connection)
    # Identifiers are the model's own, quoted; every value is a parameter.
    sql = (
        f"UPDATE {connection.ops.quote_name(OrderMapping._meta.db_table)} SET {column['status']} = %s, "  # noqa: S608
        f"{column['attempts']} = {column['attempts']} + 1, {column['submitted_at']} = %s, "
        f"{column['next_attempt_at']} = NULL, {column['updated_at']} = %s "
        f"WHERE {column['id']} IN ({', '.join(['%s'] * len(pks))}) AND {column['status']} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [str(Status.SUBMITTING), at, at, *pks, str(Status.PENDING)])
        if cursor.rowcount != len(pks):  # the rows are locked by this transaction: cannot happen
            raise RuntimeError(f"claimed {len(pks)} rows but marked {cursor.rowcount} SUBMITTING")


def _send_batch(to_send: list[tuple[OrderMapping, AliceBlueClient]]) -> list[OrderAck | BrokerError]:
    """Send every claimed row's order at once (one asyncio client per process), each as soon as it is
    prepared; one result per row."""
    results: list[OrderAck | BrokerError | None] = [None] * len(to_send)
    calls: list[tuple[int, PlaceCall]] = []

    def prepared() -> Iterator[WireRequest]:
        for index, (mapping, client) in enumerate(to_send):
            placement.log_placing(mapping)
            try:
                call = client.place_orders_call([placement.order_request_for(mapping)])
            except BrokerError as exc:  # no session for the client: nothing is sent
                results[index] = exc
                continue
            except Exception as exc:  # a bug preparing this one order: it is not sent, the others are
                logger.exception("mapping %s: unexpected error preparing its order", mapping.pk)
                results[index] = BrokerError(
                    f"unexpected {type(exc).__name__} preparing the order; not sent", code="client_error"
                )
                continue
            calls.append((index, call))
            yield call.request

    answers = send_all(prepared())
    for (index, call), answer in zip(calls, answers, strict=True):
        results[index] = answer if isinstance(answer, BrokerError) else _read_one(call, answer.body)
    return [result for result in results if result is not None]


def _read_one(call: PlaceCall, body: object) -> OrderAck | BrokerError:
    try:
        (result,) = call.read(body)
    except BrokerError as exc:  # the envelope says the whole request failed
        return exc
    except Exception as exc:  # a bug reading an answer to a sent order: its outcome is unknown
        logger.exception("unexpected error reading a place-order answer")
        return BrokerOutcomeUnknownError(
            f"unexpected {type(exc).__name__} reading the answer", code="client_error"
        )
    return result


_SUBMIT_COLUMNS = ("id", "status", "attempts", "submitted_at", "next_attempt_at", "updated_at")
_ACK_COLUMNS = ("id", "status", "follower_order_id", "reason", "reason_code", "placed_at", "updated_at")


def _column(name: str) -> str:
    field = OrderMapping._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"OrderMapping.{name} is not a column")
    return field.column


def _record_acks(acked: list[tuple[OrderMapping, OrderAck]]) -> None:
    """Write every acknowledgement with one conditional UPDATE (states.ACK_FROM -> ACTIVE).

    All rows get the same status, reason and times; only the order id differs, so one statement with a
    CASE on the id sets them all. It is written in SQL because building the same CASE from Django
    expressions (`Case(When(...))`, or `bulk_update`) was most of a batch's CPU. The status condition makes
    each row's move atomic, as on the single-row path: whoever moved a row first wins.
    """
    if not acked:
        return
    states.check_transition(states.ACK_FROM, Status.ACTIVE)
    now = timezone.now()
    meta = OrderMapping._meta
    column = {name: connection.ops.quote_name(_column(name)) for name in _ACK_COLUMNS}
    when_at = meta.get_field("placed_at").get_db_prep_value(now, connection)
    pks = [mapping.pk for mapping, _ack in acked]
    # Identifiers are the model's own, quoted; every value is a parameter.
    sql = (
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {column['status']} = %s, "  # noqa: S608
        f"{column['follower_order_id']} = CASE {column['id']} {' '.join(['WHEN %s THEN %s'] * len(acked))} "
        f"END, {column['reason']} = '', {column['reason_code']} = %s, {column['placed_at']} = %s, "
        f"{column['updated_at']} = %s WHERE {column['id']} IN ({', '.join(['%s'] * len(pks))}) "
        f"AND {column['status']} IN ({', '.join(['%s'] * len(states.ACK_FROM))})"
    )
    params: list[Any] = [str(Status.ACTIVE)]
    for mapping, ack in acked:
        params += [mapping.pk, ack.order_id]
    params += [str(states.ReasonCode.NONE), when_at, when_at, *pks, *(str(s) for s in states.ACK_FROM)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        applied = cursor.rowcount
    moved: set[int] = set()
    if applied != len(acked):
        moved = set(
            OrderMapping.objects.filter(pk__in=[m.pk for m, _ack in acked])
            .exclude(status=Status.ACTIVE, placed_at=now)
            .values_list("pk", flat=True)
        )
    for mapping, ack in acked:
        if mapping.pk in moved:
            placement.log_moved_meanwhile(mapping.pk, ack.order_id)
        else:
            mapping.status, mapping.follower_order_id, mapping.reason = Status.ACTIVE, ack.order_id, ""
        logger.info(
            "[ALICE-BLUE] Order placed successfully for %s: %s", mapping.follower.account_id, ack.order_id
        )


def order_mappings_place_batch(*, mapping_ids: list[int]) -> BatchOutcome:
    """Place the first attempts of many PENDING mappings concurrently (see the module docstring)."""
    rows, statuses = _claim_batch(mapping_ids)
    retry: list[tuple[int, float]] = []
    to_send: list[tuple[OrderMapping, AliceBlueClient]] = []
    for mapping in rows:
        if mapping.follower.paper:
            statuses[mapping.pk] = placement.paper(mapping).status
            continue
        try:
            to_send.append((mapping, account_broker_client(account=mapping.follower)))
        except SessionMissing as exc:
            outcome = placement.session_failed(mapping, exc, from_statuses=(Status.SUBMITTING,))
            statuses[mapping.pk] = outcome.status
    if to_send:
        results = _send_batch(to_send)
        acked = []
        for (mapping, _client), result in zip(to_send, results, strict=True):
            if isinstance(result, BrokerError):
                outcome = placement.record_failure(mapping, result)
                statuses[mapping.pk] = outcome.status
                if outcome.retry_in is not None:
                    retry.append((mapping.pk, outcome.retry_in))
            else:
                acked.append((mapping, result))
                statuses[mapping.pk] = Status.ACTIVE
        _record_acks(acked)
        for follower in {mapping.follower_id: mapping.follower for mapping, _ack in acked}.values():
            account_session_note_success(account=follower)
    return BatchOutcome(statuses=statuses, retry=retry)

"""The operator's freeze-quantity table: kept in the admin (audited, bad input refused), used where the
contract master has none."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from broker.instruments import Instrument
from replication import selectors
from replication.models import FreezeQuantity

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model, otp_login):
    user = django_user_model.objects.create_superuser(username="ops", password="pw-ops-123", email="o@x.io")
    otp_login(client, user)
    return client


def test_an_operator_adds_and_changes_a_freeze_quantity_and_both_are_audited(operator):
    # when
    added = operator.post(
        reverse("admin:replication_freezequantity_add"),
        {"exchange": "NFO", "symbol": " finnifty ", "freeze_quantity": "1800"},
    )
    row = FreezeQuantity.objects.get()
    changed = operator.post(
        reverse("admin:replication_freezequantity_change", args=[row.pk]),
        {"exchange": "NFO", "symbol": "FINNIFTY", "freeze_quantity": "1200"},
    )
    # then
    assert added.status_code == changed.status_code == 302
    row.refresh_from_db()
    assert (row.exchange, row.symbol, row.freeze_quantity) == ("NFO", "FINNIFTY", 1200)
    events = list(AuditEvent.objects.filter(action__startswith="freeze_quantity").order_by("pk"))
    assert [(e.actor, e.action, e.target) for e in events] == [
        ("admin:ops", "freeze_quantity.added", "NFO:FINNIFTY"),
        ("admin:ops", "freeze_quantity.changed", "NFO:FINNIFTY"),
    ]
    assert events[1].details == {"freeze_quantity": 1200, "changed": ["freeze_quantity"]}


@pytest.mark.parametrize(
    "data",
    [
        {"exchange": "NFO", "symbol": "NIFTY", "freeze_quantity": "0"},
        {"exchange": "NFO", "symbol": "NIFTY", "freeze_quantity": "-5"},
        {"exchange": "NFO", "symbol": "NIFTY", "freeze_quantity": "many"},
        {"exchange": "NYSE", "symbol": "NIFTY", "freeze_quantity": "1800"},
        {"exchange": "NFO", "symbol": "", "freeze_quantity": "1800"},
        {"exchange": "NFO", "symbol": "nifty", "freeze_quantity": "900"},  # NFO:NIFTY exists already
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(operator, data):
    # given
    FreezeQuantity.objects.create(exchange="NFO", symbol="NIFTY", freeze_quantity=1800)
    # when
    response = operator.post(reverse("admin:replication_freezequantity_add"), data)
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert FreezeQuantity.objects.count() == 1
    assert not AuditEvent.objects.filter(action__startswith="freeze_quantity").exists()


def test_the_contract_master_value_comes_first_then_the_operators_table_then_no_limit():
    # given
    FreezeQuantity.objects.create(exchange="NFO", symbol="FINNIFTY", freeze_quantity=1800)
    with_freeze = Instrument(
        exchange="NFO", token="1", symbol="FINNIFTY", trading_symbol="X", freeze_quantity=1200
    )
    without = Instrument(exchange="NFO", token="2", symbol="FINNIFTY", trading_symbol="Y")
    unknown = Instrument(exchange="NFO", token="3", symbol="MIDCPNIFTY", trading_symbol="Z")
    # then
    assert selectors.instrument_freeze_quantity(instrument=with_freeze) == 1200
    assert selectors.instrument_freeze_quantity(instrument=without) == 1800
    assert selectors.instrument_freeze_quantity(instrument=unknown) is None

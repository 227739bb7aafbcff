"""Order-notify frames (`"t":"om"`, Noren style) and webhook payloads, from the engine's order events.

Choices where the reference leaves room (shared/reference openapi 7.1, legacy 9):
- every value is a string; keys are sent only when they carry something (Noren frames are sparse):
  `trgprc` for stop orders, `avgprc` once something filled, `flqty/flprc/flid/fltm` on fill reports,
  `cancelqty` on cancellations, `rejreason` on rejections, `exchordid/exch_tm` once the exchange has it;
- `status` in Noren's upper-case spelling: PENDING, OPEN, TRIGGER_PENDING, COMPLETE, CANCELED (one L),
  REJECTED; `reporttype` New, Replaced, Triggered, Fill (partial or final; `status` tells which),
  Canceled, Rejected;
- `pcode` Noren's one-letter products: I intraday (MIS), C delivery (CNC/LONGTERM), M carry-forward
  (NRML), H cover order, B bracket order; MTF as MTF;
- `uid` and `actid` are the account's login id (the reference's example shows one number in both);
- `norentm` is Noren's `HH:MM:SS DD-MM-YYYY`, `exch_tm` and `fltm` are `DD-MM-YYYY HH:MM:SS` (IST).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from broker.simulator.state import Account, Fill, SimOrder

NEW = "New"
REPLACED = "Replaced"
TRIGGERED = "Triggered"
FILL = "Fill"
CANCELED = "Canceled"
REJECTED = "Rejected"

NOREN_STATUSES = {
    "PENDING": "PENDING",
    "OPEN": "OPEN",
    "TRIGGER_PENDING": "TRIGGER_PENDING",
    "COMPLETE": "COMPLETE",
    "REJECTED": "REJECTED",
    "CANCELLED": "CANCELED",
}
PRICE_TYPES = {"MARKET": "MKT", "LIMIT": "L", "SL": "SL", "SLM": "SL-M"}
PRODUCT_CODES = {"MIS": "I", "CNC": "C", "NRML": "M", "MTF": "MTF"}
COMPLEX_PRODUCT_CODES = {"CO": "H", "BO": "B"}


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _noren_time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S %d-%m-%Y")


def _exchange_time(moment: datetime) -> str:
    return moment.strftime("%d-%m-%Y %H:%M:%S")


def product_code(order: SimOrder) -> str:
    """The Noren one-letter product of an order."""
    return COMPLEX_PRODUCT_CODES.get(order.product) or PRODUCT_CODES.get(order.product_class, order.product)


def order_frame(
    order: SimOrder, account: Account, *, report_type: str, moment: datetime, fill: Fill | None = None
) -> dict[str, str]:
    """The `"t":"om"` frame of one event of `order`."""
    instrument = order.instrument
    frame: dict[str, str] = {
        "t": "om",
        "norenordno": order.order_id,
        "uid": account.user_id,
        "actid": account.user_id,
        "exch": instrument.exchange,
        "tsym": instrument.trading_symbol,
        "token": instrument.token,
        "trantype": "B" if order.side == "BUY" else "S",
        "qty": str(order.quantity),
        "prc": _money(order.price),
        "prctyp": PRICE_TYPES.get(order.order_type, order.order_type),
        "pcode": product_code(order),
        "ret": order.validity,
        "dscqty": str(order.disclosed_quantity),
        "remarks": order.tag,
        "status": NOREN_STATUSES.get(order.status, order.status),
        "reporttype": report_type,
        "fillshares": str(order.filled_quantity),
        "norentm": _noren_time(moment),
    }
    if order.order_type in {"SL", "SLM"}:
        frame["trgprc"] = _money(order.trigger_price)
    if order.filled_quantity:
        frame["avgprc"] = _money(order.average_price)
    if order.complexity == "AMO":
        frame["amo"] = "Yes"
    if order.exchange_order_id:
        frame["exchordid"] = order.exchange_order_id
        frame["exch_tm"] = _exchange_time(moment)
    if fill is not None:
        frame.update(
            flqty=str(fill.quantity),
            flprc=_money(fill.price),
            flid=fill.trade_id,
            fltm=_exchange_time(fill.time),
        )
    if report_type == CANCELED:
        frame["cancelqty"] = str(order.cancelled_quantity)
    if report_type == REJECTED:
        frame["rejreason"] = order.rejection_reason
    return frame


def webhook_payload(frame: dict[str, str]) -> dict[str, Any]:
    """What Alice Blue POSTs to a subscribed URL: the frame without `t`."""
    return {key: value for key, value in frame.items() if key != "t"}

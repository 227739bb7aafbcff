"""Open-api rows (order book, history, trades, positions, limits, profile) with the documented types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from broker.simulator.engine import unrealised_pnl, utilized_margin
from broker.simulator.state import Account, Fill, HistoryEntry, PositionState, SimOrder, SimState

OPENAPI_PRODUCTS = {"MIS": "INTRADAY", "CNC": "LONGTERM", "NRML": "NRML", "MTF": "MTF"}
OPENAPI_STATUSES = {
    "PENDING": "PENDING",
    "OPEN": "OPEN",
    "TRIGGER_PENDING": "TRIGGER PENDING",
    "COMPLETE": "COMPLETE",
    "REJECTED": "REJECTED",
    "CANCELLED": "CANCELLED",
}


def request_time(moment: datetime) -> str:
    """`26-May-2025 11:42:10`, the place/modify/cancel requestTime format."""
    return moment.strftime("%d-%b-%Y %H:%M:%S")


def sqroff_request_time(moment: datetime) -> str:
    """`17:21:21 26-05-2025`, the square-off requestTime format."""
    return moment.strftime("%H:%M:%S %d-%m-%Y")


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _number(value: Decimal) -> float:
    return float(value)


def order_product(order: SimOrder) -> str:
    """The product as this flavour's client sent it, or its open-api name for other orders."""
    return order.product if order.flavor == "openapi" else OPENAPI_PRODUCTS[order.product_class]


def _order_fields(order: SimOrder, account: Account) -> dict[str, Any]:
    instrument = order.instrument
    return {
        "clientId": account.client_id,
        "placedBy": account.client_id,
        "brokerOrderId": order.order_id,
        "exchange": instrument.exchange,
        "exchangeOrderId": order.exchange_order_id,
        "formattedInstrumentName": instrument.trading_symbol,
        "tradingSymbol": instrument.symbol,
        "instrumentId": instrument.token,
        "transactionType": order.side,
        "quantity": order.quantity,
        "product": order_product(order),
        "orderComplexity": order.complexity,
        "orderType": order.order_type,
        "price": _number(order.price),
        "averageTradedPrice": _number(order.average_price),
        "slTriggerPrice": _number(order.trigger_price),
        "validity": order.validity,
        "disclosedQuantity": order.disclosed_quantity,
        "orderTime": _iso(order.placed_at),
        "exchangeUpdateTime": _iso(order.updated_at) if order.exchange_order_id else "",
        "rejectionReason": order.rejection_reason,
        "mainLegOrderId": "",
        "cancelledQuantity": order.cancelled_quantity,
        "pendingQuantity": order.pending_quantity,
        "filledQuantity": order.filled_quantity,
        "appKey": "",
        "algoId": order.algo_id,
        "source": "API" if order.flavor in {"openapi", "legacy"} else "WEB",
        "orderTag": order.tag,
        "trailingSlAmount": 0,
        "brokerUpdateTime": _iso(order.updated_at),
        "marketProtectionPercent": "",
        "exchangeTimestamp": _iso(order.updated_at) if order.exchange_order_id else "",
        "orderStatus": OPENAPI_STATUSES[order.status],
    }


def order_row(order: SimOrder, account: Account) -> dict[str, Any]:
    """One `orders/book` row."""
    return _order_fields(order, account)


def history_rows(order: SimOrder, account: Account) -> list[dict[str, Any]]:
    """`orders/history`: one book-shaped snapshot per state transition, newest first (unordered per docs)."""
    rows = []
    for entry in reversed(order.history):
        rows.append(_history_row(order, account, entry))
    return rows


def _history_row(order: SimOrder, account: Account, entry: HistoryEntry) -> dict[str, Any]:
    row = _order_fields(order, account)
    row["tradingSymbol"] = order.instrument.trading_symbol
    row["orderStatus"] = OPENAPI_STATUSES[entry.status]
    row["filledQuantity"] = entry.filled_quantity
    row["averageTradedPrice"] = _number(entry.average_price) if entry.status == "COMPLETE" else 0
    row["rejectionReason"] = entry.rejection_reason
    row["brokerUpdateTime"] = _iso(entry.time)
    return row


def fill_timestamp(state: SimState, moment: datetime) -> str:
    """The trade fillTimestamp in the configured format."""
    if state.config.fill_timestamp_format == "dmy":
        return moment.strftime("%d-%m-%Y %H:%M:%S")
    return _iso(moment)


def trade_row(state: SimState, order: SimOrder, fill: Fill, account: Account) -> dict[str, Any]:
    """One `orders/trades` row (one per fill)."""
    instrument = order.instrument
    return {
        "clientId": account.client_id,
        "placedBy": account.client_id,
        "brokerOrderId": order.order_id,
        "exchangeOrderId": order.exchange_order_id,
        "exchangeTradeId": fill.trade_id,
        "formattedInstrumentName": instrument.symbol,
        "tradingSymbol": instrument.trading_symbol,
        "instrumentId": instrument.token,
        "exchange": instrument.exchange,
        "transactionType": order.side,
        "product": order_product(order),
        "orderComplexity": order.complexity,
        "orderType": order.order_type,
        "validity": order.validity,
        "tradedPrice": _number(fill.price),
        "filledQuantity": fill.quantity,
        "orderTime": _iso(order.placed_at),
        "fillTimestamp": fill_timestamp(state, fill.time),
        "orderTag": order.tag or "--",
        "algoId": order.algo_id,
    }


def _average(value: Decimal, quantity: int) -> float:
    return float((value / quantity).quantize(Decimal("0.01"))) if quantity else 0.0


def position_row(position: PositionState) -> dict[str, Any]:
    """One `positions` row (no LTP or unrealised P&L, as documented)."""
    instrument = position.instrument
    overnight_buy = max(position.overnight_quantity, 0)
    overnight_sell = max(-position.overnight_quantity, 0)
    overnight_value = position.overnight_price * abs(position.overnight_quantity)
    buy_value = position.day_buy_value + (overnight_value if overnight_buy else 0)
    sell_value = position.day_sell_value + (overnight_value if overnight_sell else 0)
    return {
        "instrumentId": instrument.token,
        "tradingSymbol": instrument.trading_symbol,
        "formattedInstrumentName": instrument.formatted_name,
        "exchange": instrument.exchange,
        "product": OPENAPI_PRODUCTS[position.product_class],
        "validity": "DAY",
        "netQuantity": position.net_quantity,
        "netAveragePrice": float(position.net_average.quantize(Decimal("0.01"))),
        "overnightQuantity": position.overnight_quantity,
        "overnightPrice": float(position.overnight_price.quantize(Decimal("0.01"))),
        "buyQuantity": position.day_buy_quantity + overnight_buy,
        "sellQuantity": position.day_sell_quantity + overnight_sell,
        "dayBuyQuantity": position.day_buy_quantity,
        "daySellQuantity": position.day_sell_quantity,
        "dayBuyPrice": _average(position.day_buy_value, position.day_buy_quantity),
        "daySellPrice": _average(position.day_sell_value, position.day_sell_quantity),
        "buyPrice": _average(buy_value, position.day_buy_quantity + overnight_buy),
        "sellPrice": _average(sell_value, position.day_sell_quantity + overnight_sell),
        "dayBuyValue": float(position.day_buy_value.quantize(Decimal("0.01"))),
        "daySellValue": float(position.day_sell_value.quantize(Decimal("0.01"))),
        "realizedPnl": float(position.realised_pnl.quantize(Decimal("0.01"))),
        "multiplier": 1,
        "lotsize": instrument.lot_size,
        "ticksize": float(instrument.tick_size),
        "previousDayClose": None,
    }


def limits_row(state: SimState, account: Account) -> dict[str, Any]:
    """The single `limits/` element (all JSON numbers)."""
    used = utilized_margin(state, account.user_id)
    realised = sum((p.realised_pnl for p in state.user_positions(account.user_id)), Decimal("0"))
    unrealised = sum((unrealised_pnl(state, p) for p in state.user_positions(account.user_id)), Decimal("0"))
    return {
        "tradingLimit": float(account.cash - used + realised + min(unrealised, Decimal("0"))),
        "openingCashLimit": float(account.cash),
        "intradayPayin": 0.0,
        "collateralMargin": 0.0,
        "creditForSell": 0.0,
        "adhocMargin": 0.0,
        "utilizedMargin": float(used),
        "blockedForPayout": 0.0,
        "utilizedSpanMargin": 0.0,
        "utilizedExposureMargin": 0.0,
    }


def profile_row(account: Account) -> dict[str, Any]:
    """The single `profile/` element."""
    return {
        "clientId": account.client_id,
        "clientName": account.name,
        "isTotpEnabled": "Y",
        "isPoaProvided": "N",
        "accountStatus": "Activated",
        "exchanges": ["BSE", "BFO", "BCD", "CDS", "MCX", "NSE", "NFO", "NCOM"],
        "products": ["LONGTERM", "INTRADAY", "MTF", "CO", "BO"],
        "orderComplexity": ["REGULAR", "AMO", "BO", "CO"],
    }

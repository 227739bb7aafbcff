"""Legacy rows (order book, history, trades, positions, RMS limits, profile) with the captured mixed types."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from broker.simulator.contract_master import Instrument
from broker.simulator.engine import unrealised_pnl, utilized_margin
from broker.simulator.state import Account, Fill, HistoryEntry, PositionState, SimOrder, SimState

LEGACY_STATUSES = {
    "PENDING": "open pending",
    "OPEN": "open",
    "TRIGGER_PENDING": "trigger pending",
    "COMPLETE": "complete",
    "REJECTED": "rejected",
    "CANCELLED": "cancelled",
}
PRICE_TYPES = {"MARKET": "MKT", "LIMIT": "L", "SL": "SL", "SLM": "SL-M"}
REPORT_TYPES = {
    "PENDING": "NewAck",
    "OPEN": "NewAck",
    "TRIGGER_PENDING": "NewAck",
    "COMPLETE": "fill",
    "REJECTED": "failure",
    "CANCELLED": "cancel",
}


def money(value: Decimal, *, commas: bool = False) -> str:
    """A 2-decimal price/amount string, zero as `00.00`, optionally with thousands separators."""
    amount = value.quantize(Decimal("0.01"))
    if not amount:
        return "00.00" if not commas else "0.00"
    return f"{amount:,.2f}" if commas else f"{amount:.2f}"


def side_code(side: str) -> str:
    return "B" if side == "BUY" else "S"


def order_product(order: SimOrder) -> str:
    """The product as the legacy client sent it, or its legacy code for other orders."""
    return order.product if order.flavor == "legacy" else order.product_class


def _expiry(instrument: Instrument) -> str:
    if not instrument.expiry_date:
        return "NA"
    return date.fromisoformat(instrument.expiry_date).strftime("%d %b, %Y")


def _strike(instrument: Instrument) -> str:
    if instrument.option_type in {"CE", "PE"}:
        return money(Decimal(instrument.strike_price))
    return "00.00"


def _exchange_time(moment: datetime | None) -> str:
    return moment.strftime("%d-%b-%Y %H:%M:%S") if moment else "--"


def order_row(order: SimOrder, account: Account) -> dict[str, Any]:
    """One `fetchOrderBook` row with the key set and types of the captured sample."""
    instrument = order.instrument
    placed = order.placed_at
    return {
        "Prc": money(order.price),
        "RequestID": "1",
        "Cancelqty": order.cancelled_quantity,
        "discQtyPerc": "10",
        "customText": "NA",
        "Mktpro": "NA",
        "defmktproval": "3",
        "optionType": instrument.option_type if instrument.option_type in {"CE", "PE"} else "XX",
        "usecs": placed.strftime("%H%M%S"),
        "mpro": "1",
        "Qty": order.quantity,
        "ordergenerationtype": "--",
        "Unfilledsize": order.pending_quantity,
        "orderAuthStatus": "",
        "Usercomments": "NA",
        "ticksize": str(int(instrument.tick_size * 100)),
        "Prctype": PRICE_TYPES[order.order_type],
        "Status": LEGACY_STATUSES[order.status],
        "Minqty": 0,
        "orderCriteria": "NA",
        "Exseg": instrument.segment,
        "Sym": instrument.symbol,
        "multiplier": "1",
        "ExchOrdID": order.exchange_order_id or "NA",
        "ExchConfrmtime": _exchange_time(order.updated_at) if order.exchange_order_id else "--",
        "Pcode": order_product(order),
        "SyomOrderId": "",
        "Dscqty": order.disclosed_quantity,
        "Exchange": instrument.exchange,
        "Ordvaldate": "NA",
        "accountId": account.user_id,
        "exchangeuserinfo": "111111111111100",
        "Avgprc": money(order.average_price),
        "Trgprc": money(order.trigger_price),
        "Trantype": side_code(order.side),
        "bqty": str(instrument.lot_size),
        "Trsym": instrument.trading_symbol,
        "Fillshares": order.filled_quantity,
        "AlgoCategory": "NA",
        "sipindicator": "N",
        "strikePrice": _strike(instrument),
        "reporttype": REPORT_TYPES[order.status],
        "AlgoID": order.algo_id or "NA",
        "noMktPro": "0",
        "BrokerClient": "--",
        "OrderUserMessage": "",
        "decprec": "2",
        "ExpDate": _expiry(instrument),
        "COPercentage": 0.0,
        "marketprotectionpercentage": "--",
        "Nstordno": order.order_id,
        "ExpSsbDate": "NA",
        "OrderedTime": placed.strftime("%d/%m/%Y %H:%M:%S"),
        "RejReason": order.rejection_reason or "--",
        "modifiedBy": "--",
        "Scripname": instrument.instrument_name,
        "stat": "Ok",
        "orderentrytime": placed.strftime("%b %d %Y %H:%M:%S"),
        "PriceDenomenator": "1",
        "panNo": "XXXXX0000X",
        "RefLmtPrice": 0.0,
        "PriceNumerator": "1",
        "token": instrument.token,
        "ordersource": "NEST_REST_WEB" if order.flavor == "web" else "API",
        "Validity": order.validity,
        "GeneralDenomenator": "1",
        "series": "EQ" if not instrument.is_derivative else "XX",
        "InstName": instrument.instrument_type if instrument.is_derivative else "",
        "GeneralNumerator": "1",
        "user": account.user_id,
        "remarks": order.tag,
        "iSinceBOE": int(placed.timestamp()),
    }


def history_row(order: SimOrder, entry: HistoryEntry) -> dict[str, Any]:
    """One `orderHistory` transition row (lower-case OE names)."""
    instrument = order.instrument
    return {
        "nestordernumber": order.order_id,
        "Status": LEGACY_STATUSES[entry.status],
        "Trsym": instrument.trading_symbol,
        "Prc": money(order.price),
        "averageprice": money(entry.average_price),
        "Qty": order.quantity,
        "filledShares": entry.filled_quantity,
        "Action": side_code(order.side),
        "Ordtype": PRICE_TYPES[order.order_type],
        "productcode": order_product(order),
        "triggerprice": money(order.trigger_price),
        "disclosedqty": order.disclosed_quantity,
        "exchangeorderid": order.exchange_order_id or "NA",
        "rejectionreason": entry.rejection_reason or "--",
        "duration": order.validity,
        "reporttype": REPORT_TYPES[entry.status],
        "exchangetimestamp": _exchange_time(entry.time),
        "filldateandtime": entry.time.strftime("%d/%m/%Y %H:%M:%S") if entry.filled_quantity else "--",
        "ordersource": "API",
        "nestreqid": "1",
        "symbolname": instrument.symbol,
        "scripname": instrument.instrument_name,
        "stat": "Ok",
    }


def trade_row(order: SimOrder, fill: Fill, account: Account) -> dict[str, Any]:
    """One `fetchTradeBook` row (one per fill; `Filltime` is HH:MM:SS only)."""
    instrument = order.instrument
    return {
        "Nstordno": order.order_id,
        "Tsym": instrument.trading_symbol,
        "Exchange": instrument.exchange,
        "Exchseg": instrument.segment,
        "Trantype": side_code(order.side),
        "Pcode": order_product(order),
        "Prctype": PRICE_TYPES[order.order_type],
        "Qty": order.quantity,
        "Filledqty": fill.quantity,
        "Unfillqty": order.quantity - sum(f.quantity for f in order.fills[: order.fills.index(fill) + 1]),
        "Price": money(fill.price),
        "AvgPrice": money(fill.price),
        "Filltime": fill.time.strftime("%H:%M:%S"),
        "Filldate": fill.time.strftime("%d-%m-%Y"),
        "FillId": fill.trade_id,
        "Exchtime": _exchange_time(fill.time),
        "ExchordID": order.exchange_order_id,
        "NOReqID": "1",
        "Symbol": instrument.token,
        "Ordduration": order.validity,
        "ReportType": "Fill",
        "iSinceBOE": int(fill.time.timestamp()),
        "remarks": order.tag,
        "companyname": instrument.instrument_name,
        "Time": fill.time.strftime("%d/%m/%Y %H:%M:%S"),
        "posflag": "false",
        "stat": "Ok",
    }


def _avg(value: Decimal, quantity: int) -> Decimal:
    return value / quantity if quantity else Decimal("0")


def position_row(state: SimState, position: PositionState, *, ret: str, account: Account) -> dict[str, Any]:
    """One `positionBook` row: string quantities, signed `Netqty`, P&L and LTP; NET includes carry-forward."""
    commas = state.config.legacy_comma_amounts
    instrument = position.instrument
    carried = ret == "NET"
    cf_buy = max(position.overnight_quantity, 0) if carried else 0
    cf_sell = max(-position.overnight_quantity, 0) if carried else 0
    cf_price = position.overnight_price if carried else Decimal("0")
    buy_qty = position.day_buy_quantity + cf_buy
    sell_qty = position.day_sell_quantity + cf_sell
    buy_amount = position.day_buy_value + cf_price * cf_buy
    sell_amount = position.day_sell_value + cf_price * cf_sell
    net_qty = position.net_quantity if carried else position.day_buy_quantity - position.day_sell_quantity
    unrealised = unrealised_pnl(state, position)
    last = state.last_price(instrument)
    return {
        "CFsellqty": str(cf_sell),
        "Instname": instrument.instrument_type if instrument.is_derivative else "EQ",
        "Expdate": _expiry(instrument),
        "Opttype": instrument.option_type if instrument.option_type in {"CE", "PE"} else "XX",
        "Token": instrument.token,
        "CFSellavgprc": money(cf_price if cf_sell else Decimal("0")),
        "sSqrflg": "Y",
        "unrealisedprofitloss": money(unrealised, commas=commas),
        "s_NetQtyPosConv": "N",
        "FillbuyamtCF": money(cf_price * cf_buy, commas=commas),
        "Sqty": str(sell_qty),
        "Sellavgprc": money(_avg(sell_amount, sell_qty)),
        "actid": account.user_id,
        "netbuyamt": money(buy_amount, commas=commas),
        "Bqty": str(buy_qty),
        "Pcode": position.product_class,
        "NetBuyavgprc": money(_avg(buy_amount, buy_qty)),
        "Exchange": instrument.exchange,
        "companyname": "",
        "netbuyqty": str(buy_qty),
        "realisedprofitloss": money(position.realised_pnl, commas=commas),
        "Fillsellamt": money(position.day_sell_value, commas=commas),
        "Netqty": str(net_qty),
        "Symbol": instrument.symbol,
        "BLQty": float(instrument.lot_size),
        "LTP": money(last),
        "Fillbuyamt": money(position.day_buy_value, commas=commas),
        "Fillsellqty": str(position.day_sell_quantity),
        "Tsym": instrument.trading_symbol,
        "CFbuyqty": str(cf_buy),
        "netSellamt": money(sell_amount, commas=commas),
        "Buyavgprc": money(_avg(buy_amount, buy_qty)),
        "MtoM": money(position.realised_pnl + unrealised, commas=commas),
        "stat": "Ok",
        "FillsellamtCF": money(cf_price * cf_sell, commas=commas),
        "PriceDenomenator": "1",
        "netsellqty": str(sell_qty),
        "PriceNumerator": "1",
        "posflag": "false",
        "Stikeprc": f"{Decimal(instrument.strike_price):.1f}" if instrument.option_type else "0.0",
        "BEP": money(position.net_average),
        "Series": "EQ" if not instrument.is_derivative else "XX",
        "GeneralDenomenator": "1",
        "Type": "DAY1" if ret == "DAY" else "NET",
        "Netamt": money(sell_amount - buy_amount, commas=commas),
        "NetSellavgprc": money(_avg(sell_amount, sell_qty)),
        "CFBuyavgprc": money(cf_price if cf_buy else Decimal("0")),
        "Fillbuyqty": str(position.day_buy_quantity),
        "GeneralNumerator": "1",
        "Exchangeseg": instrument.segment,
        "discQty": "NA",
    }


RMS_ZERO_KEYS = [
    "cncMarginUsed",
    "spanmargin",
    "branchAdhoc",
    "adhocMargin",
    "payoutamount",
    "cdsSpreadBenefit",
    "adhocscripmargin",
    "exposuremargin",
    "scripbasketmargin",
    "turnover",
    "grossexposurevalue",
    "mfssAmountUsed",
    "cncSellCrditPrsnt",
    "varmargin",
    "multiplier",
    "elm",
    "mfamount",
    "brokeragePrsnt",
    "cncRealizedMtomPrsnt",
    "notionalCash",
    "directcollateralvalue",
    "cncBrokeragePrsnt",
    "valueindelivery",
    "nfoSpreadBenefit",
    "losslimit",
    "subtotal",
    "rmsPayInAmnt",
    "coverOrderMarginPrsnt",
    "collateralvalue",
    "rmsIpoAmnt",
    "cncUnrealizedMtomPrsnt",
    "premiumPrsnt",
]


def rms_limits_rows(state: SimState, account: Account) -> list[dict[str, Any]]:
    """`getRmsLimits`: a list of segment objects, every value a string."""
    used = utilized_margin(state, account.user_id)
    positions = state.user_positions(account.user_id)
    realised = sum((p.realised_pnl for p in positions), Decimal("0"))
    unrealised = sum((unrealised_pnl(state, p) for p in positions), Decimal("0"))
    available = account.cash - used + realised + min(unrealised, Decimal("0"))
    row: dict[str, Any] = {key: "0.00" for key in RMS_ZERO_KEYS}
    row.update(
        {
            "symbol": "ALL",
            "credits": f"{account.cash:.2f}",
            "segment": "ALL",
            "net": f"{available:.2f}",
            "realizedMtomPrsnt": f"{realised:.2f}",
            "unrealizedMtomPrsnt": f"{unrealised:.2f}",
            "product": "ALL",
            "stat": "Ok",
            "debits": f"{used:.2f}",
            "cashmarginavailable": f"{available:.2f}",
            "exchange": "ALL",
            "category": "ALL",
            "multiplier": "1.00",
        }
    )
    return [row]


def account_details(account: Account) -> dict[str, Any]:
    """`accountDetails`: the profile object, without `stat`."""
    return {
        "accountStatus": "Activated",
        "dpType": "CDSL",
        "accountId": account.user_id,
        "sBrokerName": "ALICEBLUE",
        "product": ["MIS", "CNC", "NRML", "CO", "BO"],
        "accountName": account.name,
        "cellAddr": "98XXXXXX10",
        "emailAddr": f"{account.user_id.lower()}@example.com",
        "exchEnabled": "nse_cm|bse_cm|nse_fo|mcx_fo|cde_fo|",
    }

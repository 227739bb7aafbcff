"""Order request validation for both API flavours, in the documented order, to one canonical intent.

One rule sequence serves both flavours; a `FlavorSpec` names the JSON keys, the accepted enum spellings and
the error answer (a bare `EC…` code for the open-api, an `emsg` text for the legacy API) of every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from broker.simulator.contract_master import ContractMaster, Instrument

EXCHANGES = frozenset({"NSE", "BSE", "NFO", "MCX", "CDS", "BFO", "BCD", "NCO", "BCO"})
MAX_QUANTITY = 50_000_000
PRODUCT_CLASSES: dict[str, str] = {
    "INTRADAY": "MIS",
    "MIS": "MIS",
    "CO": "MIS",
    "BO": "MIS",
    "LONGTERM": "CNC",
    "CNC": "CNC",
    "DELIVERY": "CNC",
    "NRML": "NRML",
    "NORMAL": "NRML",
    "MTF": "MTF",
}


class ValidationFailure(Exception):
    """A rule failed; `answer` is the flavour's error (EC code or emsg text)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        super().__init__(answer)


@dataclass(frozen=True)
class OrderIntent:
    """A validated order in canonical terms (prices exact, enums upper-case)."""

    instrument: Instrument
    side: str
    quantity: int
    product: str
    product_class: str
    order_type: str
    price: Decimal
    trigger_price: Decimal
    validity: str
    complexity: str
    disclosed_quantity: int
    tag: str
    algo_id: str


@dataclass(frozen=True)
class FlavorSpec:
    """Keys, enum spellings and error answers of one API flavour."""

    keys: dict[str, str]
    sides: dict[str, str]
    order_types: dict[str, str]
    products: frozenset[str]
    complexities: dict[str, str]
    errors: dict[str, str]
    defaults: dict[str, str]


OPENAPI_SPEC = FlavorSpec(
    keys={
        "exchange": "exchange",
        "token": "instrumentId",
        "side": "transactionType",
        "quantity": "quantity",
        "product": "product",
        "complexity": "orderComplexity",
        "order_type": "orderType",
        "validity": "validity",
        "price": "price",
        "trigger": "slTriggerPrice",
        "disclosed": "disclosedQuantity",
        "tag": "orderTag",
        "algo": "algoId",
        "device": "deviceId",
    },
    sides={"BUY": "BUY", "SELL": "SELL"},
    order_types={"LIMIT": "LIMIT", "MARKET": "MARKET", "SL": "SL", "SLM": "SLM"},
    products=frozenset({"INTRADAY", "LONGTERM", "MTF", "NRML", "NORMAL"}),
    complexities={"REGULAR": "REGULAR", "AMO": "AMO"},
    errors={
        "not_object": "EC914",
        "exchange_missing": "EC900",
        "token_missing": "EC941",
        "side_missing": "EC907",
        "quantity_missing": "EC903",
        "product_missing": "EC906",
        "complexity_missing": "EC942",
        "order_type_missing": "EC934",
        "validity_missing": "EC944",
        "exchange_invalid": "EC901",
        "side_invalid": "EC929",
        "product_invalid": "EC092",
        "complexity_invalid": "EC091",
        "order_type_invalid": "EC930",
        "validity_invalid": "EC932",
        "ioc_amo": "EC996",
        "quantity_invalid": "EC904",
        "quantity_too_large": "EC948",
        "token_invalid": "EC946",
        "instrument_unknown": "EC947",
        "symbol_mismatch": "EC947",
        "lot_multiple": "EC954",
        "freeze_exceeded": "EC088",
        "price_missing": "EC950",
        "price_invalid": "EC957",
        "price_nonpositive": "EC958",
        "trigger_missing": "EC951",
        "trigger_invalid": "EC959",
        "trigger_nonpositive": "EC960",
        "trigger_above_price": "EC973",
        "trigger_below_price": "EC974",
        "disclosed_invalid": "EC975",
        "tag_too_long": "EC971",
        "algo_too_long": "EC972",
        "device_too_long": "EC813",
    },
    defaults={},
)

LEGACY_SPEC = FlavorSpec(
    keys={
        "exchange": "exch",
        "token": "symbol_id",
        "symbol": "trading_symbol",
        "side": "transtype",
        "quantity": "qty",
        "product": "pCode",
        "complexity": "complexty",
        "order_type": "prctyp",
        "validity": "ret",
        "price": "price",
        "trigger": "trigPrice",
        "disclosed": "discqty",
        "tag": "orderTag",
        "algo": "algoId",
        "device": "deviceNumber",
    },
    sides={"BUY": "BUY", "SELL": "SELL", "B": "BUY", "S": "SELL"},
    order_types={"L": "LIMIT", "MKT": "MARKET", "SL": "SL", "SL-M": "SLM"},
    products=frozenset({"MIS", "CNC", "NRML"}),
    complexities={"REGULAR": "REGULAR", "AMO": "AMO"},
    errors={
        "not_object": "Invalid Input",
        "exchange_missing": "Exchange cannot be empty",
        "token_missing": "Symbol cannot be empty",
        "side_missing": "Transaction type cannot be empty",
        "quantity_missing": "Quantity cannot be empty",
        "product_missing": "Product code cannot be empty",
        "complexity_missing": "Complexity cannot be empty",
        "order_type_missing": "Price type cannot be empty",
        "validity_missing": "Retention type cannot be empty",
        "exchange_invalid": "Invalid Exchange",
        "side_invalid": "Invalid Transaction Type",
        "product_invalid": "Invalid Product Code",
        "complexity_invalid": "Invalid Complexity Type",
        "order_type_invalid": "Invalid Price Type",
        "validity_invalid": "Invalid Retention Type",
        "ioc_amo": "IOC is not allowed for AMO orders",
        "quantity_invalid": "Invalid Quantity",
        "quantity_too_large": "Quantity exceeds the maximum allowed",
        "token_invalid": "Invalid Symbol",
        "instrument_unknown": "Invalid Symbol",
        "symbol_mismatch": "Invalid Trading Symbol",
        "lot_multiple": "Quantity should be in multiples of lot size {lot}",
        "freeze_exceeded": "Quantity {quantity} exceeds the freeze quantity {freeze}: place it in slices",
        "price_missing": "Price cannot be empty for limit orders",
        "price_invalid": "Invalid Price",
        "price_nonpositive": "Price should be greater than zero",
        "trigger_missing": "Trigger price cannot be empty for stop loss orders",
        "trigger_invalid": "Invalid Trigger Price",
        "trigger_nonpositive": "Trigger price should be greater than zero",
        "trigger_above_price": "Trigger price should be less than limit price for buy orders",
        "trigger_below_price": "Trigger price should be greater than limit price for sell orders",
        "disclosed_invalid": "Invalid Disclosed Quantity",
        "tag_too_long": "Order tag length should not exceed 50 characters",
        "algo_too_long": "Algo ID length should not exceed 12 characters",
        "device_too_long": "Invalid Device Number",
    },
    defaults={"complexity": "REGULAR", "validity": "DAY"},
)


def field_text(value: Any) -> str:
    """A JSON value as stripped text; None is ''."""
    if value is None:
        return ""
    return str(value).strip()


def parse_quantity(value: Any) -> int | None:
    """A positive-or-not integer from an int or a digit string; None when not an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = field_text(value)
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def parse_price(value: Any) -> Decimal | None:
    """A finite Decimal from a number or a numeric string; None when not a number."""
    if isinstance(value, bool):
        return None
    try:
        price = Decimal(field_text(value))
    except InvalidOperation:
        return None
    return price if price.is_finite() else None


class _Checker:
    """Runs the rules of one flavour over one request body."""

    def __init__(self, body: dict[str, Any], spec: FlavorSpec) -> None:
        self.body = body
        self.spec = spec

    def fail(self, rule: str, **values: Any) -> ValidationFailure:
        return ValidationFailure(self.spec.errors[rule].format(**values))

    def text(self, name: str) -> str:
        key = self.spec.keys.get(name)
        value = field_text(self.body.get(key)) if key else ""
        return value or self.spec.defaults.get(name, "")

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise self.fail(f"{name}_missing")
        return value

    def enum(self, name: str, value: str, allowed: dict[str, str] | frozenset[str]) -> str:
        upper = value.upper()
        if upper not in allowed:
            raise self.fail(f"{name}_invalid")
        return allowed[upper] if isinstance(allowed, dict) else upper


def _resolve_instrument(check: _Checker, exchange: str, master: ContractMaster) -> Instrument:
    token = check.text("token")
    symbol = check.text("symbol")
    if token:
        if not token.isdigit():
            raise check.fail("token_invalid")
        instrument = master.by_token(exchange, token)
        if instrument is None:
            raise check.fail("instrument_unknown")
        if symbol and symbol.upper() != instrument.trading_symbol.upper():
            raise check.fail("symbol_mismatch")
        return instrument
    instrument = master.by_trading_symbol(exchange, symbol) if symbol else None
    if instrument is None:
        raise check.fail("instrument_unknown")
    return instrument


def _prices(check: _Checker, order_type: str, side: str) -> tuple[Decimal, Decimal]:
    price = Decimal("0")
    trigger = Decimal("0")
    if order_type in {"LIMIT", "SL"}:
        raw = check.text("price")
        if not raw:
            raise check.fail("price_missing")
        parsed = parse_price(raw)
        if parsed is None:
            raise check.fail("price_invalid")
        if parsed <= 0:
            raise check.fail("price_nonpositive")
        price = parsed
    if order_type in {"SL", "SLM"}:
        raw = check.text("trigger")
        if not raw:
            raise check.fail("trigger_missing")
        parsed = parse_price(raw)
        if parsed is None:
            raise check.fail("trigger_invalid")
        if parsed <= 0:
            raise check.fail("trigger_nonpositive")
        trigger = parsed
    if order_type == "SL" and side == "BUY" and trigger > price:
        raise check.fail("trigger_above_price")
    if order_type == "SL" and side == "SELL" and trigger < price:
        raise check.fail("trigger_below_price")
    return price, trigger


def order_intent_from(body: Any, spec: FlavorSpec, master: ContractMaster) -> OrderIntent:
    """Validate one order element; raises ValidationFailure with the flavour's answer."""
    if not isinstance(body, dict):
        raise ValidationFailure(spec.errors["not_object"])
    check = _Checker(body, spec)
    exchange = check.required("exchange")
    if not (check.text("token") or check.text("symbol")):
        raise check.fail("token_missing")
    side = check.required("side")
    raw_quantity = check.required("quantity")
    product = check.required("product")
    complexity = check.required("complexity")
    order_type = check.required("order_type")
    validity = check.required("validity")

    exchange = check.enum("exchange", exchange, EXCHANGES)
    side = check.enum("side", side, spec.sides)
    product = check.enum("product", product, spec.products)
    complexity = check.enum("complexity", complexity, spec.complexities)
    order_type = check.enum("order_type", order_type, spec.order_types)
    validity = check.enum("validity", validity, {"DAY": "DAY", "IOC": "IOC"})
    if validity == "IOC" and complexity == "AMO":
        raise check.fail("ioc_amo")

    quantity = parse_quantity(raw_quantity)
    if quantity is None or quantity <= 0:
        raise check.fail("quantity_invalid")
    if quantity > MAX_QUANTITY:
        raise check.fail("quantity_too_large")
    instrument = _resolve_instrument(check, exchange, master)
    if quantity % instrument.lot_size:
        raise check.fail("lot_multiple", lot=instrument.lot_size)
    if instrument.freeze_quantity and quantity > instrument.freeze_quantity:
        # The exchange refuses a single order above the underlying's freeze quantity (place and modify).
        raise check.fail("freeze_exceeded", quantity=quantity, freeze=instrument.freeze_quantity)

    price, trigger = _prices(check, order_type, side)
    disclosed = 0
    if check.text("disclosed"):
        parsed = parse_quantity(check.text("disclosed"))
        if parsed is None or parsed < 0 or parsed > quantity:
            raise check.fail("disclosed_invalid")
        disclosed = parsed

    tag = check.text("tag")
    algo_id = check.text("algo")
    if len(tag) > 50:
        raise check.fail("tag_too_long")
    if len(algo_id) > 12:
        raise check.fail("algo_too_long")
    if len(check.text("device")) > 98:
        raise check.fail("device_too_long")
    return OrderIntent(
        instrument=instrument,
        side=side,
        quantity=quantity,
        product=product,
        product_class=PRODUCT_CLASSES[product],
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        validity=validity,
        complexity=complexity,
        disclosed_quantity=disclosed,
        tag=tag,
        algo_id=algo_id,
    )

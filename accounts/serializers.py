"""Request parsing and response shapes of the accounts API (the seed's JSON keys)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import validators as v
from accounts.models import (
    Account,
    BrokerCredential,
    OrderTypeChoices,
    PriceGuardAction,
    ProductTypeChoices,
    RiskConfig,
)
from accounts.services.consent import CONSENT_REQUIRED_MESSAGE
from copytrade.core.exceptions import ValidationFailed
from copytrade.core.fields import (
    CaseInsensitiveChoiceField,
    ClockField,
    DayField,
    DecimalInputField,
    ExactChoiceField,
    IdentifierField,
    StrictBooleanField,
    StrictIntegerField,
    TextField,
    annotate,
)
from copytrade.core.schema import ApiErrorOutput, schema_keywords

# ------------------------------------------------------------------------------------------- inputs
# Every field is bounded by what its column and the market allow (accounts/validators.py): a value out of
# bounds is a 400 naming the field, before anything is written.


def id_field(**kwargs) -> IdentifierField:
    """An account id (followerId, accountId): 1..120 characters of printable ASCII without spaces."""
    return IdentifierField(max_length=v.ACCOUNT_ID_MAX_LENGTH, **kwargs)


def client_id_field(**kwargs) -> IdentifierField:
    """An Alice Blue user id: printable ASCII without spaces (the legacy API sends it in a header)."""
    return IdentifierField(max_length=v.CLIENT_ID_MAX_LENGTH, **kwargs)


def secret_field(max_length: int, **kwargs) -> IdentifierField:
    """A token, key or secret: printable ASCII without spaces (sent to Alice Blue in an HTTP header), never
    echoed back."""
    return IdentifierField(max_length=max_length, write_only=True, **kwargs)


def text_field(max_length: int, **kwargs) -> TextField:
    return TextField(max_length=max_length, **kwargs)


def quantity_field(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=v.QUANTITY_MIN, max_value=v.QUANTITY_MAX, **kwargs)


def money_field(**kwargs) -> DecimalInputField:
    """Rupees, as the DECIMAL(15, 2) columns hold them."""
    return DecimalInputField(
        places=2, min_value=Decimal("0"), max_value=Decimal("9999999999999.99"), **kwargs
    )


def multiplier_field(**kwargs) -> DecimalInputField:
    """A lot multiplier, as the DECIMAL(12, 4) columns hold it."""
    return DecimalInputField(
        places=4, min_value=Decimal("0.0001"), max_value=Decimal("99999999.9999"), **kwargs
    )


class SymbolField(IdentifierField):
    """A trading symbol or underlying as the contract master spells it, in upper case (NIFTY, M&M-EQ)."""

    default_error_messages = {
        "pattern": "Upper-case letters, digits and & . _ - only, starting with a letter or a digit."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=v.SYMBOL_MAX_LENGTH, **kwargs)
        self.pattern = v.SYMBOL_PATTERN
        self._regex = re.compile(self.pattern)
        annotate(
            self,
            {"type": "string", "pattern": self.pattern, "minLength": 1, "maxLength": v.SYMBOL_MAX_LENGTH},
        )


class SymbolMultiplierInput(serializers.Serializer):
    symbol = SymbolField(
        help_text="A trading symbol (NIFTY26DEC26500CE, RELIANCE-EQ) or an underlying (NIFTY)."
    )
    multiplier = multiplier_field()


class SymbolMultipliersField(serializers.ListField):
    """Per-symbol multipliers as a list of {symbol, multiplier}; stored as {SYMBOL: multiplier}. A symbol
    given twice takes its last multiplier, as a JSON object's repeated key does (the schema cannot say
    "unique symbols", and what it allows is accepted)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "Per-symbol multipliers replacing lot_multiplier (also the factor of capital sizing): the exact "
            "trading symbol first, then the underlying; a symbol given twice takes its last multiplier. "
            "Empty: none.",
        )
        super().__init__(child=SymbolMultiplierInput(), max_length=v.LIST_MAX_ITEMS, **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:  # type: ignore[override]
        pairs = {item["symbol"]: item["multiplier"] for item in super().to_internal_value(data)}
        try:
            return v.symbol_multipliers_normalized(pairs)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from exc


class SymbolMultiplierOutput(serializers.Serializer):
    symbol = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=12, decimal_places=4)


class FollowerCreateInput(serializers.Serializer):
    followerId = id_field()
    clientId = client_id_field()
    name = text_field(v.NAME_MAX_LENGTH, required=False, allow_blank=True, default="")
    apiFlavor = ExactChoiceField(choices=Account.ApiFlavor.choices, required=False)
    paper = StrictBooleanField(required=False, default=False)
    apiKey = secret_field(v.API_KEY_MAX_LENGTH, required=False, allow_blank=True)
    apiSecret = secret_field(v.API_KEY_MAX_LENGTH, required=False, allow_blank=True)
    accessToken = secret_field(v.TOKEN_MAX_LENGTH, required=False, allow_blank=True)
    brokerSessionId = secret_field(v.TOKEN_MAX_LENGTH, required=False, allow_blank=True)


class CredentialsInput(serializers.Serializer):
    followerId = id_field()
    accessToken = secret_field(v.TOKEN_MAX_LENGTH)
    clientId = client_id_field(required=False, allow_blank=True)
    apiKey = secret_field(v.API_KEY_MAX_LENGTH, required=False, allow_blank=True)
    apiSecret = secret_field(v.API_KEY_MAX_LENGTH, required=False, allow_blank=True)
    brokerSessionId = secret_field(v.TOKEN_MAX_LENGTH, required=False, allow_blank=True)


class FollowerIdQuery(serializers.Serializer):
    followerId = id_field()


class FollowerIdInput(serializers.Serializer):
    followerId = id_field()


# The cross-field rule, as JSON schema: FIXED_QTY sizing needs a fixed quantity (MULTIPLIER, the default,
# and CAPITAL do not).
_SIZING_RULES = [
    {"not": {"required": ["sizing_mode"]}},
    {
        "properties": {
            "sizing_mode": {
                "enum": [RiskConfig.SizingMode.MULTIPLIER.value, RiskConfig.SizingMode.CAPITAL.value, None]
            }
        }
    },
    {
        "properties": {
            "sizing_mode": {"enum": [RiskConfig.SizingMode.FIXED_QTY.value]},
            "fixed_quantity": {"type": "integer", "minimum": v.QUANTITY_MIN, "maximum": v.QUANTITY_MAX},
        },
        "required": ["sizing_mode", "fixed_quantity"],
    },
]


@schema_keywords("RiskConfigInput", anyOf=_SIZING_RULES)
class RiskConfigInput(serializers.Serializer):
    followerId = id_field()
    lot_multiplier = multiplier_field(required=False, allow_null=True)
    sizing_mode = ExactChoiceField(choices=RiskConfig.SizingMode.choices, required=False, allow_null=True)
    fixed_quantity = quantity_field(required=False, allow_null=True)
    max_quantity = quantity_field(required=False, allow_null=True)
    max_order_value = money_field(required=False, allow_null=True)
    max_daily_loss = money_field(required=False, allow_null=True)
    allowed_instruments = serializers.ListField(
        child=IdentifierField(max_length=v.SYMBOL_MAX_LENGTH),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text="Trading symbols; empty means every instrument.",
    )
    allowed_product_types = serializers.ListField(
        child=CaseInsensitiveChoiceField(choices=ProductTypeChoices.values),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text=f"Any of {', '.join(ProductTypeChoices.values)} (any case); empty means all.",
    )
    allowed_order_types = serializers.ListField(
        child=CaseInsensitiveChoiceField(choices=OrderTypeChoices.values),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text=f"Any of {', '.join(OrderTypeChoices.values)} (any case); empty means all.",
    )
    enabled = StrictBooleanField(required=False, allow_null=True)
    symbol_multipliers = SymbolMultipliersField(required=False, allow_null=True)
    window_start = ClockField(
        required=False, allow_null=True, help_text="Copy window start, IST, HH:MM[:SS] (default 09:15)."
    )
    window_end = ClockField(
        example="15:20",
        required=False,
        allow_null=True,
        help_text="Copy window end, IST, HH:MM[:SS], included (default 15:20); before the start: overnight.",
    )
    price_guard_percent = DecimalInputField(
        places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        allow_null=True,
        help_text="A LIMIT entry priced further than this percentage from the last price is skipped or sent "
        "as MARKET; null or 0: off.",
    )
    price_guard_action = ExactChoiceField(
        choices=PriceGuardAction.choices,
        required=False,
        allow_null=True,
        help_text="SKIP (default) or MARKET: what the price guard does with a stale LIMIT entry.",
    )


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueOnlyField(StrictBooleanField):
    """A flag that must be sent, and true (anything else is refused with its explanation)."""


class ConsentInput(serializers.Serializer):
    """Consent the follower gave elsewhere, recorded by the operator: both `recordedByOperator: true` and a
    `reference` are required (without them the answer explains the consent link, code
    consent_needs_follower)."""

    followerId = id_field()
    recordedByOperator = TrueOnlyField(
        help_text="Must be true: the operator records consent the follower gave elsewhere (see reference). "
        "Followers give consent themselves through a consent link.",
    )
    reference = text_field(
        v.REFERENCE_MAX_LENGTH, visible=True, help_text='Where the evidence is, e.g. "signed form #123".'
    )
    termsVersion = text_field(v.TERMS_VERSION_MAX_LENGTH, required=False, allow_blank=True, default="")
    consentToken = text_field(255, required=False, allow_blank=True, default="")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # The follower first (a missing id is named as such), then the operator's evidence.
        if (
            isinstance(data, dict)
            and data.get("followerId")
            and (data.get("recordedByOperator") is not True or not data.get("reference"))
        ):
            raise ValidationFailed(
                CONSENT_REQUIRED_MESSAGE,
                code="consent_needs_follower",
                extra={"fields": ["recordedByOperator", "reference"]},
            )
        return super().to_internal_value(data)


class StopCopyInput(serializers.Serializer):
    followerId = id_field()
    action = CaseInsensitiveChoiceField(
        choices=("stop", "resume"), message='action must be either "stop" or "resume"'
    )


class MasterSettingsInput(serializers.Serializer):
    maxQuantityPerTrade = quantity_field(required=False)
    maxDailyLossPercentage = DecimalInputField(
        places=2, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )
    minLotSize = StrictIntegerField(min_value=v.LOT_SIZE_MIN, max_value=v.LOT_SIZE_MAX, required=False)
    defaultLotMultiplier = multiplier_field(required=False)
    autoLiquidateOnLoss = StrictBooleanField(required=False)
    maxConcurrentTrades = StrictIntegerField(
        min_value=v.CONCURRENT_TRADES_MIN, max_value=v.CONCURRENT_TRADES_MAX, required=False
    )
    autoReplicateNewTrades = StrictBooleanField(required=False)
    # Whole seconds here (the admin takes halves too); the model's minimums (0.5 s, 1 s) apply to both.
    pollIntervalSeconds = DecimalInputField(
        places=0, min_value=Decimal("1"), max_value=Decimal("999"), required=False
    )
    pollIntervalWithStreamSeconds = DecimalInputField(
        places=0, min_value=Decimal("1"), max_value=Decimal("999"), required=False
    )
    enforceCopyWindow = StrictBooleanField(
        required=False,
        help_text="New entries only on NSE trading days inside each follower's copy window (IST).",
    )
    allowAmo = StrictBooleanField(
        required=False,
        help_text="Entries seen while the NSE is closed are sent as after-market orders instead of skipped.",
    )
    extraClosedDays = serializers.ListField(
        child=DayField(),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        help_text="Extra days the market is closed (YYYY-MM-DD); replaces the list.",
    )
    extraTradingDays = serializers.ListField(
        child=DayField(),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        help_text="Special sessions on closed days, e.g. Muhurat trading (YYYY-MM-DD); replaces the list.",
    )

    FIELD_MAP = {
        "maxQuantityPerTrade": "max_quantity_per_trade",
        "maxDailyLossPercentage": "max_daily_loss_percentage",
        "minLotSize": "min_lot_size",
        "defaultLotMultiplier": "default_lot_multiplier",
        "autoLiquidateOnLoss": "auto_liquidate_on_loss",
        "maxConcurrentTrades": "max_concurrent_trades",
        "autoReplicateNewTrades": "auto_replicate_new_trades",
        "pollIntervalSeconds": "poll_interval_seconds",
        "pollIntervalWithStreamSeconds": "poll_interval_with_stream_seconds",
        "enforceCopyWindow": "enforce_copy_window",
        "allowAmo": "allow_amo",
        "extraClosedDays": "extra_closed_days",
        "extraTradingDays": "extra_trading_days",
    }


class VendorStartQuery(serializers.Serializer):
    accountId = id_field(required=False)


class VendorCallbackQuery(serializers.Serializer):
    """What Alice Blue's redirect carries (documentation: the callback reads its aliases too)."""

    authCode = TextField(max_length=512)
    userId = client_id_field()


# ------------------------------------------------------------------------------------------ outputs


class OkMessageOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class FollowerOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    name = serializers.CharField()
    client_id = serializers.CharField()
    status = serializers.CharField()
    api_flavor = serializers.CharField()
    paper = serializers.BooleanField()
    copy_trading_active = serializers.BooleanField()
    consent_given = serializers.BooleanField()
    session_status = ExactChoiceField(
        choices=BrokerCredential.SessionStatus.choices,
        help_text="VALID only when a read call succeeded today (Asia/Kolkata); UNVERIFIED until one does.",
    )
    session_ready_today = serializers.BooleanField()
    replacement_pending = serializers.BooleanField(
        help_text="A new token waits for its check; the working session is used until it passes."
    )
    created_at = serializers.DateTimeField()


class FollowerListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    followers = FollowerOutput(many=True)


class FollowerCreateOutput(OkMessageOutput):
    follower = FollowerOutput()


class CredentialSavedOutput(OkMessageOutput):
    credentialId = serializers.IntegerField()
    sessionStatus = ExactChoiceField(choices=BrokerCredential.SessionStatus.choices)
    replacementPending = serializers.BooleanField(
        help_text="True when the token was kept as the replacement of a session that works today: the "
        "working session stays in use until a background check accepts the new token."
    )


class CredentialOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    client_id = serializers.CharField()
    api_key_last4 = serializers.CharField()
    access_token_last4 = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    session_status = ExactChoiceField(choices=BrokerCredential.SessionStatus.choices)
    replacement_pending = serializers.BooleanField()
    last_verified_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class CredentialGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    credential = CredentialOutput()


class RiskConfigSavedOutput(OkMessageOutput):
    configId = serializers.IntegerField()


class RiskConfigOutput(serializers.Serializer):
    follower_id = serializers.CharField(source="account.account_id")
    lot_multiplier = serializers.DecimalField(max_digits=12, decimal_places=4)
    max_quantity = serializers.IntegerField()
    max_order_value = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    max_daily_loss = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    allowed_instruments = serializers.ListField(child=serializers.CharField())
    allowed_product_types = serializers.ListField(child=serializers.CharField())
    allowed_order_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    sizing_mode = serializers.CharField()
    fixed_quantity = serializers.IntegerField(allow_null=True)
    symbol_multipliers = serializers.SerializerMethodField(
        help_text="Per-symbol multipliers, trading symbols and underlyings in the order they were given."
    )

    @extend_schema_field(SymbolMultiplierOutput(many=True))
    def get_symbol_multipliers(self, config: RiskConfig) -> list[dict[str, Any]]:
        return [
            {"symbol": symbol, "multiplier": format(Decimal(multiplier).quantize(Decimal("0.0001")), "f")}
            for symbol, multiplier in (config.symbol_multipliers or {}).items()
        ]

    window_start = ClockField()
    window_end = ClockField(example="15:20")
    price_guard_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    price_guard_action = serializers.ChoiceField(choices=PriceGuardAction.choices)


class RiskConfigGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    config = RiskConfigOutput()


class ConsentSavedOutput(OkMessageOutput):
    consentId = serializers.IntegerField()


class ConsentOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    enabled = serializers.BooleanField()
    consentGivenAt = serializers.DateTimeField(allow_null=True)
    recordedBy = serializers.CharField(allow_null=True, help_text="FOLLOWER (consent link) or OPERATOR.")
    reference = serializers.CharField(allow_blank=True)
    termsVersion = serializers.CharField(allow_blank=True)
    revokedAt = serializers.DateTimeField(allow_null=True)


class ConsentGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    consent = ConsentOutput(allow_null=True)


class ConsentRevokedOutput(OkMessageOutput):
    consent = ConsentOutput()


class ConsentLinkOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    url = serializers.URLField(help_text="Send it to the follower; it works once, until expiresAt.")
    expiresAt = serializers.DateTimeField()


class StopCopyStateOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    enabled = serializers.BooleanField()
    copyTradingActive = serializers.BooleanField()
    stoppedAt = serializers.DateTimeField(allow_null=True)
    stoppedBy = serializers.CharField(allow_null=True)


class StopCopyOutput(OkMessageOutput):
    consent = StopCopyStateOutput()


class StopCopyGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    copyTradingActive = serializers.BooleanField()
    stoppedAt = serializers.DateTimeField(allow_null=True)
    stoppedBy = serializers.CharField(allow_null=True)


class TestConnectOutput(OkMessageOutput):
    clientId = serializers.CharField()
    sessionStatus = serializers.CharField()
    replacementPending = serializers.BooleanField()
    warning = serializers.CharField(allow_null=True)


class TokenMaskOutput(serializers.Serializer):
    userId = serializers.CharField()
    tokenMask = serializers.CharField()


class AdminAccountsOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    accounts = serializers.IntegerField()
    list = TokenMaskOutput(many=True)


class MasterSettingsOutput(serializers.Serializer):
    max_quantity_per_trade = serializers.IntegerField()
    max_daily_loss_percentage = serializers.DecimalField(max_digits=5, decimal_places=2)
    min_lot_size = serializers.IntegerField()
    default_lot_multiplier = serializers.DecimalField(max_digits=12, decimal_places=4)
    auto_liquidate_on_loss = serializers.BooleanField()
    max_concurrent_trades = serializers.IntegerField()
    auto_replicate_new_trades = serializers.BooleanField()
    poll_interval_seconds = serializers.DecimalField(max_digits=6, decimal_places=2)
    poll_interval_with_stream_seconds = serializers.DecimalField(max_digits=6, decimal_places=2)
    enforce_copy_window = serializers.BooleanField()
    allow_amo = serializers.BooleanField()
    extra_closed_days = serializers.ListField(child=serializers.DateField())
    extra_trading_days = serializers.ListField(child=serializers.DateField())


class MasterSettingsGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    settings = MasterSettingsOutput()


class MasterStatusOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    master = TokenMaskOutput(allow_null=True)


# The one error body of every API (copytrade.core.exceptions).
ErrorOutput = ApiErrorOutput

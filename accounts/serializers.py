"""Request parsing and response shapes of the accounts API (the seed's JSON keys)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts import validators as v
from accounts.models import Account, BrokerCredential, OrderTypeChoices, ProductTypeChoices, RiskConfig

# ------------------------------------------------------------------------------------------- inputs
# Every field is bounded by what its column and the market allow (accounts/validators.py): a value out of
# bounds is a 400 naming the field, before anything is written.


def id_field(**kwargs) -> serializers.CharField:
    """An account id (followerId, accountId): 1..120 printable characters without spaces."""
    return serializers.CharField(
        max_length=v.ACCOUNT_ID_MAX_LENGTH, validators=[v.validate_identifier], **kwargs
    )


def client_id_field(**kwargs) -> serializers.CharField:
    """An Alice Blue user id: printable ASCII (it is sent in a header by the legacy API)."""
    return serializers.CharField(
        max_length=v.CLIENT_ID_MAX_LENGTH, validators=[v.validate_header_safe], **kwargs
    )


def secret_field(max_length: int, **kwargs) -> serializers.CharField:
    """A token, key or secret: printable ASCII (sent to Alice Blue in an HTTP header), never echoed back."""
    return serializers.CharField(
        max_length=max_length, validators=[v.validate_header_safe], write_only=True, **kwargs
    )


def text_field(max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, validators=[v.validate_printable], **kwargs)


def quantity_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=v.QUANTITY_MIN, max_value=v.QUANTITY_MAX, **kwargs)


class UpperChoiceField(serializers.CharField):
    """One of `choices`, given in any case ("market" is MARKET); a string in the schema, since any case is
    accepted (the allowed codes are in the list field's help text)."""

    default_error_messages = {"invalid_choice": '"{input}" is not one of {choices}.'}

    def __init__(self, *, choices: list[str], **kwargs) -> None:
        self.choices = choices
        super().__init__(max_length=16, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data).upper()
        if value not in self.choices:
            self.fail("invalid_choice", input=value, choices=", ".join(self.choices))
        return value


class FollowerCreateInput(serializers.Serializer):
    followerId = id_field()
    clientId = client_id_field()
    name = text_field(v.NAME_MAX_LENGTH, required=False, allow_blank=True, default="")
    apiFlavor = serializers.ChoiceField(choices=Account.ApiFlavor.choices, required=False)
    paper = serializers.BooleanField(required=False, default=False)
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


class RiskConfigInput(serializers.Serializer):
    followerId = id_field()
    lot_multiplier = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), required=False, allow_null=True
    )
    sizing_mode = serializers.ChoiceField(
        choices=RiskConfig.SizingMode.choices, required=False, allow_null=True
    )
    fixed_quantity = quantity_field(required=False, allow_null=True)
    max_quantity = quantity_field(required=False, allow_null=True)
    max_order_value = serializers.DecimalField(
        max_digits=15, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    max_daily_loss = serializers.DecimalField(
        max_digits=15, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    allowed_instruments = serializers.ListField(
        child=serializers.CharField(max_length=v.SYMBOL_MAX_LENGTH, validators=[v.validate_identifier]),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text="Trading symbols; empty means every instrument.",
    )
    allowed_product_types = serializers.ListField(
        child=UpperChoiceField(choices=ProductTypeChoices.values),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text=f"Any of {', '.join(ProductTypeChoices.values)} (any case); empty means all.",
    )
    allowed_order_types = serializers.ListField(
        child=UpperChoiceField(choices=OrderTypeChoices.values),
        max_length=v.LIST_MAX_ITEMS,
        required=False,
        allow_null=True,
        help_text=f"Any of {', '.join(OrderTypeChoices.values)} (any case); empty means all.",
    )
    enabled = serializers.BooleanField(required=False, allow_null=True)


class ConsentInput(serializers.Serializer):
    followerId = id_field()
    recordedByOperator = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Must be true: the operator records consent the follower gave elsewhere (see reference). "
        "Followers give consent themselves through a consent link.",
    )
    reference = text_field(
        v.REFERENCE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text='Where the evidence is, e.g. "signed form #123" (required).',
    )
    termsVersion = text_field(v.TERMS_VERSION_MAX_LENGTH, required=False, allow_blank=True, default="")
    consentToken = text_field(255, required=False, allow_blank=True, default="")


class StopCopyInput(serializers.Serializer):
    followerId = id_field()
    action = serializers.CharField(max_length=16)


class MasterSettingsInput(serializers.Serializer):
    maxQuantityPerTrade = quantity_field(required=False)
    maxDailyLossPercentage = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )
    minLotSize = serializers.IntegerField(min_value=v.LOT_SIZE_MIN, max_value=v.LOT_SIZE_MAX, required=False)
    defaultLotMultiplier = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), required=False
    )
    autoLiquidateOnLoss = serializers.BooleanField(required=False)
    maxConcurrentTrades = serializers.IntegerField(
        min_value=v.CONCURRENT_TRADES_MIN, max_value=v.CONCURRENT_TRADES_MAX, required=False
    )
    autoReplicateNewTrades = serializers.BooleanField(required=False)

    FIELD_MAP = {
        "maxQuantityPerTrade": "max_quantity_per_trade",
        "maxDailyLossPercentage": "max_daily_loss_percentage",
        "minLotSize": "min_lot_size",
        "defaultLotMultiplier": "default_lot_multiplier",
        "autoLiquidateOnLoss": "auto_liquidate_on_loss",
        "maxConcurrentTrades": "max_concurrent_trades",
        "autoReplicateNewTrades": "auto_replicate_new_trades",
    }


class VendorStartQuery(serializers.Serializer):
    accountId = id_field(required=False)


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
    session_status = serializers.ChoiceField(
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
    sessionStatus = serializers.ChoiceField(choices=BrokerCredential.SessionStatus.choices)
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
    session_status = serializers.ChoiceField(choices=BrokerCredential.SessionStatus.choices)
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


class MasterSettingsGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    settings = MasterSettingsOutput()


class MasterStatusOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    master = TokenMaskOutput(allow_null=True)


class ErrorOutput(serializers.Serializer):
    ok = serializers.BooleanField(default=False)
    message = serializers.CharField()
    code = serializers.CharField()
    extra = serializers.DictField()

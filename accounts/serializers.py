"""Request parsing and response shapes of the accounts API (the seed's JSON keys)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.models import Account, RiskConfig

# ------------------------------------------------------------------------------------------- inputs


class FollowerCreateInput(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)
    clientId = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    apiFlavor = serializers.ChoiceField(choices=Account.ApiFlavor.choices, required=False)
    paper = serializers.BooleanField(required=False, default=False)
    apiKey = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=True)
    apiSecret = serializers.CharField(required=False, allow_blank=True, write_only=True)
    accessToken = serializers.CharField(required=False, allow_blank=True, write_only=True)
    brokerSessionId = serializers.CharField(required=False, allow_blank=True, write_only=True)


class CredentialsInput(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)
    accessToken = serializers.CharField(write_only=True)
    clientId = serializers.CharField(max_length=64, required=False, allow_blank=True)
    apiKey = serializers.CharField(required=False, allow_blank=True, write_only=True)
    apiSecret = serializers.CharField(required=False, allow_blank=True, write_only=True)
    brokerSessionId = serializers.CharField(required=False, allow_blank=True, write_only=True)


class FollowerIdQuery(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)


class UpperStringList(serializers.ListField):
    child = serializers.CharField(max_length=64)


class RiskConfigInput(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)
    lot_multiplier = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), required=False, allow_null=True
    )
    sizing_mode = serializers.ChoiceField(
        choices=RiskConfig.SizingMode.choices, required=False, allow_null=True
    )
    fixed_quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    max_quantity = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    max_order_value = serializers.DecimalField(
        max_digits=15, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    max_daily_loss = serializers.DecimalField(
        max_digits=15, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True
    )
    allowed_instruments = UpperStringList(required=False, allow_null=True)
    allowed_product_types = UpperStringList(required=False, allow_null=True)
    allowed_order_types = UpperStringList(required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False, allow_null=True)


class ConsentInput(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)
    consentToken = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class StopCopyInput(serializers.Serializer):
    followerId = serializers.CharField(max_length=120)
    action = serializers.CharField(max_length=16)


class MasterSettingsInput(serializers.Serializer):
    maxQuantityPerTrade = serializers.IntegerField(min_value=1, required=False)
    maxDailyLossPercentage = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )
    minLotSize = serializers.IntegerField(min_value=1, required=False)
    defaultLotMultiplier = serializers.DecimalField(
        max_digits=12, decimal_places=4, min_value=Decimal("0.0001"), required=False
    )
    autoLiquidateOnLoss = serializers.BooleanField(required=False)
    maxConcurrentTrades = serializers.IntegerField(min_value=1, required=False)
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
    accountId = serializers.CharField(max_length=120, required=False)


class VendorCallbackQuery(serializers.Serializer):
    authCode = serializers.CharField(max_length=512, required=False)
    userId = serializers.CharField(max_length=64, required=False)


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
    session_status = serializers.CharField()
    session_ready_today = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class FollowerListOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    followers = FollowerOutput(many=True)


class FollowerCreateOutput(OkMessageOutput):
    follower = FollowerOutput()


class CredentialSavedOutput(OkMessageOutput):
    credentialId = serializers.IntegerField()


class CredentialOutput(serializers.Serializer):
    follower_id = serializers.CharField()
    client_id = serializers.CharField()
    api_key_last4 = serializers.CharField()
    access_token_last4 = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    session_status = serializers.CharField()


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


class ConsentGetOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    consent = ConsentOutput(allow_null=True)


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

"""factory_boy factories for the replication app."""

from __future__ import annotations

import factory

from replication.models import OrderMapping, TradeEvent, order_tag_for
from tests.factories.accounts import FollowerFactory


class TradeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TradeEvent

    master_order_id = factory.Sequence(lambda n: f"M-TEST-{n + 1:03d}")
    dedupe_key = factory.LazyAttribute(lambda o: f"PLACE:{o.master_order_id}")
    event_type = TradeEvent.EventType.PLACE
    symbol = "SBIN"
    trading_symbol = "SBIN-EQ"
    token = "3045"
    exchange = "NSE"
    side = "BUY"
    quantity = 100


class OrderMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderMapping

    trade_event = factory.SubFactory(TradeEventFactory)
    master_order_id = factory.SelfAttribute("trade_event.master_order_id")
    follower = factory.SubFactory(FollowerFactory)
    leg = OrderMapping.Leg.ENTRY
    order_tag = factory.LazyAttribute(
        lambda o: order_tag_for(master_order_id=o.master_order_id, follower_pk=o.follower.pk, leg=o.leg)
    )
    symbol = "SBIN"
    trading_symbol = "SBIN-EQ"
    token = "3045"
    exchange = "NSE"
    side = "BUY"
    quantity = 100
    status = OrderMapping.Status.PENDING

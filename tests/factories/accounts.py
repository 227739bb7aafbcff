"""factory_boy factories for the accounts app."""

from __future__ import annotations

import factory
from django.utils import timezone

from accounts.models import Account, BrokerCredential, Consent, RiskConfig


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("account_id",)

    account_id = factory.Sequence(lambda n: f"TEST-USER-{n + 1}")
    role = Account.Role.FOLLOWER
    name = factory.LazyAttribute(lambda o: f"Follower {o.account_id}")
    client_id = factory.Sequence(lambda n: f"AB{100000 + n}")
    api_flavor = Account.ApiFlavor.OPENAPI
    status = Account.Status.ACTIVE


class FollowerFactory(AccountFactory):
    class Meta:
        skip_postgeneration_save = True

    risk_config = factory.RelatedFactory(
        "tests.factories.accounts.RiskConfigFactory", factory_related_name="account"
    )


class MasterFactory(AccountFactory):
    account_id = factory.Sequence(lambda n: f"MASTER-{n + 1}")
    role = Account.Role.MASTER
    name = "Master"


class BrokerCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrokerCredential

    account = factory.SubFactory(AccountFactory)
    api_key = factory.Sequence(lambda n: f"api-key-{n:04d}-abcdefghijklmnop")
    api_secret = factory.Sequence(lambda n: f"api-secret-{n:04d}-qrstuvwxyz")
    access_token = factory.Sequence(lambda n: f"eyJhbGciOiJSUzI1NiJ9.session-{n:04d}.signature{n:04d}")
    session_status = BrokerCredential.SessionStatus.VALID
    session_obtained_at = factory.LazyFunction(timezone.now)


class RiskConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RiskConfig

    account = factory.SubFactory(AccountFactory)


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    account = factory.SubFactory(AccountFactory)
    trade_replication_enabled = True
    consent_given_at = factory.LazyFunction(timezone.now)
    consent_token = "consent-test"
    ip_address = "127.0.0.1"

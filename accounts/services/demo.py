"""Demo data for `make run`: an admin user, a master and three followers with live simulator sessions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Account
from accounts.services.accounts import follower_create, master_create, risk_config_replace
from accounts.services.consent import consent_record_by_operator
from accounts.services.sessions import account_session_store
from broker.simulator.control_client import SimulatorClient

logger = logging.getLogger(__name__)

ACTOR = "demo"


@dataclass(frozen=True)
class DemoAccount:
    account_id: str
    client_id: str
    name: str
    cash: str
    lot_multiplier: Decimal = Decimal("1")
    allowed_instruments: tuple[str, ...] = ()


DEMO_MASTER = DemoAccount("DEMO-MASTER", "MASTER1", "Demo master", "2500000")
DEMO_FOLLOWERS = (
    DemoAccount("DEMO-FOLLOWER-1", "FOLLOW1", "Demo follower one (1x)", "500000"),
    DemoAccount("DEMO-FOLLOWER-2", "FOLLOW2", "Demo follower two (0.5x)", "750000", Decimal("0.5")),
    # Restricted to INFY and RELIANCE: an SBIN trade shows the seed's "not in allowed instruments" skip.
    DemoAccount(
        "DEMO-FOLLOWER-3",
        "FOLLOW3",
        "Demo follower three (2x)",
        "1000000",
        Decimal("2"),
        ("INFY", "RELIANCE"),
    ),
)


def demo_admin_ensure(*, password: str) -> bool:
    """Create or update the `admin` superuser; True when created."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
    )
    user.set_password(password)
    user.is_staff = user.is_superuser = True
    user.save()
    return created


def _simulator_session(simulator: SimulatorClient, demo: DemoAccount) -> str:
    simulator.create_account(demo.client_id, name=demo.name, cash=demo.cash)
    return simulator.issue_session(demo.client_id)


@transaction.atomic
def demo_accounts_ensure(*, simulator: SimulatorClient) -> list[Account]:
    """Create (once) the demo master and followers; give each a fresh simulator session (every start)."""
    accounts = []
    master = Account.objects.filter(account_id=DEMO_MASTER.account_id).first()
    if master is None:
        master = master_create(
            account_id=DEMO_MASTER.account_id,
            client_id=DEMO_MASTER.client_id,
            actor=ACTOR,
            name=DEMO_MASTER.name,
        )
    account_session_store(
        account=master,
        token=_simulator_session(simulator, DEMO_MASTER),
        actor=ACTOR,
        source="demo",
        verified=True,
    )
    accounts.append(master)
    for demo in DEMO_FOLLOWERS:
        follower = Account.objects.filter(account_id=demo.account_id).first()
        if follower is None:
            follower = follower_create(
                follower_id=demo.account_id, client_id=demo.client_id, actor=ACTOR, name=demo.name
            )
            risk_config_replace(
                follower_id=demo.account_id,
                actor=ACTOR,
                lot_multiplier=demo.lot_multiplier,
                allowed_instruments=list(demo.allowed_instruments),
            )
            consent_record_by_operator(
                follower_id=demo.account_id, actor=ACTOR, reference="make run demo data (no real follower)"
            )
        account_session_store(
            account=follower,
            token=_simulator_session(simulator, demo),
            actor=ACTOR,
            source="demo",
            verified=True,
        )
        accounts.append(follower)
    logger.info("demo accounts ready: %s", ", ".join(a.account_id for a in accounts))
    return accounts

"""The demo accounts of `--demo-accounts`: one master and three followers, known credentials."""

from __future__ import annotations

from broker.simulator.sessions import account_upsert
from broker.simulator.state import SimState

DEMO_ACCOUNTS: tuple[dict[str, str], ...] = (
    {"userId": "MASTER1", "name": "DEMO MASTER", "apiKey": "demo-master-api-key", "cash": "2500000"},
    {"userId": "FOLLOW1", "name": "DEMO FOLLOWER ONE", "apiKey": "demo-follow1-api-key", "cash": "500000"},
    {"userId": "FOLLOW2", "name": "DEMO FOLLOWER TWO", "apiKey": "demo-follow2-api-key", "cash": "750000"},
    {"userId": "FOLLOW3", "name": "DEMO FOLLOWER THREE", "apiKey": "demo-follow3-api-key", "cash": "1000000"},
)


def demo_accounts_seed(state: SimState) -> None:
    """Create (or refresh) the demo accounts."""
    for fields in DEMO_ACCOUNTS:
        account_upsert(state, dict(fields))

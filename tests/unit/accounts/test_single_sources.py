"""One definition each: the seed's risk defaults (model, service, replication's FollowerRules), the choices
the broker can send (from broker.types), and the task names (accounts.dispatch)."""

from __future__ import annotations

import ast
from datetime import time
from decimal import Decimal
from pathlib import Path

from accounts import risk_defaults
from accounts.dispatch import SESSION_CHECK_TASK
from accounts.models import Account, OrderTypeChoices, ProductTypeChoices, RiskConfig
from accounts.services.accounts import RISK_DEFAULTS
from broker.types import ApiFlavor, OrderType, ProductType
from replication.risk import FollowerRules

ROOT = Path(__file__).resolve().parents[3]


def test_risk_defaults_are_the_seeds():
    assert risk_defaults.as_dict() == {
        "lot_multiplier": Decimal("1.0"),
        "sizing_mode": "MULTIPLIER",
        "fixed_quantity": None,
        "max_quantity": 100,
        "max_order_value": None,
        "max_daily_loss": None,
        "allowed_instruments": [],
        "allowed_product_types": ["MIS", "CNC", "NRML"],
        "allowed_order_types": ["MARKET", "LIMIT"],
        "enabled": True,
        "symbol_multipliers": {},
        "window_start": time(9, 15),
        "window_end": time(15, 20),
        "price_guard_percent": None,
        "price_guard_action": "SKIP",
    }


def test_model_service_and_follower_rules_use_the_same_defaults():
    # given
    expected = risk_defaults.as_dict()
    rules = FollowerRules()
    fields = {f.name: f for f in RiskConfig._meta.get_fields() if hasattr(f, "get_default")}
    # when / then
    assert expected == RISK_DEFAULTS
    for name, value in expected.items():
        assert fields[name].get_default() == value, name
        rule = getattr(rules, name)
        assert (list(rule) if isinstance(rule, tuple) else rule) == value, name


def test_choices_derive_from_the_broker_enums():
    assert Account.ApiFlavor.values == [member.value for member in ApiFlavor]
    assert ProductTypeChoices.values == [member.value for member in ProductType]
    assert OrderTypeChoices.values == [member.value for member in OrderType]


def test_tasks_are_registered_under_the_dispatch_names():
    from accounts.tasks import session_check_task

    assert session_check_task.name == SESSION_CHECK_TASK


def test_nothing_imports_accounts_tasks():
    # Services enqueue by name through accounts.dispatch: tasks -> services -> tasks would be a cycle.
    offenders = []
    for package in ("accounts", "broker", "copytrade", "replication", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "tasks.py" and path.parent.name == "accounts":
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                if any(name == "accounts.tasks" for name in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders

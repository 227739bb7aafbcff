"""`make run`'s launcher brings up simulator, web, two workers (one per Celery queue) and beat; it says
"copytrade is up" once /api/health is ok; `make manage` finds its ports; the admin answers; Ctrl-C stops
all."""

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.livestack import ROOT, live_stack

PRINT_URLS = (
    "from django.conf import settings; print(settings.ALICE_API_BASE_URL, settings.COPYTRADE_PUBLIC_URL)"
)


def _seed_walk_through(*, web: str, sim: str, secret: str) -> None:
    """Register a follower, give credentials (checked in the background), risk config and consent (through a
    consent link), replicate, read mappings, exit."""
    api = requests.Session()
    api.headers.update({"x-qa-secret": secret})

    def post(path: str, body: dict) -> dict:
        answer = api.post(f"{web}{path}", json=body, timeout=30)
        assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
        return answer.json()

    requests.post(f"{sim}/sim/accounts", json={"userId": "ABC123"}, timeout=10).raise_for_status()
    token = requests.post(f"{sim}/sim/sessions", json={"userId": "ABC123"}, timeout=10).json()["sessionId"]
    post("/api/followers", {"followerId": "TEST-USER-1", "clientId": "ABC123"})
    saved = post(
        "/api/followers/credentials",
        {
            "followerId": "TEST-USER-1",
            "clientId": "ABC123",
            "apiKey": "your-follower-api-key",
            "accessToken": token,
        },
    )
    assert saved["message"] == "Credentials saved successfully"
    assert saved["sessionStatus"] == "UNVERIFIED"
    # the stack's worker checks the new token in the background: VALID once a read call succeeded
    deadline, status = time.monotonic() + 30, None
    while time.monotonic() < deadline and status != "VALID":
        shown = api.get(f"{web}/api/followers/credentials", params={"followerId": "TEST-USER-1"}, timeout=10)
        status = shown.json()["credential"]["session_status"]
        time.sleep(0.2)
    assert status == "VALID"
    post(
        "/api/followers/risk-config",
        {"followerId": "TEST-USER-1", "lot_multiplier": 0.5, "max_quantity": 100},
    )
    # consent: the follower opens the consent link, reads the terms and agrees
    link = post("/api/followers/consent-link", {"followerId": "TEST-USER-1"})
    assert link["url"].startswith(f"{web}/consent/")
    browser = requests.Session()
    assert browser.get(link["url"], timeout=10).status_code == 200
    agreed = browser.post(
        link["url"],
        data={"agree": "yes", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": link["url"]},
        timeout=10,
    )
    assert agreed.status_code == 200
    assert "your consent is recorded" in agreed.text
    consent = api.get(f"{web}/api/followers/consent", params={"followerId": "TEST-USER-1"}, timeout=10)
    assert consent.json()["consent"]["recordedBy"] == "FOLLOWER"
    trade = {"id": "M-TEST-001", "symbol": "SBIN", "side": "BUY", "quantity": 100, "price": 500.50}
    replicated = post("/api/trades/replicate", {"trade": trade})
    results = {r["follower_id"]: r for r in replicated["results"]}
    assert results["TEST-USER-1"]["status"] == "SUCCESS", replicated
    assert results["TEST-USER-1"]["executed_quantity"] == 50
    assert results["DEMO-FOLLOWER-3"] == {
        **results["DEMO-FOLLOWER-3"],
        "status": "SKIPPED",
        "reason": "Symbol SBIN not in allowed instruments",
    }
    order_id = results["TEST-USER-1"]["follower_order_id"]
    # replaying the same trade places nothing new
    assert post("/api/trades/replicate", {"trade": trade})["results"] == replicated["results"]
    mappings = api.get(
        f"{web}/api/trades/mappings", params={"masterOrderId": "M-TEST-001"}, timeout=10
    ).json()
    mine = [m for m in mappings["mappings"] if m["follower_id"] == "TEST-USER-1"]
    assert [(m["follower_order_id"], m["quantity"]) for m in mine] == [(order_id, 50)]
    exited = post("/api/trades/exit", {"masterOrderId": "M-TEST-001"})
    assert {r["follower_id"]: r["status"] for r in exited["results"]}["TEST-USER-1"] == "SUCCESS", exited
    ledger = requests.get(f"{sim}/sim/orders", params={"userId": "ABC123"}, timeout=10).json()["orders"]
    assert sorted((o["side"], o["quantity"]) for o in ledger) == [("BUY", 50), ("SELL", 50)]


def _capture_walk_through(*, web: str, sim: str, secret: str) -> None:
    """README step 7: an order placed as the master at the simulator reaches the followers on its own
    (the master stream or the poll of the running stack), and the queue shows it."""
    placed = requests.post(
        f"{sim}/sim/orders",
        json={"userId": "MASTER1", "exchange": "NSE", "symbol": "INFY", "side": "BUY", "quantity": 10},
        timeout=10,
    )
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["orderId"]
    deadline, ledger = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        ledger = requests.get(f"{sim}/sim/orders", params={"userId": "FOLLOW1"}, timeout=10).json()["orders"]
        if any(o["tradingSymbol"] == "INFY-EQ" for o in ledger):
            break
        time.sleep(0.2)
    infy = [o for o in ledger if o["tradingSymbol"] == "INFY-EQ"]
    assert [(o["side"], o["quantity"]) for o in infy] == [("BUY", 10)], ledger
    incoming = requests.get(f"{web}/api/alice/incoming", headers={"x-qa-secret": secret}, timeout=10).json()
    row = next(t for t in incoming["trades"] if t["id"] == order_id)
    assert (row["state"], row["kind"], row["symbol"]) == ("COPIED", "ENTRY", "INFY")


@pytest.mark.e2e
@pytest.mark.slow
def test_devstack_serves_admin_and_beat_reaches_worker(tmp_path):
    # given a clean state directory and free ports, embedded defaults only (no DATABASE_URL, no Redis)
    # when
    with live_stack(tmp_path) as stack:
        web, sim, output = stack.web, stack.sim, stack.banner
        # then the stack is healthy (database, broker, beat -> worker heartbeat) when it says it is up
        health = requests.get(f"{web}/api/health", timeout=10)
        assert "copytrade is up:" in output
        assert health.status_code == 200, health.text
        assert health.json()["ok"] is True
        # and two workers run, one per Celery queue, each line of their output under its own name
        assert set(health.json()["checks"]["beat"]["queues"]) == {"celery", "placement"}
        assert "devstack: starting placer" in output
        assert "devstack: starting worker" in output
        prefixes = {line.split(" | ", 1)[0].strip() for line in output.splitlines() if " | " in line}
        assert {"placer", "worker", "beat"} <= prefixes, prefixes
        # and `make manage` without PORT / SIM_PORT talks to this stack's simulator and web server
        assert json.loads((tmp_path / "devstack.json").read_text())["web_port"] == int(stack.env["PORT"])
        manage_env = {key: value for key, value in stack.env.items() if key not in ("PORT", "SIM_PORT")}
        shown = subprocess.run(
            [sys.executable, "-m", "copytrade.devstack", "manage", "shell", "-v", "0", "-c", PRINT_URLS],
            cwd=ROOT,
            env=manage_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert shown.stdout.split() == [sim, web]
        # and the admin login page answers and the printed password logs in
        login = requests.get(f"{web}/admin/login/", timeout=10)
        assert login.status_code == 200
        assert 'make manage ARGS="otp_enrol admin"' in output
        session = requests.Session()
        session.get(f"{web}/admin/login/", timeout=10)
        csrf = session.cookies["csrftoken"]
        answer = session.post(
            f"{web}/admin/login/?next=/admin/",
            data={"username": "admin", "password": stack.admin_password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{web}/admin/login/"},
            timeout=10,
        )
        assert answer.status_code == 200
        assert "copytrade control panel" in answer.text
        # and the simulator serves its contract master
        csv = requests.get(f"{sim}/restpy/static/contract_master/V2/NSE.csv", timeout=10)
        assert "SBIN" in csv.text
        # and the seed's curl walk-through works against the running service (README "Walk-through")
        _seed_walk_through(web=web, sim=sim, secret=stack.secret)
        # and the master's own order is captured and copied (README walk-through step 7)
        _capture_walk_through(web=web, sim=sim, secret=stack.secret)
    # then Ctrl-C stopped everything cleanly
    assert stack.proc.returncode == 0

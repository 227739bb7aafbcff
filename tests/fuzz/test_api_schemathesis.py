"""Schemathesis against the live schema of a running API: every operation, bounded examples, every check
(server errors, status codes, content types, response schemas, positive and negative data): 0 failures.

The API runs in this process (pytest-django's live server) with a real Celery worker and the simulator, on
the test database, with followers, a replicated master order and a settings row to find.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import Account, BrokerCredential, Consent, RiskConfig
from copytrade.core.models import Heartbeat
from tests.integration.replication.conftest import QA_SECRET, trade

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "25")

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(sim, api, worker, settings, live_server):
    """Configured as `make run` is (vendor login, public URL, a fresh heartbeat), with two followers with
    sessions at the simulator and one master order replicated to them."""
    settings.REPLICATION_SYNC_TIMEOUT = 1.0
    settings.ALICE_APP_CODE = "COPYTRADE"
    settings.ALICE_API_SECRET = "sim-app-secret"
    settings.ALICE_LOGIN_URL = sim.base_url + "/"
    settings.COPYTRADE_PUBLIC_URL = live_server.url
    # No beat runs here: the heartbeats must stay fresh for the whole run (over 90 s, 3 default intervals).
    settings.HEARTBEAT_INTERVAL_SECONDS = 3600
    for name in (Heartbeat.DEFAULT_QUEUE, Heartbeat.PLACEMENT_QUEUE):
        Heartbeat.objects.create(name=name, last_seen=timezone.now())
    for number in (1, 2):
        user_id = f"FZ{number}"
        sim.create_account(user_id)
        account = Account.objects.create(account_id=f"TEST-USER-{number}", client_id=user_id)
        BrokerCredential.objects.create(
            account=account,
            access_token=sim.issue_session(user_id),
            session_status=BrokerCredential.SessionStatus.VALID,
            last_verified_at=timezone.now(),
        )
        RiskConfig.objects.create(account=account)
        Consent.objects.create(
            account=account, trade_replication_enabled=True, consent_given_at=timezone.now()
        )
    response = api.post("/api/trades/replicate", {"trade": trade("M-FUZZ-1")}, format="json")
    assert response.status_code == 200, response.json()


# The run takes about two minutes on a quiet 2-core machine (longer on a busy one); the subprocess has its
# own limit, so pytest's default of 120 s would only cut a slow run short, not catch a hang.
@pytest.mark.timeout(960)
def test_the_api_conforms_to_its_schema_under_fuzzing(seeded, live_server, tmp_path, monkeypatch):
    # given rate limits the fuzzer does not hit (429 is documented everywhere; this run wants the logic)
    rates = {"anon": "100000/min", "operator": "100000/min", "webhook": "100000/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    # when schemathesis runs every phase against the live schema
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{live_server.url}/api/schema?format=json",
            "--header",
            f"x-qa-secret: {QA_SECRET}",
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            # One worker: with two, hypothesis describes filter lambdas with ast.parse from two threads at
            # once, which CPython 3.11 can fail ("AST constructor recursion depth mismatch", a crash of the
            # fuzzer itself, seen once in CI), and the run stops without judging the API.
            "--workers",
            "1",
            "--seed",
            "20261201",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HYPOTHESIS_DATABASE": "none"},
    )
    # then nothing failed
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]

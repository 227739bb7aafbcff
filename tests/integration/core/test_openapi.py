"""The OpenAPI schema documents every API route, validates, and generates without warnings."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.urls import get_resolver

ROOT = Path(__file__).resolve().parents[3]


def _api_paths() -> set[str]:
    """Every /api/ route Django serves, in OpenAPI form."""
    paths = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, route)
            elif route.startswith("api/") and route not in {"api/schema", "api/docs"}:
                # Django's "<str:token>" is OpenAPI's "{token}".
                paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns)
    return paths


@pytest.mark.integration
def test_schema_validates_without_warnings_and_covers_every_route(tmp_path):
    # when
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": ""},
    )
    # then
    assert result.returncode == 0, result.stderr
    documented = set(yaml.safe_load(out.read_text())["paths"])
    missing = _api_paths() - documented
    assert not missing, f"routes missing from the schema: {sorted(missing)}"
    assert {
        "/api/trades/replicate",
        "/api/followers/credentials",
        "/api/alice/oauth/vendor/callback",
    } <= documented

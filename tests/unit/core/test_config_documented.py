"""Every environment variable the settings read is documented in .env.example and README.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "copytrade" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_settings_read_variables_at_all():
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "FIELD_ENCRYPTION_KEYS"} <= _variables_read_by_settings()


def test_every_variable_is_in_env_example():
    documented = (ROOT / ".env.example").read_text()
    missing = sorted(v for v in _variables_read_by_settings() if not re.search(rf"\b{v}=", documented))
    assert not missing, f"add to .env.example: {missing}"


def test_every_variable_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(v for v in _variables_read_by_settings() if f"`{v}`" not in readme)
    assert not missing, f"add to README.md's configuration table: {missing}"

"""The README's client example runs as written against the simulator (docs follow code)."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from broker.simulator.testing import start_simulator

README = Path(__file__).resolve().parents[2] / "README.md"


def _client_example() -> str:
    text = README.read_text()
    section = text.split("### The client in five lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README lost its client example"
    return match.group(1)


@pytest.mark.integration
def test_readme_client_example_places_lists_and_cancels():
    # given the simulator started as the README says (app secret demo-secret), on a free port
    code = _client_example()
    handle = start_simulator(api_secret="demo-secret")
    try:
        code = code.replace("http://127.0.0.1:9100", handle.base_url)
        out = io.StringIO()
        # when
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
        # then
        lines = out.getvalue().strip().splitlines()
        assert "readme-1" in lines[0]
        assert lines[-1] == "CANCELLED"
        orders = handle.orders(user_id="AB1234")
        assert [(o["orderTag"], o["status"]) for o in orders] == [("readme-1", "CANCELLED")]
    finally:
        handle.stop()

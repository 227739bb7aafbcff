"""The fuzz tests use the replication tests' fixtures: settings pointing at the simulator, a real worker."""

from tests.integration.replication.conftest import _fresh_state, api, engine, worker  # noqa: F401

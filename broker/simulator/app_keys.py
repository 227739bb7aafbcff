"""Typed keys for what the aiohttp application and requests carry."""

from __future__ import annotations

from aiohttp import web

from broker.simulator.state import SimState

STATE_KEY = web.AppKey("sim_state", SimState)
USER_KEY = web.RequestKey("sim_user_id", str)

"""The batch sender classifies a call that got no answer as the blocking transport does (nothing sent vs
outcome unknown), and never sends a session HTTP cannot carry."""

from __future__ import annotations

import socket

from broker.async_transport import send_all
from broker.exceptions import BrokerAuthError, BrokerTimeoutError, BrokerUnavailableError
from broker.transport import Transport


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_not_sent_and_a_silent_server_is_outcome_unknown():
    # given a port nobody listens on, and a server that accepts and never answers
    refused = Transport(f"http://127.0.0.1:{_free_port()}", timeout=(1.0, 0.5))
    with socket.socket() as silent_server:
        silent_server.bind(("127.0.0.1", 0))
        silent_server.listen()
        silent = Transport(f"http://127.0.0.1:{silent_server.getsockname()[1]}", timeout=(1.0, 0.5))
        calls = [
            refused.prepare("POST", "orders/placeorder", json_body=[{}], mutating=True, user_id="U1"),
            silent.prepare("POST", "orders/placeorder", json_body=[{}], mutating=True, user_id="U1"),
            silent.prepare("GET", "orders/book", mutating=False),
        ]
        # when
        not_sent, unknown, read = send_all(calls)
    # then
    assert isinstance(not_sent, BrokerUnavailableError)
    assert not_sent.code == "unreachable"
    assert isinstance(unknown, BrokerTimeoutError)
    assert isinstance(read, BrokerUnavailableError)
    assert read.code == "no_answer"


def test_a_session_http_cannot_carry_is_never_sent():
    transport = Transport(f"http://127.0.0.1:{_free_port()}", timeout=(1.0, 0.5))
    headers = {"Authorization": "Bearer tok\nen"}
    call = transport.prepare("POST", "orders/placeorder", json_body=[{}], headers=headers, mutating=True)
    (result,) = send_all([call])
    assert isinstance(result, BrokerAuthError)
    assert result.code == "unusable_session"

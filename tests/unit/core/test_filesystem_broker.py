"""The embedded broker never lets a consumer see a half-written message (kombu's own transport does)."""

from __future__ import annotations

import os

from kombu import Connection

from copytrade.core import filesystem_broker


def _connection(folder: str, transport) -> Connection:
    """A connection whose messages live in `folder`; its control files beside it, never in the cwd."""
    control = f"{folder}-control"
    os.makedirs(control, exist_ok=True)
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": control,
        "store_processed": False,
    }
    return Connection("filesystem://", transport=transport, transport_options=options)


def _visible_while_writing(tmp_path, monkeypatch, module, transport) -> list[str]:
    """Message files a consumer could pick up at the moment the payload is being serialized."""
    seen: list[str] = []
    real_dumps = module.dumps

    def spying_dumps(payload):
        seen.extend(name for name in os.listdir(tmp_path) if name.endswith(".q.msg"))
        return real_dumps(payload)

    monkeypatch.setattr(module, "dumps", spying_dumps)
    with _connection(str(tmp_path), transport) as conn:
        queue = conn.SimpleQueue("q")
        queue.put({"n": 1})
        assert queue.get(timeout=5).payload == {"n": 1}
        queue.close()
    return seen


def test_no_message_file_is_visible_before_it_is_complete(tmp_path, monkeypatch):
    # when a message is put through our transport
    seen = _visible_while_writing(tmp_path, monkeypatch, filesystem_broker, filesystem_broker.Transport)
    # then consumers saw nothing until it was complete, and no partial file is left behind
    assert seen == []
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


def test_a_partly_written_message_is_invisible_to_consumers(tmp_path):
    # given a message file still being written under its temporary name
    with _connection(str(tmp_path), filesystem_broker.Transport) as conn:
        queue = conn.SimpleQueue("q")
        (tmp_path / "1_x.q.msg.part").write_bytes(b'{"bod')
        # then the consumer does not see it
        assert queue.qsize() == 0
        queue.close()

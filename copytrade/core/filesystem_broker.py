"""kombu's filesystem transport with atomic message files (the embedded broker of `make run` and tests).

kombu's own `_put` creates the message file and then writes it, while a consumer may list, move and read
that file in between: it reads an empty payload and the worker dies on the JSON error. Here each message
is written under a name consumers ignore and renamed into place, which is atomic on one filesystem.

A worker's loop drains events for 2 s at a time and sees a stop request only between drains; draining in
slices of DRAIN_SLICE seconds lets a worker stop at once (Ctrl-C in `make run`, every test's worker).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.connection import Connection
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's filesystem transport names the argument `payload` where its base says `message` (its stubs
    # ignore that too); this override keeps the filesystem transport's signature.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put `payload` onto `queue`, visible to consumers only once complete."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # consumers only take names ending in "<queue>.msg"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


DRAIN_SLICE = 0.25


class Transport(filesystem.Transport):
    Channel = Channel

    # kombu's stubs give its two base transports different signatures; this is the virtual transport's.
    def drain_events(self, connection: Connection, timeout: float | None = None) -> None:  # type: ignore[override]
        """As kombu's, but a bounded wait is cut to DRAIN_SLICE seconds (the worker's loop simply drains
        again); an unbounded one (None) is left as it is."""
        super().drain_events(connection, timeout=timeout if timeout is None else min(timeout, DRAIN_SLICE))

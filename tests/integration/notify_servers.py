"""Real servers a notification test sends to: an SMTP server (aiosmtpd) and a stand-in for Telegram's Bot API
(aiohttp), each on a free loopback port in a thread of the test process, recording what arrived."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiohttp import web
from aiosmtpd.controller import Controller


# ---------------------------------------------------------------- SMTP
@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str


class _Recorder:
    def __init__(self, box: list[Mail]) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        self.box.append(
            Mail(
                to=list(envelope.rcpt_tos),
                subject=str(parsed["subject"]),
                body=body.get_content() if body is not None else "",
            )
        )
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 (a free port); `mails` is every message received, in order."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        # aiosmtpd connects to its own port to see it listening, so it needs the number up front.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(_Recorder(self.mails), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.mails if address in mail.to]

    def stop(self) -> None:
        if self.controller.loop.is_running():
            self.controller.stop()


# ---------------------------------------------------------------- Telegram Bot API
@dataclass
class TelegramStandIn:
    """POST /bot<token>/sendMessage as Telegram answers it: 200 {"ok": true} for the right token, 401 for a
    wrong one; `fail_next` answers that many calls with 502 first (a Telegram that is down)."""

    token: str
    sent: list[dict] = field(default_factory=list)  # accepted messages: {"chat_id", "text"}
    calls: int = 0
    fail_next: int = 0
    host: str = "127.0.0.1"
    port: int = 0

    async def _send_message(self, request: web.Request) -> web.Response:
        self.calls += 1
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
        payload = await request.json()
        self.sent.append({"chat_id": str(payload["chat_id"]), "text": payload["text"]})
        return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})

    def to(self, chat_id: str) -> list[str]:
        return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> TelegramStandIn:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._send_message)
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, 0)
            self._loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="telegram-stand-in", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

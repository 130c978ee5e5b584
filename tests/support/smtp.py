"""A real SMTP server on loopback that keeps what it receives."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class ReceivedMail:
    recipients: list[str]
    subject: str
    body: str


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow relay: the message is not taken yet
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        mail = ReceivedMail(
            recipients=[r.lower() for r in envelope.rcpt_tos],
            subject=str(parsed["Subject"]),
            body=body.get_content() if body else "",
        )
        with self.sink.lock:
            self.sink.messages.append(mail)
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1 with the list of messages it accepted, in the order it accepted
    them; `delay` seconds before it accepts each one (a slow relay)."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.messages if address.lower() in m.recipients]

    def wait_for(
        self, address: str, *, count: int = 1, timeout: float = 15.0
    ) -> list[ReceivedMail]:
        """The messages to `address` once at least `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"no {count} message(s) to {address} within {timeout}s: {self.to(address)}"
        )

    def code_messages(self, address: str) -> list[ReceivedMail]:
        """The sign-up code messages to `address` (their subject carries the code)."""
        return [m for m in self.to(address) if CODE.search(m.subject)]

    def code_for(self, address: str, *, count: int = 1, timeout: float = 15.0) -> str:
        """The code of the newest sign-up message to `address`, once `count` of them have
        arrived (other mail to the address is not counted)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.code_messages(address)
            if len(found) >= count:
                match = CODE.search(found[-1].subject)
                assert match
                return match.group(1)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {count} code message(s) to {address} within {timeout}s: {self.to(address)}"
                )
            time.sleep(0.05)

"""A real DNS server on loopback (dnslib) whose TXT records the tests publish."""

from __future__ import annotations

import socket
import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneResolver(BaseResolver):
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.servfail: set[str] = set()
        self.lock = threading.Lock()

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self.lock:
            records = list(self.txt.get(name, ()))
            failing = name in self.servfail
        if failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif request.q.qtype == QTYPE.TXT and records:
            for value in records:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=3600))
        elif not records:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class DnsZone:
    """dnslib on 127.0.0.1:<free port>; `publish(name, text)` adds a TXT record."""

    def __init__(self) -> None:
        self.resolver = ZoneResolver()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = DNSServer(
            self.resolver,
            port=self.port,
            address="127.0.0.1",
            logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send", prefix=False),
        )
        # A socket that receives queries and never answers: a DNS timeout.
        self.silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.silent.bind(("127.0.0.1", 0))

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def silent_nameserver(self) -> str:
        return f"127.0.0.1:{self.silent.getsockname()[1]}"

    def start(self) -> None:
        self.server.start_thread()

    def stop(self) -> None:
        self.server.stop()
        self.silent.close()

    def publish(self, name: str, text: str) -> None:
        with self.resolver.lock:
            self.resolver.txt.setdefault(name.lower(), []).append(text)

    def fail(self, name: str) -> None:
        with self.resolver.lock:
            self.resolver.servfail.add(name.lower())

    def clear(self) -> None:
        with self.resolver.lock:
            self.resolver.txt.clear()
            self.resolver.servfail.clear()

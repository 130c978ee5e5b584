"""uvicorn's HTTP/1.1 protocol (httptools) as `tenantry serve` runs it: requests it cannot parse
answered in the one error shape, and connections that end after a number of requests.

A request that is not valid HTTP/1.1 (a control character in a header, an unknown
method, a broken request line) never reaches the application: uvicorn answers it
itself, with a plain-text "Invalid HTTP request received.". This subclass answers
the same 400 as `{"error": {"code": "badRequest", "message": …}}`, like every other
error of the API.

With `--workers N`, the workers share one listening socket, and a worker that wakes
up accepts every connection waiting, not one: a client opening its keep-alive
connections at once lands them all on one worker, and they stay there (on SQLite
one worker took 92 % of the CPU while the other idled). So a connection carries at
most TENANTRY_MAX_REQUESTS_PER_CONNECTION requests: the last one's answer says
`Connection: close`, the client connects again, and the new connection goes to
whichever worker is free to accept it first, usually the less busy one. Over a few
seconds the load spreads out; a reconnection every hundred requests costs well
under a percent. `tenantry serve` runs this class (`uvicorn.run(http=…)`).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from tenantry.core.config import get_settings


class HttpProtocol(HttpToolsProtocol):
    # Read once per worker process, from the environment as every setting.
    max_requests_per_connection = get_settings().max_requests_per_connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests_on_connection = 0

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.requests_on_connection += 1
        limit = self.max_requests_per_connection
        cycle = self.cycle
        if limit and self.requests_on_connection >= limit and cycle and cycle.scope is self.scope:
            cycle.keep_alive = False  # this answer says `Connection: close`, then it closes

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": {"code": "badRequest", "message": msg}}).encode()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


PROTOCOL = f"{__name__}:{HttpProtocol.__name__}"

"""uvicorn's HTTP/1.1 protocol (httptools), answering requests it cannot parse in the one
error shape.

A request that is not valid HTTP/1.1 (a control character in a header, an unknown
method, a broken request line) never reaches the application: uvicorn answers it
itself, with a plain-text "Invalid HTTP request received.". This subclass answers
the same 400 as `{"error": {"code": "badRequest", "message": …}}`, like every other
error of the API. `tenantry serve` runs it (`uvicorn.run(http=…)`).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
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


PROTOCOL = f"{__name__}:{JsonErrorsHttpToolsProtocol.__name__}"

"""A hostile vLLM: real sockets on 127.0.0.1 that answer like vLLM 0.32.0 except for one switched-on fault.

Healthy answers come from the fake vLLM (tests/fakevllm, recorded from the real server); the switch decides
what goes wrong, written byte by byte on the socket, so the client meets what a broken proxy or server
really sends:

    truncated   POST /v1/chat/completions: 200, chunked, half the body, then the connection closes
    html        every path: 200 with an HTML page (a web UI or a proxy's login page)
    data        /v1/models: 200 with ``data`` replaced by ``Hostile.data`` (a string, null, a number)
    echo401     /v1/*: 401 whose body quotes the Authorization header and the URL asked for
    echo500     POST /v1/chat/completions: 500 whose body quotes the Authorization header (JSON-escaped)
    hang        POST: never answers
    drip        POST /v1/chat/completions: the healthy answer, one byte every ``drip_seconds``
    huge        POST /v1/chat/completions: 200, a completion whose text is ``size`` bytes, generated as it
                is sent (never held in memory)
    reset       POST: the connection is reset (RST) before any answer
    sse         streamed POST: 200 text/event-stream of garbage lines, then data: [DONE]
    ctype       /v1/models: 200, ``text/plain`` "OK"
    tls         the whole port speaks TLS (a self-signed certificate made at start), healthy inside

    with Hostile("html") as server:
        ... Target(base_url=server.url) ...
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import struct
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakevllm.server import FakeVllm, _sample_index

SWITCHES = ("truncated", "html", "data", "echo401", "echo500", "hang", "drip", "huge", "reset", "sse", "ctype", "tls")
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Sign in to continue</h1>"
    b"<form method=post><input name=user><input name=password type=password></form></body></html>\n"
)


class Hostile:
    """The server; ``switch`` is one of SWITCHES, "" for a healthy one."""

    def __init__(
        self,
        switch: str = "",
        *,
        api_key: str = "",
        data: Any = "lightonai/LightOnOCR-2-1B",
        size: int = 50_000_000,
        drip_seconds: float = 0.05,
    ) -> None:
        if switch and switch not in SWITCHES:
            raise ValueError(f"unknown switch {switch!r}: one of {', '.join(SWITCHES)}")
        self.switch = switch
        self.data = data
        self.size = size
        self.drip_seconds = drip_seconds
        self.fake = FakeVllm(api_key=api_key if switch not in ("echo401",) else "")
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.switch == 'tls' else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> Hostile:
        _sample_index()  # render the sample pages here, not in handler threads (as FakeVllm does)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.hostile = self  # type: ignore[attr-defined]
        if self.switch == "tls":
            self._folder = tempfile.TemporaryDirectory()
            server.tls = _server_context(Path(self._folder.name))  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._folder is not None:
            self._folder.cleanup()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        sock.settimeout(5)  # a client that never says hello must not block the accepting thread
        try:
            return self.tls.wrap_socket(sock, server_side=True), address
        except (ssl.SSLError, OSError):
            sock.close()
            raise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def hostile(self) -> Hostile:
        return self.server.hostile  # type: ignore[attr-defined]

    def _answer(self, method: str) -> None:
        self.connection.settimeout(None)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        switch = self.hostile.switch
        chat = method == "POST" and path == "/v1/chat/completions"
        streamed = chat and (b'"stream": true' in body or b'"stream":true' in body)
        if switch == "html":
            return self._send(200, HTML_PAGE, "text/html; charset=utf-8")
        if switch == "data" and path == "/v1/models":
            listing = json.loads(self._healthy(method, path, headers, body)[1])
            listing["data"] = self.hostile.data
            return self._send(200, json.dumps(listing).encode(), "application/json")
        if switch == "ctype" and path == "/v1/models":
            return self._send(200, b"OK", "text/plain; charset=utf-8")
        if switch == "echo401" and path.startswith("/v1"):
            said = f"Unauthorized: {headers.get('authorization', '')!s} is not a key for http://{self.headers['Host']}"
            return self._send(401, json.dumps({"error": said}).encode(), "application/json")
        if switch == "echo500" and chat:
            message = f"Internal error while handling {{'authorization': {headers.get('authorization', '')!r}}}"
            error = {"error": {"message": message, "type": "InternalServerError", "param": None, "code": 500}}
            return self._send(500, json.dumps(error).encode(), "application/json")
        if switch == "hang" and method == "POST":
            self.hostile.stopping.wait()
            self.close_connection = True
            return None
        if switch == "reset" and method == "POST":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        if switch == "sse" and streamed:
            return self._garbage_stream()
        if switch == "huge" and chat:
            return self._huge()
        status, payload, kind = self._healthy(method, path, headers, body)
        if switch == "truncated" and chat:
            return self._truncated(status, payload, kind)
        if switch == "drip" and chat:
            return self._drip(status, payload, kind)
        return self._send(status, payload, kind)

    def _healthy(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        reply = self.hostile.fake.handle(method, path, headers, body)
        return reply.status, reply.body, reply.content_type

    def _send(self, status: int, payload: bytes, kind: str) -> None:
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _truncated(self, status: int, payload: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = payload[: max(1, len(payload) // 2)]
        self.wfile.write(f"{len(payload):x}\r\n".encode() + half)  # announces the whole, sends half
        self.wfile.flush()
        self.close_connection = True

    def _drip(self, status: int, payload: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for byte in payload:
            if self.hostile.stopping.wait(self.hostile.drip_seconds):
                break
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:  # the client gave up: what it should do
                break
        self.close_connection = True

    def _huge(self) -> None:
        """A completion whose content is ``size`` bytes, written in chunks as they are made."""
        head = (
            b'{"id":"chatcmpl-hostile","object":"chat.completion",'
            b'"choices":[{"index":0,"message":{"role":"assistant","content":"'
        )
        tail = b'"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":4096,"total_tokens":4106}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"The figures below are provisional. " * 2000
        left = self.hostile.size
        try:
            self._chunk(head)
            while left > 0 and not self.hostile.stopping.is_set():
                piece = block[:left]
                self._chunk(piece)
                left -= len(piece)
            self._chunk(tail)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading past its cap and closed: expected
            pass
        self.close_connection = True

    def _garbage_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in (b": keep-alive", b"data: {not json", b"data: [1, 2, 3]", b"event: nothing", b"data: [DONE]"):
            self._chunk(line + b"\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _server_context(folder: Path) -> ssl.SSLContext:
    """A TLS context with a self-signed certificate for 127.0.0.1 and localhost, made now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile-vllm")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def self_signed_bundle(server: Hostile) -> str:
    """The PEM of a TLS hostile server's certificate: a CA bundle that makes it trusted."""
    assert server._folder is not None, "only the tls switch has a certificate"
    return str(Path(server._folder.name) / "cert.pem")


class Scripted:
    """A server that gives every request the same answer, set per test: ``status``, ``headers``, ``body``,
    and ``cut`` to announce more bytes than it sends (a body cut short). For property tests."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b""
        self.cut = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, status: int, headers: dict[str, str], body: bytes, *, cut: bool = False) -> None:
        self.status, self.headers, self.body, self.cut = status, dict(headers), body, cut

    def __enter__(self) -> Scripted:
        server = _Server(("127.0.0.1", 0), _ScriptedHandler)
        server.scripted = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        script: Scripted = self.server.scripted  # type: ignore[attr-defined]
        self.send_response(script.status)
        for name, value in script.headers.items():
            self.send_header(name, value)
        length = len(script.body) + (100 if script.cut else 0)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")  # a 204 with a body would spoil a kept-alive connection
        self.end_headers()
        self.wfile.write(script.body)
        self.close_connection = True

"""A real local OpenAI-compatible chat-completions server with a scripted queue of behaviours.

The LLM proposer is tested against real HTTP (the SDK's retries, timeouts and parsing all run for real), so
each test scripts what the server does with the next request: answer, fail with a status, hang or send a
broken body. It records every request so tests can check prompts, parameters and headers.
"""

from __future__ import annotations

import collections
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one request. kind: reply | status | hang | malformed."""

    kind: str
    content: str | None = ""
    status: int = 200
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"


def reply(content: str | None, prompt_tokens: int = 0, completion_tokens: int = 0, *, usage: bool = True,
          delay: float = 0.0, finish_reason: str = "stop") -> Behaviour:
    """A normal completion, optionally after `delay` seconds; `usage=False` omits the usage object."""
    counts = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
              "total_tokens": prompt_tokens + completion_tokens} if usage else None
    return Behaviour("reply", content=content, usage=counts, seconds=delay, finish_reason=finish_reason)


def status(code: int, message: str = "scripted error", retry_after: float | None = None) -> Behaviour:
    """An OpenAI-style error body with HTTP `code` (and a Retry-After header when given)."""
    headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
    return Behaviour("status", status=code, message=message, headers=headers)


def hang(seconds: float) -> Behaviour:
    """Send nothing for `seconds` (cut short when the server stops), then a normal reply."""
    return Behaviour("hang", content="late", seconds=seconds)


def malformed() -> Behaviour:
    """HTTP 200 with a body that is not JSON."""
    return Behaviour("malformed")


@dataclass
class Recorded:
    """One request as received; header names are lower-cased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ChatServer:
    """Serve on 127.0.0.1, ephemeral port. `script(...)` queues behaviours; an empty queue answers 400."""

    requests: list[Recorded] = field(default_factory=list)
    max_in_flight: int = 0
    _queue: collections.deque = field(default_factory=collections.deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0
    _httpd: http.server.ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def start(self) -> ChatServer:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # --- request handling -------------------------------------------------------------------------------

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        with self._lock:
            self.requests.append(Recorded(h.path, {k.lower(): v for k, v in h.headers.items()}, body))
            behaviour = self._queue.popleft() if self._queue else status(400, "script exhausted")
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if h.path != "/v1/chat/completions":
                behaviour = status(404, f"no route {h.path}")
            self._respond(h, behaviour, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before we answered
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, h: http.server.BaseHTTPRequestHandler, b: Behaviour, body: dict[str, Any]) -> None:
        if b.seconds:
            self._stop.wait(b.seconds)
        if b.kind == "malformed":
            self._send(h, 200, b'{"id": "chatcmpl-1", "choices": [ {oops', ())
        elif b.kind == "status":
            error = {"error": {"message": b.message, "type": "scripted", "code": b.status}}
            self._send(h, b.status, json.dumps(error).encode(), b.headers)
        else:
            completion: dict[str, Any] = {
                "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": b.content},
                             "finish_reason": b.finish_reason}],
            }
            if b.usage is not None:
                completion["usage"] = b.usage
            self._send(h, 200, json.dumps(completion).encode(), b.headers)

    @staticmethod
    def _send(h: http.server.BaseHTTPRequestHandler, code: int, payload: bytes,
              headers: tuple[tuple[str, str], ...]) -> None:
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for name, value in headers:
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(payload)

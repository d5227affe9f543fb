"""What the local model servers (openai_server.py, anthropic_server.py) share.

Each is a threaded HTTP server on a free loopback port that plays a script of turns and
records every request. This module holds the parts that do not depend on the provider's
wire format: the server's lifecycle, the recorded requests, the turn's tool calls as the
text sent on the wire, and the handler's plumbing (quiet logs, JSON bodies in and out).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

CLOSING_TEXT = "Done."
TEXT_CHUNK = 5  # characters per streamed text delta
ARGS_CHUNK = 8  # characters per streamed tool-arguments delta
GATE_WAIT_S = 60  # a gated stream's longest silence, so a failing test cannot hang the server


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any = None

    @property
    def api_key(self) -> str | None:
        """The key the client sent, as `x-api-key` or as a bearer token."""
        if key := self.headers.get("x-api-key"):
            return key
        authorization = self.headers.get("authorization", "")
        return authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None


@dataclass
class ScriptedServer:
    """A started server plays `script`; subclasses set `handler`, `api_root` and `thread_name`."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    api_root: ClassVar[str] = ""  # appended to the address in `base_url`
    thread_name: ClassVar[str] = "fake-model-server"

    script: list[dict] = field(default_factory=list)
    model: str = "fake-model"
    api_key: str | None = None  # when set, other keys are answered 401 like the real API
    is_nudge: Callable[[dict], bool] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._httpd: QuietServer | None = None
        self._counter = 0

    def start(self):
        handler = type("Handler", (self.handler,), {"owner": self})
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        # A short poll interval: shutdown() waits for the loop's next poll.
        loop = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        loop.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.api_root}"

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def next_id(self, prefix: str) -> str:
        """`prefix` + a number unique to this server (`chatcmpl-fake0001`, `msg_fake0002`)."""
        with self._lock:
            self._counter += 1
            return f"{prefix}fake{self._counter:04d}"

    def nudge(self, message: dict) -> bool:
        return bool(self.is_nudge and self.is_nudge(message))

    def scripted(self, index: int) -> dict:
        return self.script[index] if index < len(self.script) else {"text": CLOSING_TEXT}

    @classmethod
    def serve(cls, script: list[dict], **options) -> contextlib.AbstractContextManager[str]:
        """`with Server.serve(script) as base_url:` — a started server for the block's duration."""

        @contextlib.contextmanager
        def running() -> Iterator[str]:
            with cls(script=script, **options) as server:
                yield server.base_url

        return running()


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that drops a kept-alive connection (after its last request) is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class JsonHandler(BaseHTTPRequestHandler):
    owner: ScriptedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def record(self, body: Any) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(self.command, self.path, headers, body)
        self.owner.record(request)
        return request

    def read_json(self) -> tuple[RecordedRequest, bool]:
        """The request, recorded, and whether its body is JSON (else it is recorded as text)."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return self.record(json.loads(raw or b"null")), True
        except json.JSONDecodeError:
            return self.record(raw.decode("utf-8", "replace")), False

    def send_json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def path_is(self, suffix: str) -> bool:
        return self.path.split("?")[0].rstrip("/").endswith(suffix)


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def tool_calls(index: int, turn: dict, id_prefix: str) -> list[dict]:
    """The turn's calls with their arguments as the JSON text sent on the wire; ids default
    to `{id_prefix}{turn}_{n}`."""
    calls = []
    for n, call in enumerate(turn.get("tool_calls") or []):
        args = call.get("args", {})
        arguments = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        calls.append(
            {
                "id": call.get("id") or f"{id_prefix}{index + 1}_{n + 1}",
                "name": call["name"],
                "arguments": arguments,
            }
        )
    return calls


def output_tokens(text: str, calls: list[dict]) -> int:
    return tokens(text + "".join(c["name"] + c["arguments"] for c in calls))

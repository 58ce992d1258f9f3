"""A fake Anthropic Messages API for tests and benchmarks: an aiohttp app on loopback, so the
real `anthropic` SDK talks to it unchanged::

    with FakeAnthropic() as fake:
        fake.enqueue(PlannedResponse(text="Hello there", ttft=0.05))
        client = anthropic.Anthropic(base_url=fake.url, api_key="test")
        with client.messages.stream(model="m", max_tokens=64, messages=[...]) as stream:
            ...
        assert fake.requests[0].body["system"] == ...

aiohttp does the HTTP; this file plans the responses and writes Anthropic's wire format (the
SSE events of a stream, errors, usage). The app runs on an event loop in a background thread
and paces every stream with scheduled sleeps, so hundreds of slow streams run at once.

Standalone, for benchmarks (serves the same default response forever)::

    python -m tests.support.fake_anthropic --port 8765 --ttft 0.8 --tokens-per-second 60

A benchmark learns when each request arrived: a last message carrying "[bench:<32 hex>]" is
stamped (time.monotonic(), the machine's clock for every process) once the whole request is
read, and GET /_bench/arrivals hands out the stamps since the last time it was asked.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import signal
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

__all__ = ["FakeAnthropic", "PlannedResponse", "RecordedRequest", "ToolUse", "lorem_text"]

BreakMode = Literal["error", "close", "hang"]
Responder = Callable[[dict[str, Any]], "PlannedResponse | None"]

# The `error.type` and a typical message Anthropic sends for each HTTP status.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low."),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out."),
    529: ("overloaded_error", "Overloaded"),
}

BENCH_MARK = re.compile(r"\[bench:([0-9a-f]{32})\]")
TOOL_JSON_CHUNK = 12  # characters of tool input JSON per input_json_delta


@dataclass
class ToolUse:
    """A tool call the fake model makes after its text."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str | None = None  # default: a fresh "toolu_fake..." id


@dataclass
class PlannedResponse:
    """How the server answers one request."""

    text: str = "Hello! This is the fake Anthropic server."
    tool_use: ToolUse | None = None
    tool_uses: list[ToolUse] = field(default_factory=list)  # more calls, after tool_use
    ttft: float = 0.0  # seconds from the response headers to the first delta
    token_delay: float = 0.0  # seconds between deltas; ignored if tokens_per_second is set
    tokens_per_second: float | None = None
    # HTTP errors: any status other than 200 is sent as Anthropic's JSON error body.
    status: int = 200
    error_type: str | None = None  # default: by status; for mid-stream errors "overloaded_error"
    error_message: str | None = None
    retry_after: float | None = 0.05  # seconds, sent as `retry-after` on 429s; None omits it
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    # Failures: `hang` reads the request and never answers. `break_after` stops a stream after
    # that many deltas: "error" sends an SSE `error` event, "close" drops the connection
    # without ending the body, "hang" stalls with the connection open.
    hang: bool = False
    break_after: int | None = None
    break_mode: BreakMode = "error"
    # Usage. output_tokens defaults to the number of deltas sent.
    input_tokens: int = 25
    output_tokens: int | None = None
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    stop_reason: str | None = None  # default: "tool_use" with a tool call, else "end_turn"
    model: str | None = None  # default: the requested model

    @property
    def delay(self) -> float:
        if self.tokens_per_second:
            return 1.0 / self.tokens_per_second
        return self.token_delay

    @property
    def tool_calls(self) -> list[ToolUse]:
        return ([self.tool_use] if self.tool_use else []) + list(self.tool_uses)

    def text_chunks(self) -> list[str]:
        """The text split into tokens: words with their trailing whitespace."""
        return re.findall(r"\s*\S+\s*", self.text) or ([self.text] if self.text else [])


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    # What the server did with it: "pending", "completed", "error_status", "error_event",
    # "closed", "hung" or "client_disconnected".
    outcome: str = "pending"

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def system(self) -> Any:
        return self.body.get("system")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeAnthropic:
    """The fake server. Responses come from the queue, then `responder`, then `default`."""

    def __init__(
        self,
        default: PlannedResponse | None = None,
        *,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record: bool = True,
    ) -> None:
        self.default = default or PlannedResponse()
        # Called on the server's event loop thread, so it must be quick and must not block.
        self.responder = responder
        self.host = host
        self.port = port
        self.record = record  # keep every request in `requests`; off for long benchmarks
        self.requests: list[RecordedRequest] = []
        self.request_count = 0
        self.in_flight = 0  # responses being sent right now
        self.peak_in_flight = 0
        self.arrivals: dict[str, float] = {}  # a benchmark's marks: when each request was read
        self._queue: deque[PlannedResponse] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # --- control, from the test's thread ---

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def enqueue(self, *responses: PlannedResponse) -> None:
        """Plan the next responses, in order."""
        with self._lock:
            self._queue.extend(responses)

    def reset(self) -> None:
        """Forget the planned responses and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """Planned responses not yet used."""
        return len(self._queue)

    def start(self) -> FakeAnthropic:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="fake-anthropic", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None and self._stopping is not None
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the app, on its own thread and event loop ---

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as err:  # start() raises it
            self._startup_error = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/_bench/arrivals", self._arrivals)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        # Handlers are cancelled when their client goes: that is how a hung response ends.
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=4096)
        await site.start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    async def _not_found(self, request: web.Request) -> web.Response:
        self._record(request, {})
        return _error_response(404, f"Not found: {request.method} {request.path}")

    async def _arrivals(self, request: web.Request) -> web.Response:
        with self._lock:
            arrivals, self.arrivals = self.arrivals, {}
        return web.json_response(arrivals)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        read_at = time.monotonic()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("messages"), list) and body["messages"]:
            marks = BENCH_MARK.findall(json.dumps(body["messages"][-1]))
            if marks:
                with self._lock:
                    self.arrivals.setdefault(marks[-1], read_at)
        recorded = self._record(request, body if isinstance(body, dict) else {})
        try:
            if not isinstance(body, dict):
                raise _Refused(400, "Request body must be a JSON object.")
            for name in ("model", "max_tokens", "messages"):
                if name not in body:
                    raise _Refused(400, f"{name}: Field required")
            plan = self._next_plan(body)
        except _Refused as refused:
            recorded.outcome = "error_status"
            return _error_response(refused.status, str(refused))

        # Each outcome is set before the response's last byte goes out, so a client that has
        # read the whole response sees it.
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if plan.hang:
                recorded.outcome = "hung"
                await _until_the_client_goes()
            if plan.status != 200:
                recorded.outcome = "error_status"
                return _planned_error(plan)
            if body.get("stream"):
                return await self._stream(request, plan, recorded)
            return await self._message(plan, recorded)
        except (asyncio.CancelledError, ConnectionError):
            if recorded.outcome in ("pending", "completed"):
                recorded.outcome = "client_disconnected"
            raise
        finally:
            self.in_flight -= 1

    def _record(self, request: web.Request, body: dict[str, Any]) -> RecordedRequest:
        headers = {name.lower(): value for name, value in request.headers.items()}
        recorded = RecordedRequest(request.method, request.path, headers, body)
        with self._lock:
            self.request_count += 1
            if self.record:
                self.requests.append(recorded)
        return recorded

    def _next_plan(self, body: dict[str, Any]) -> PlannedResponse:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            try:
                plan = self.responder(body)
            except Exception as err:
                traceback.print_exc()
                raise _Refused(500, f"responder raised {err!r}") from err
            if plan is not None:
                return plan
        return self.default

    async def _message(self, plan: PlannedResponse, recorded: RecordedRequest) -> web.Response:
        """A non-streaming request: the whole message, after the stream's duration."""
        message = _message(plan, recorded.body)
        count = len(plan.text_chunks())
        for tool in plan.tool_calls:  # as many deltas as the stream would send
            count += 1 + len(_split(json.dumps(tool.input), TOOL_JSON_CHUNK))
        await asyncio.sleep(plan.ttft + max(count - 1, 0) * plan.delay)
        message["content"] = _content_blocks(plan)
        message["stop_reason"] = _stop_reason(plan)
        message["usage"]["output_tokens"] = _output_tokens(plan, count)
        recorded.outcome = "completed"
        return web.json_response(message, headers=_headers(plan.headers))

    async def _stream(
        self, request: web.Request, plan: PlannedResponse, recorded: RecordedRequest
    ) -> web.StreamResponse:
        """The SSE stream, paced by the plan."""
        frames, break_at = _stream_frames(plan, recorded.body)
        breaks_with_error = break_at is not None and plan.break_mode == "error"
        if breaks_with_error:
            error_type = plan.error_type or "overloaded_error"
            payload = _error_payload(error_type, plan.error_message or "Overloaded")
            frames.append((break_at, _sse("error", payload)))
        response = web.StreamResponse(
            headers=_headers(
                {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
                plan.headers,
            )
        )
        response.enable_chunked_encoding()
        await response.prepare(request)

        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        while sent < len(frames):
            # Sleep until the next frame's slot (no drift when the loop is busy), then send it
            # with any others already due: coalescing keeps up when hundreds of streams run.
            await asyncio.sleep(max(0.0, start + frames[sent][0] - loop.time()))
            now = loop.time() - start
            due = sent + 1
            while due < len(frames) and frames[due][0] <= now:
                due += 1
            if due == len(frames) and (break_at is None or breaks_with_error):
                # Recorded before the client can see the end, so tests never race it.
                recorded.outcome = "completed" if break_at is None else "error_event"
            await response.write(b"".join(data for _at, data in frames[sent:due]))
            sent = due

        if break_at is None or breaks_with_error:
            await response.write_eof()
            return response
        await asyncio.sleep(max(0.0, start + break_at - loop.time()))
        if plan.break_mode == "close":
            recorded.outcome = "closed"
            request.transport.close()  # without the last chunk: the client sees a cut body
            return response
        recorded.outcome = "hung"
        await _until_the_client_goes()
        return response


async def _until_the_client_goes() -> None:
    """Hold the response open: the handler is cancelled when the client disconnects (or the
    server stops)."""
    await asyncio.Event().wait()


def _headers(*parts: dict[str, str]) -> dict[str, str]:
    headers = {"request-id": _new_id("req")}
    for part in parts:
        headers.update(part)
    return headers


def _error_response(status: int, message: str) -> web.Response:
    return _planned_error(PlannedResponse(status=status), message)


def _planned_error(plan: PlannedResponse, message: str | None = None) -> web.Response:
    default_type, default_message = ERRORS.get(plan.status, ERRORS[500])
    error_type = plan.error_type or default_type
    payload = _error_payload(error_type, message or plan.error_message or default_message)
    headers = _headers(plan.headers)
    if plan.status == 429 and plan.retry_after is not None:
        headers.setdefault("retry-after", f"{plan.retry_after:g}")
    return web.json_response(payload, status=plan.status, headers=headers)


# --- wire format helpers ---


def _new_id(prefix: str) -> str:
    return f"{prefix}_fake{uuid.uuid4().hex[:20]}"


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _stream_frames(
    plan: PlannedResponse, body: dict[str, Any]
) -> tuple[list[tuple[float, bytes]], float | None]:
    """The stream's SSE events, each with when it is due, in seconds after the headers.

    If the plan breaks the stream, the events stop at the break and the second value is when
    the break is due: the slot of the first delta not sent.
    """
    blocks: list[tuple[dict[str, Any], list[bytes]]] = []
    if plan.text:
        index = len(blocks)
        text_deltas = [_text_delta(index, text) for text in plan.text_chunks()]
        blocks.append(({"type": "text", "text": ""}, text_deltas))
    for tool in plan.tool_calls:
        index = len(blocks)
        start = {"type": "tool_use", "id": tool.id or _new_id("toolu"), "name": tool.name}
        json_parts = ["", *_split(json.dumps(tool.input), TOOL_JSON_CHUNK)]
        json_deltas = [
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
            for part in json_parts
        ]
        blocks.append(({**start, "input": {}}, json_deltas))

    def slot(n: int) -> float:
        return plan.ttft + n * plan.delay

    now = 0.0
    sent = 0
    message_start = {"type": "message_start", "message": _message(plan, body)}
    frames = [(now, _sse("message_start", message_start))]
    for index, (block, deltas) in enumerate(blocks):
        start_event = {"type": "content_block_start", "index": index, "content_block": block}
        frames.append((now, _sse("content_block_start", start_event)))
        if index == 0:
            frames.append((now, _sse("ping", {"type": "ping"})))
        for frame in deltas:
            if sent == plan.break_after:
                return frames, slot(sent)
            now = slot(sent)
            frames.append((now, frame))
            sent += 1
        stop_event = {"type": "content_block_stop", "index": index}
        frames.append((now, _sse("content_block_stop", stop_event)))
    if plan.break_after is not None:  # more than there are deltas: break before the end
        return frames, slot(sent)

    usage = {**_usage(plan), "output_tokens": _output_tokens(plan, sent)}
    delta = {"stop_reason": _stop_reason(plan), "stop_sequence": None}
    frames.append(
        (now, _sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    )
    frames.append((now, _sse("message_stop", {"type": "message_stop"})))
    return frames, None


# Benchmarks send the same tokens over and over, so encode each one only once.
@functools.lru_cache(maxsize=16384)
def _text_delta(index: int, text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return _sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _error_payload(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": _new_id("req"),
    }


def _usage(plan: PlannedResponse) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": plan.cache_creation_input_tokens,
        "cache_read_input_tokens": plan.cache_read_input_tokens,
    }


def _output_tokens(plan: PlannedResponse, deltas: int) -> int:
    return plan.output_tokens if plan.output_tokens is not None else deltas


def _stop_reason(plan: PlannedResponse) -> str:
    return plan.stop_reason or ("tool_use" if plan.tool_calls else "end_turn")


def _message(plan: PlannedResponse, body: dict[str, Any]) -> dict[str, Any]:
    """The message as `message_start` announces it: empty, with the input usage."""
    return {
        "id": _new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": plan.model or body.get("model", "claude-fake"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            **_usage(plan),
            "cache_creation": {
                "ephemeral_5m_input_tokens": plan.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": 1,
            "service_tier": "standard",
        },
    }


def _content_blocks(plan: PlannedResponse) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if plan.text:
        blocks.append({"type": "text", "text": plan.text})
    for tool in plan.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": tool.id or _new_id("toolu"),
                "name": tool.name,
                "input": tool.input,
            }
        )
    return blocks


# --- standalone ---

_LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation"
)


def lorem_text(tokens: int) -> str:
    """Text that `PlannedResponse` splits into exactly `tokens` tokens."""
    words = _LOREM.split()
    return " ".join(words[i % len(words)] for i in range(tokens))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic Messages API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--ttft", type=float, default=0.8, help="seconds to the first token")
    parser.add_argument("--tokens-per-second", type=float, default=60.0)
    parser.add_argument("--tokens", type=int, default=120, help="tokens per reply")
    parser.add_argument("--input-tokens", type=int, default=1200)
    parser.add_argument("--cache-read-tokens", type=int, default=0)
    args = parser.parse_args(argv)

    default = PlannedResponse(
        text=lorem_text(args.tokens),
        ttft=args.ttft,
        tokens_per_second=args.tokens_per_second,
        input_tokens=args.input_tokens,
        cache_read_input_tokens=args.cache_read_tokens,
    )
    fake = FakeAnthropic(default, host=args.host, port=args.port, record=False)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop on SIGTERM as on Ctrl-C
    with fake:
        print(f"Fake Anthropic API listening on {fake.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    print(f"Served {fake.request_count} requests, at most {fake.peak_in_flight} at once.")


if __name__ == "__main__":
    main()

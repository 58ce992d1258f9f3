"""Anthropic's Messages API, through the `anthropic` SDK: the SDK makes each streaming request
(auth, headers, status errors, timeouts); the event lines are read here as plain JSON, because
building the SDK's typed event objects, once per token, was the busiest code of a loaded
server. Failures before the first token are retried with backoff (each retry reported through
`on_retry`); a failure after text has streamed is final for that reply."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import anthropic
import httpx2
from django.conf import settings

from chat.models import Message
from chat.providers.base import END_TOOL, GOAL_TOOL, ModelError, OnRetry, ReplyDone, ReplyRequest


class AnthropicProvider:
    name = "anthropic"

    def __init__(self) -> None:
        self.client = anthropic.AsyncAnthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            max_retries=0,  # retried below, so that each retry is logged and bounded
            timeout=httpx2.Timeout(settings.MODEL_TIMEOUT, connect=5.0),
            # The SDK's aiohttp backend reads a stream for about two thirds of the CPU of its
            # default httpx one (bench/chat_latency.py prints both floors).
            http_client=anthropic.DefaultAioHttpClient(),
        )

    async def stream(
        self, request: ReplyRequest, on_retry: OnRetry
    ) -> AsyncIterator[str | ReplyDone]:
        character = request.chat == Message.ChatType.MAIN
        params = {
            "model": settings.CHARACTER_MODEL if character else settings.HELPER_MODEL,
            "max_tokens": request.max_tokens
            or (settings.CHARACTER_MAX_TOKENS if character else settings.HELPER_MAX_TOKENS),
            "system": request.system,
            "messages": request.messages,
        }
        if request.tools:
            params["tools"] = request.tools
        if request.tool_choice:
            params["tool_choice"] = request.tool_choice
        attempts = settings.MODEL_RETRY_ATTEMPTS
        for attempt in range(1, attempts + 1):
            streamed, reply = False, _Reply()
            try:
                async with contextlib.AsyncExitStack() as stack:
                    # Up to the first token: the request, the headers and any preamble events.
                    async with asyncio.timeout(
                        request.first_token_timeout or settings.MODEL_FIRST_TOKEN_TIMEOUT
                    ):
                        # The SDK makes the request (auth, headers, status errors); the event
                        # lines are read here, as plain JSON: building the SDK's typed event
                        # objects, once per token, was the busiest code of a loaded server.
                        response = await stack.enter_async_context(
                            self.client.messages.with_streaming_response.create(
                                **params, stream=True
                            )
                        )
                        events = aiter(response.iter_lines())
                        first = await _first_text(events, reply)
                    if first:
                        streamed = True
                        yield first
                    async for event in events:
                        text = reply.take(event)
                        if text:
                            yield text
                yield ReplyDone(
                    ended=reply.ended,
                    usage=reply.usage,
                    attempts=attempt,
                    goals_reached=tuple(reply.goals),
                    tool_inputs=reply.tool_inputs,
                )
                return
            except Exception as exc:  # classified, then retried or raised as a ModelError
                error = _classify(exc)
                if streamed or not error.retryable or attempt == attempts:
                    raise error from exc
                delay = error.retry_after or settings.MODEL_RETRY_BASE_DELAY * 2 ** (attempt - 1)
                await on_retry(attempt, delay, error)
                await asyncio.sleep(delay)


class _Reply:
    """Reads the Messages API's server-sent events: the text, the tool call, the usage."""

    def __init__(self) -> None:
        self.ended = False
        self.usage: dict = {}
        self.goals: list[int] = []
        self.tool_inputs: dict[str, dict] = {}  # other tools' input, by name (the last call's)
        self._tool_json: dict[int, tuple[str, str]] = {}  # tool calls' JSON so far, by index

    def take(self, line: str) -> str | None:
        if not line.startswith("data:"):
            return None  # `event:` names repeat the JSON's type; blank lines end an event
        event = json.loads(line[5:])
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                return delta.get("text")
            if delta.get("type") == "input_json_delta" and event["index"] in self._tool_json:
                name, so_far = self._tool_json[event["index"]]
                self._tool_json[event["index"]] = (name, so_far + delta.get("partial_json", ""))
            return None
        if kind == "content_block_start" and event["content_block"].get("type") == "tool_use":
            name = event["content_block"].get("name")
            self.ended = self.ended or name == END_TOOL["name"]
            self._tool_json[event["index"]] = (name, "")
        elif kind == "content_block_stop" and event.get("index") in self._tool_json:
            self._take_tool_call(*self._tool_json.pop(event["index"]))
        elif kind == "message_start":
            usage = event["message"].get("usage") or {}
            self.usage = {
                key: usage.get(key) or 0
                for key in (
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
            }
        elif kind == "message_delta" and event.get("usage"):
            self.usage["output_tokens"] = event["usage"].get("output_tokens", 0)
        elif kind == "error":  # an error after HTTP 200, in the middle of the stream
            error_type = (event.get("error") or {}).get("type", "stream_error")
            raise ModelError(error_type, retryable=error_type in RETRYABLE_ERROR_TYPES)
        return None

    def _take_tool_call(self, name: str, arguments: str) -> None:
        try:
            tool_input = json.loads(arguments or "{}")
        except (ValueError, RecursionError):  # RecursionError: JSON nested beyond reason
            return  # a malformed call counts for nothing
        if not isinstance(tool_input, dict):
            return
        if name != GOAL_TOOL["name"]:
            self.tool_inputs[name] = tool_input
            return
        goal = tool_input.get("goal")
        if isinstance(goal, int) and not isinstance(goal, bool) and goal not in self.goals:
            self.goals.append(goal)


async def _first_text(events, reply: _Reply) -> str | None:
    async for event in events:
        text = reply.take(event)
        if text:
            return text
    return None  # the model answered with a tool call only


RETRYABLE_ERROR_TYPES = ("overloaded_error", "api_error", "rate_limit_error")


def _classify(exc: BaseException) -> ModelError:
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, (TimeoutError, anthropic.APITimeoutError, httpx2.TimeoutException)):
        return ModelError("timeout", timeout=True, retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error_type = (body.get("error") or {}).get("type", "") or getattr(exc, "type", "") or ""
        message = str(exc).lower()
        # An exhausted spend limit is a 429 too, but waiting will not fix it.
        spent = exc.status_code == 429 and ("spend" in message or "credit" in message)
        retryable = not spent and (
            exc.status_code in (408, 429, 529)
            or exc.status_code >= 500
            or error_type in RETRYABLE_ERROR_TYPES
        )
        retry_after = _retry_after(exc.response.headers) if exc.response is not None else None
        return ModelError(
            error_type or f"http_{exc.status_code}",
            retryable=retryable,
            status=exc.status_code,
            retry_after=retry_after,
        )
    if isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError)):
        return ModelError("connection", retryable=True)
    return ModelError(type(exc).__name__)


def _retry_after(headers) -> float | None:
    try:
        return min(float(headers.get("retry-after", "")), 30.0)
    except ValueError:
        return None

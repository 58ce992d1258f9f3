"""The fake Anthropic API (tests/support/fake_anthropic.py), driven by the real `anthropic` SDK
(sync and async)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, ToolUse

MODEL = "claude-fake-1"
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def client(fake: FakeAnthropic, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="test-key", **options)


def async_client(fake: FakeAnthropic, **options: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.url, api_key="test-key", **options)


def test_stream_yields_text_deltas_in_order_and_final_usage(fake: FakeAnthropic) -> None:
    fake.enqueue(
        PlannedResponse(
            text="Hello brave new world",
            input_tokens=1200,
            cache_creation_input_tokens=300,
            cache_read_input_tokens=800,
        )
    )
    system: list[Any] = [
        {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}
    ]

    with client(fake).messages.stream(
        model=MODEL, max_tokens=64, system=system, messages=MESSAGES
    ) as stream:
        texts = list(stream.text_stream)
        message = stream.get_final_message()

    assert texts == ["Hello ", "brave ", "new ", "world"]
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello brave new world"
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 1200
    assert message.usage.cache_creation_input_tokens == 300
    assert message.usage.cache_read_input_tokens == 800
    assert message.usage.output_tokens == 4

    [request] = fake.requests
    assert request.path == "/v1/messages"
    assert request.stream
    assert request.system == system
    assert request.messages == MESSAGES
    # anthropic 2.x sends the API key as a bearer token, not as `x-api-key`.
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.outcome == "completed"


def test_async_stream_with_tool_use(fake: FakeAnthropic) -> None:
    tool_input = {"query": "weather in Graz", "days": [1, 2, 3]}
    fake.enqueue(PlannedResponse(text="Let me look.", tool_use=ToolUse("search", tool_input)))
    tools: list[Any] = [{"name": "search", "description": "Search", "input_schema": {}}]

    async def run() -> Any:
        async with (
            async_client(fake) as sdk,
            sdk.messages.stream(
                model=MODEL, max_tokens=64, messages=MESSAGES, tools=tools
            ) as stream,
        ):
            return await stream.get_final_message()

    message = asyncio.run(run())

    text, tool = message.content
    assert text.type == "text"
    assert text.text == "Let me look."
    assert tool.type == "tool_use"
    assert tool.name == "search"
    assert tool.input == tool_input
    assert tool.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    assert fake.requests[0].tools == tools


def test_create_with_stream_true_yields_raw_events(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="One two"))

    events = client(fake).messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    types = [event.type for event in events]

    assert types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_non_streaming_create_returns_a_message(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="Plain answer.", output_tokens=3))

    message = client(fake).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)

    assert message.content[0].type == "text"
    assert message.content[0].text == "Plain answer."
    assert message.usage.output_tokens == 3
    assert not fake.requests[0].stream


def test_ttft_and_token_delay_pace_the_stream(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="a b c d", ttft=0.2, token_delay=0.05))

    started = time.monotonic()
    arrivals = []
    with client(fake).messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        for _text in stream.text_stream:
            arrivals.append(time.monotonic() - started)

    # Lower bounds from the start only: a busy machine may deliver later, never earlier. (The
    # time between the first and the last was no bound: a first token read late bunched the
    # rest, already sent, after it: 0.13 s on a busy machine.)
    assert arrivals[0] >= 0.2
    assert arrivals[-1] >= 0.2 + 0.15 - 0.01


def test_a_benchmarks_marked_request_is_stamped_when_read(fake: FakeAnthropic) -> None:
    mark, other = "a" * 32, "b" * 32
    earlier = [
        {"role": "user", "content": f"Hi [bench:{other}]"},
        {"role": "assistant", "content": "Hallo"},
    ]
    before = time.monotonic()
    client(fake).messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            *earlier,
            {"role": "user", "content": [{"type": "text", "text": f"Na? [bench:{mark}]"}]},
        ],
    )
    client(fake).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)  # no mark

    arrivals = httpx2.get(f"{fake.url}/_bench/arrivals").json()
    assert list(arrivals) == [mark]  # the last message's mark only
    assert before < arrivals[mark] < time.monotonic()  # the machine's monotonic clock
    assert httpx2.get(f"{fake.url}/_bench/arrivals").json() == {}  # handed out once


def test_responder_plays_a_scenario_after_the_queue(fake: FakeAnthropic) -> None:
    fake.responder = lambda body: PlannedResponse(text=f"echo: {body['messages'][-1]['content']}")
    fake.enqueue(PlannedResponse(text="queued first"))
    sdk = client(fake)

    def ask(content: str) -> str:
        messages: list[Any] = [{"role": "user", "content": content}]
        with sdk.messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
            return stream.get_final_text()

    assert ask("one") == "queued first"
    assert ask("two") == "echo: two"


def test_rate_limit_is_retried_and_the_second_attempt_succeeds(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(status=429, retry_after=0.05), PlannedResponse(text="Made it"))

    with client(fake, max_retries=1).messages.stream(
        model=MODEL, max_tokens=64, messages=MESSAGES
    ) as stream:
        assert stream.get_final_text() == "Made it"

    first, second = fake.requests
    assert (first.outcome, second.outcome) == ("error_status", "completed")
    assert second.headers["x-stainless-retry-count"] == "1"
    assert second.body == first.body


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
def test_error_statuses_raise_sdk_exceptions(
    fake: FakeAnthropic, status: int, error: type[anthropic.APIStatusError], error_type: str
) -> None:
    fake.enqueue(PlannedResponse(status=status))

    sdk = client(fake, max_retries=0)
    with (
        pytest.raises(error) as caught,
        sdk.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream,
    ):
        stream.until_done()

    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == status
    assert caught.value.type == error_type
    assert caught.value.request_id is not None
    assert len(fake.requests) == 1


def test_hang_times_out(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(hang=True))

    with pytest.raises(anthropic.APITimeoutError):
        client(fake, max_retries=0, timeout=0.2).messages.create(
            model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
        )


def test_error_event_mid_stream_raises_after_some_text(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="a b c d e", break_after=2))
    texts: list[str] = []

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client(fake).messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream,
    ):
        texts.extend(stream.text_stream)

    assert texts == ["a ", "b "]
    # The HTTP status was 200, so the SDK raises the plain APIStatusError, not OverloadedError.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.type == "overloaded_error"
    assert fake.requests[0].outcome == "error_event"


def test_abrupt_close_mid_stream_raises(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="a b c d e", break_after=3, break_mode="close"))
    texts: list[str] = []

    async def run() -> None:
        async with (
            async_client(fake) as sdk,
            sdk.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream,
        ):
            async for text in stream.text_stream:
                texts.append(text)

    # The SDK doesn't wrap errors raised while reading the body: this is httpx2's own.
    with pytest.raises(httpx2.RemoteProtocolError):
        asyncio.run(run())
    assert texts == ["a ", "b ", "c "]


def test_stall_mid_stream_hits_the_read_timeout(fake: FakeAnthropic) -> None:
    fake.enqueue(PlannedResponse(text="a b c", break_after=1, break_mode="hang"))
    texts: list[str] = []

    # No retry, and time for the headers: on a busy machine the first read outlasted 0.2 s,
    # the SDK retried, and the retry got an unbroken response.
    sdk = client(fake, timeout=1.0, max_retries=0)
    with (
        pytest.raises(httpx2.ReadTimeout),
        sdk.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream,
    ):
        texts.extend(stream.text_stream)

    assert texts == ["a "]


def test_slow_streams_run_concurrently(fake: FakeAnthropic) -> None:
    fake.default = PlannedResponse(text="t " * 5, ttft=0.2, token_delay=0.05)
    fake.enqueue(PlannedResponse(hang=True))
    count = 50

    async def run() -> list[str]:
        async with async_client(fake, max_retries=0) as sdk:
            hung = asyncio.create_task(
                sdk.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)
            )
            await asyncio.sleep(0.05)  # let the hanging request take the queued response

            async def one() -> str:
                async with sdk.messages.stream(
                    model=MODEL, max_tokens=64, messages=MESSAGES
                ) as stream:
                    return await stream.get_final_text()

            try:
                return await asyncio.gather(*(one() for _ in range(count)))
            finally:
                hung.cancel()

    texts = asyncio.run(run())

    assert texts == ["t " * 5] * count
    assert fake.peak_in_flight >= count  # all at once, not one after another
    assert fake.requests[0].outcome == "hung"


def test_runs_standalone() -> None:
    args = ["--port", "0", "--ttft", "0", "--tokens-per-second", "1000", "--tokens", "7"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_anthropic", *args],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        sdk = anthropic.Anthropic(base_url=url, api_key="test-key")
        with sdk.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
            assert len(list(stream.text_stream)) == 7
    finally:
        process.terminate()
        process.wait(timeout=5)

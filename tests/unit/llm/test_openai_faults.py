"""The OpenAI-compatible client against a server that misbehaves in every way we know of.

Each test asserts how the call ends (status, a clear reason, the partial text kept) and that
no exception escapes to the caller.
"""

from __future__ import annotations

import json

import pytest

from expertloop.llm.interface import RunStatus
from expertloop.llm.ssrf import AddressPolicy
from tests.unit.llm.client_call import API_KEY, Outcome, call
from tests.unit.llm.fault_server import (
    FaultServer,
    Scenario,
    body_response,
    delta_chunk,
    free_port,
    json_response,
    redirect,
    split_bytes,
    sse_event,
    sse_response,
    sse_stream_bytes,
    stall_before_head,
)

HELLO = ["Hel", "lo, ", "wor", "ld!"]
OK_JSON = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Bonjour à vous"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 4},
}


def check_stream(outcome: Outcome) -> None:
    """The deltas add up to the final text, and nothing follows the final Completion."""
    assert "".join(outcome.deltas) == outcome.completion.text
    assert outcome.events_after_final == 0


def ok_stream() -> Scenario:
    """A well-formed streamed "Hello, world!" in one write."""
    return sse_response([sse_stream_bytes(HELLO)])


# -- answers that arrive ------------------------------------------------------------------


def test_streaming_answer_ok(fault_server: FaultServer) -> None:
    pieces = [sse_event(delta_chunk(t)) for t in HELLO]
    pieces += [
        sse_event(delta_chunk("", "stop")),
        sse_event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 4}}),
        sse_event("[DONE]"),
    ]
    fault_server.enqueue(sse_response(pieces, pause=0.01))

    outcome = call(fault_server.base_url)

    c = outcome.completion
    check_stream(outcome)
    assert c.status is RunStatus.ok, c.error
    assert c.error is None
    assert c.text == "Hello, world!"
    assert outcome.deltas == HELLO
    assert c.finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (11, 4)
    assert c.ttft_ms is not None and c.latency_ms is not None
    assert 0 < c.ttft_ms <= c.latency_ms
    assert c.attempts == 1
    # What the server received: the key in the header, a streaming body asking for usage.
    [req] = fault_server.requests
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert req.json["stream"] is True
    assert req.json["model"] == "m"
    assert req.json["messages"] == [{"role": "user", "content": "Say hello"}]
    assert req.json["stream_options"] == {"include_usage": True}
    # Provenance keeps the body, never the credentials.
    assert c.raw_request["body"] == req.json
    assert API_KEY not in json.dumps(c.raw_request)
    assert "authorization" not in json.dumps(c.raw_request).lower()
    assert API_KEY not in repr(c)


def test_complete_non_streaming(fault_server: FaultServer) -> None:
    fault_server.enqueue(json_response(200, OK_JSON))

    c = call(fault_server.base_url, stream=False).completion

    assert c.status is RunStatus.ok, c.error
    assert c.text == "Bonjour à vous"
    assert c.finish_reason == "stop"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens) == (7, 4)
    assert c.latency_ms is not None
    [req] = fault_server.requests
    assert req.json["stream"] is False
    assert "stream_options" not in req.json
    assert req.headers["authorization"] == f"Bearer {API_KEY}"


def test_streaming_request_answered_with_plain_json(fault_server: FaultServer) -> None:
    """Servers that ignore ``stream: true`` still give a usable answer."""
    fault_server.enqueue(json_response(200, OK_JSON))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Bonjour à vous"


def test_several_events_in_one_chunk(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_stream_bytes(HELLO)]))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_events_split_across_writes_even_inside_utf8(
    fault_server: FaultServer, framing: str
) -> None:
    texts = ["Café ", "crème ", "🙂 ", "naïve"]
    data = sse_stream_bytes(texts)
    # Cut inside "é" (2 bytes), inside the emoji (4 bytes), and inside "data:" and the JSON.
    e_acute = data.index("é".encode())
    emoji = data.index("🙂".encode())
    cuts = [3, e_acute + 1, e_acute + 30, emoji + 1, emoji + 2, emoji + 3, len(data) - 4]
    fault_server.enqueue(sse_response(split_bytes(data, cuts), pause=0.02, framing=framing))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok, outcome.completion.error
    assert outcome.completion.text == "Café crème 🙂 naïve"
    assert "\ufffd" not in outcome.completion.text


def test_every_byte_a_separate_write(fault_server: FaultServer) -> None:
    data = sse_stream_bytes(["é🙂", "ü"], usage=None)
    fault_server.enqueue(sse_response(split_bytes(data, range(1, len(data))), pause=0.001))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "é🙂ü"


def test_crlf_line_endings(fault_server: FaultServer) -> None:
    data = sse_stream_bytes(HELLO, eol="\r\n")
    fault_server.enqueue(sse_response(split_bytes(data, range(7, len(data), 41)), pause=0.005))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"


def test_comments_and_keepalives_are_ignored(fault_server: FaultServer) -> None:
    data = b": keep-alive\n\n" + sse_stream_bytes(["a"]).replace(b"\n\n", b"\n\n: ping\n\n", 1)
    fault_server.enqueue(sse_response([data]))

    outcome = call(fault_server.base_url)

    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "a"


# -- streams that end badly ---------------------------------------------------------------


def test_stream_cut_midway_keeps_partial_text(fault_server: FaultServer) -> None:
    pieces = [sse_event(delta_chunk(t)) for t in HELLO[:2]]
    fault_server.enqueue(sse_response(pieces, pause=0.01, ending="abort"))

    outcome = call(fault_server.base_url)

    c = outcome.completion
    check_stream(outcome)
    assert c.status is RunStatus.incomplete
    assert c.text == "Hello, "
    assert "mid-answer" in (c.error or "")
    assert len(fault_server.requests) == 1  # partial text is never retried (nor duplicated)


def test_stream_cut_before_any_text_is_retried(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([b": hello\n\n"], ending="abort"), ok_stream())

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"
    assert outcome.completion.attempts == 2
    assert len(fault_server.requests) == 2


def test_error_event_inside_200_stream(fault_server: FaultServer) -> None:
    pieces = [sse_event(delta_chunk(t)) for t in HELLO[:2]]
    pieces.append(sse_event({"error": {"message": "overloaded", "type": "server_error"}}))
    fault_server.enqueue(sse_response(pieces, pause=0.01))

    outcome = call(fault_server.base_url)

    c = outcome.completion
    check_stream(outcome)
    assert c.status in (RunStatus.incomplete, RunStatus.failed)
    assert c.status is RunStatus.incomplete  # text arrived before the error
    assert c.text == "Hello, "
    assert "error" in (c.error or "")
    assert "overloaded" in (c.upstream_error or "")
    assert len(fault_server.requests) == 1


def test_error_event_before_any_text_fails(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_event({"error": "model not loaded"})]))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert c.text == ""
    assert "model not loaded" in (c.upstream_error or "")


def test_no_done_but_finish_reason_then_clean_close_is_ok(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_stream_bytes(HELLO, done=False)]))

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok, outcome.completion.error
    assert outcome.completion.text == "Hello, world!"
    assert outcome.completion.finish_reason == "stop"


def test_no_done_and_no_finish_reason_is_incomplete(fault_server: FaultServer) -> None:
    data = sse_stream_bytes(HELLO, finish=None, usage=None, done=False)
    fault_server.enqueue(sse_response([data]))

    outcome = call(fault_server.base_url)

    c = outcome.completion
    check_stream(outcome)
    assert c.status is RunStatus.incomplete
    assert c.text == "Hello, world!"
    assert "ended before" in (c.error or "")


def test_close_delimited_stream_cut_without_finish_is_incomplete(
    fault_server: FaultServer,
) -> None:
    """With no length and no chunking, a close is indistinguishable from the end."""
    pieces = [sse_event(delta_chunk(t)) for t in HELLO[:2]]
    fault_server.enqueue(sse_response(pieces, framing="close", ending="abort"))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.incomplete
    assert c.text == "Hello, "
    assert c.error


def test_non_json_event_keeps_partial_text(fault_server: FaultServer) -> None:
    pieces = [sse_event(delta_chunk("Hi")), b"data: {not json\n\n"]
    fault_server.enqueue(sse_response(pieces))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.incomplete
    assert c.text == "Hi"
    assert "not JSON" in (c.error or "")


@pytest.mark.parametrize(
    "event",
    [
        {"choices": [{"delta": "oops"}]},
        {"choices": {"0": {"delta": {"content": "x"}}}},
        {"choices": 5},
    ],
    ids=["delta-is-a-string", "choices-is-a-dict", "choices-is-a-number"],
)
def test_malformed_stream_event_ends_as_a_completion(
    fault_server: FaultServer, event: dict[str, object]
) -> None:
    pieces = [sse_event(delta_chunk("Hi")), sse_event(event), sse_event("[DONE]")]
    fault_server.enqueue(sse_response(pieces))

    c = call(fault_server.base_url).completion  # must not raise

    assert c.status in (RunStatus.incomplete, RunStatus.failed)
    assert c.text == "Hi"
    assert c.error


def test_malformed_message_ends_as_a_completion(fault_server: FaultServer) -> None:
    fault_server.enqueue(json_response(200, {"choices": [{"message": "oops"}]}))

    c = call(fault_server.base_url, stream=False).completion  # must not raise

    assert c.status is RunStatus.failed
    assert c.error


# -- bodies that are not answers ----------------------------------------------------------


def test_plain_text_body_fails(fault_server: FaultServer) -> None:
    fault_server.enqueue(body_response(200, b"Hello from nginx", "text/plain"))

    c = call(fault_server.base_url, stream=False).completion

    assert c.status is RunStatus.failed
    assert "not JSON" in (c.error or "")
    assert "Hello from nginx" in (c.upstream_error or "")
    assert len(fault_server.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
def test_html_body_fails_and_says_html(fault_server: FaultServer, stream: bool) -> None:
    html = b"<!doctype html><html><head><title>Login</title></head><body>Sign in</body></html>"
    fault_server.enqueue(body_response(200, html, "text/html; charset=utf-8"))

    c = call(fault_server.base_url, stream=stream).completion

    assert c.status is RunStatus.failed
    assert "HTML" in (c.error or "")
    assert "base URL" in (c.error or "")


def test_empty_choices_fails(fault_server: FaultServer) -> None:
    fault_server.enqueue(json_response(200, {"choices": []}))

    c = call(fault_server.base_url, stream=False).completion

    assert c.status is RunStatus.failed
    assert "no choices" in (c.error or "")


def test_error_object_with_200_fails(fault_server: FaultServer) -> None:
    fault_server.enqueue(json_response(200, {"error": {"message": "bad model"}}))

    c = call(fault_server.base_url, stream=False).completion

    assert c.status is RunStatus.failed
    assert "bad model" in (c.upstream_error or "")


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_stream_over_size_cap_keeps_partial_text(fault_server: FaultServer, framing: str) -> None:
    first = [sse_event(delta_chunk(t)) for t in HELLO[:2]]
    flood = sse_stream_bytes(["x" * 100] * 100)
    fault_server.enqueue(sse_response([*first, flood], pause=0.05, framing=framing))

    outcome = call(fault_server.base_url, max_response_bytes=2000)

    c = outcome.completion
    check_stream(outcome)
    assert c.status is RunStatus.incomplete
    assert "size cap" in (c.error or "")
    assert c.text.startswith("Hello, ")
    assert len(c.text) < 2000
    assert len(fault_server.requests) == 1


def test_json_over_size_cap_fails(fault_server: FaultServer) -> None:
    big = dict(OK_JSON, padding="x" * 5000)
    fault_server.enqueue(json_response(200, big))

    c = call(fault_server.base_url, stream=False, max_response_bytes=2000).completion

    assert c.status is RunStatus.failed
    assert "size cap" in (c.error or "")


# -- HTTP errors and retries --------------------------------------------------------------


def test_429_with_retry_after_zero_then_success(fault_server: FaultServer) -> None:
    fault_server.enqueue(
        json_response(429, {"error": {"message": "slow down"}}, [("Retry-After", "0")]),
        ok_stream(),
    )

    outcome = call(fault_server.base_url)

    check_stream(outcome)
    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"
    assert outcome.completion.attempts == 2
    assert len(fault_server.requests) == 2
    assert fault_server.requests[0].body == fault_server.requests[1].body


def test_503_then_success(fault_server: FaultServer) -> None:
    fault_server.enqueue(body_response(503, b"busy", "text/plain"), ok_stream())

    outcome = call(fault_server.base_url)

    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"
    assert len(fault_server.requests) == 2


def test_429_insufficient_quota_is_not_retried(fault_server: FaultServer) -> None:
    body = {"error": {"type": "insufficient_quota", "message": "You exceeded your quota"}}
    fault_server.enqueue(json_response(429, body), ok_stream())

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert "quota" in (c.error or "")
    assert "insufficient_quota" in (c.upstream_error or "")
    assert len(fault_server.requests) == 1
    assert fault_server.pending == 1  # the success queued behind it was never asked for


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_are_not_retried(fault_server: FaultServer, status: int) -> None:
    fault_server.enqueue(json_response(status, {"error": {"message": f"nope {status}"}}))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert str(status) in (c.error or "")
    assert f"nope {status}" in (c.upstream_error or "")
    assert API_KEY not in (c.error or "") + (c.upstream_error or "")
    if status in (401, 403):
        assert "API key" in (c.error or "")
    assert c.attempts == 1
    assert len(fault_server.requests) == 1


def test_persistent_500_gives_up(fault_server: FaultServer) -> None:
    fault_server.enqueue(*[body_response(500, b"boom", "text/plain")] * 3)

    c = call(fault_server.base_url, max_retries=2).completion

    assert c.status is RunStatus.failed
    assert "500" in (c.error or "")
    assert "gave up" in (c.error or "")
    assert c.attempts == 3
    assert len(fault_server.requests) == 3
    assert c.upstream_error == "boom"


def test_retry_after_is_honoured(fault_server: FaultServer) -> None:
    fault_server.enqueue(
        json_response(429, {"error": "later"}, [("Retry-After", "0.3")]), ok_stream()
    )

    outcome = call(fault_server.base_url, retry_max_delay=1.0)

    assert outcome.completion.status is RunStatus.ok
    assert outcome.elapsed >= 0.25
    assert len(fault_server.requests) == 2


def test_retry_after_is_capped_by_retry_max_delay(fault_server: FaultServer) -> None:
    fault_server.enqueue(
        json_response(503, {"error": "later"}, [("Retry-After", "30")]), ok_stream()
    )

    outcome = call(fault_server.base_url, retry_max_delay=0.2)

    assert outcome.completion.status is RunStatus.ok
    assert outcome.elapsed < 2.0
    assert len(fault_server.requests) == 2


# -- timeouts and connections -------------------------------------------------------------


def test_read_timeout_before_headers_gives_up(fault_server: FaultServer) -> None:
    fault_server.enqueue(*[stall_before_head()] * 3)

    outcome = call(fault_server.base_url, read_timeout=0.3, max_retries=2)

    c = outcome.completion
    assert c.status is RunStatus.failed
    assert "timed out" in (c.error or "")
    assert "gave up" in (c.error or "")
    assert len(fault_server.requests) == 3
    assert outcome.elapsed < 5


def test_read_timeout_mid_stream_keeps_partial_text(fault_server: FaultServer) -> None:
    pieces = [sse_event(delta_chunk(t)) for t in HELLO[:3]]
    fault_server.enqueue(sse_response(pieces, pause=0.01, ending="stall"))

    outcome = call(fault_server.base_url, read_timeout=0.3)

    c = outcome.completion
    check_stream(outcome)
    assert c.status is RunStatus.incomplete
    assert c.text == "Hello, wor"
    assert "timeout" in (c.error or "")
    assert len(fault_server.requests) == 1
    assert outcome.elapsed < 3


def test_connection_refused_gives_up() -> None:
    outcome = call(f"http://127.0.0.1:{free_port()}/v1", max_retries=2)

    c = outcome.completion
    assert c.status is RunStatus.failed
    assert "Could not connect" in (c.error or "")
    assert "gave up after 3 attempts" in (c.error or "")
    assert c.attempts == 3


# -- redirects ----------------------------------------------------------------------------


def test_redirect_on_same_server_is_followed(fault_server: FaultServer) -> None:
    fault_server.enqueue(redirect("/v2/chat/completions"), ok_stream())

    outcome = call(fault_server.base_url)

    assert outcome.completion.status is RunStatus.ok
    assert outcome.completion.text == "Hello, world!"
    first, second = fault_server.requests
    assert second.path == "/v2/chat/completions"
    assert second.method == "POST"
    assert second.body == first.body


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://127.0.0.2:{port}/v1/chat/completions",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.2]:{port}/",
    ],
)
def test_redirect_to_internal_address_is_refused(fault_server: FaultServer, location: str) -> None:
    fault_server.enqueue(redirect(location.format(port=fault_server.port)))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert "not followed" in (c.error or "") or "not allowed" in (c.error or "")
    assert len(fault_server.requests) == 1


def test_redirect_to_another_scheme_is_refused(fault_server: FaultServer) -> None:
    fault_server.enqueue(redirect("file:///etc/passwd"))

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert "http or https" in (c.error or "")
    assert len(fault_server.requests) == 1


def test_redirect_loop_is_cut(fault_server: FaultServer) -> None:
    fault_server.enqueue(*[redirect("/v1/chat/completions")] * 4)

    c = call(fault_server.base_url).completion

    assert c.status is RunStatus.failed
    assert "redirected too many times" in (c.error or "")
    assert len(fault_server.requests) == 4


def test_malformed_redirect_location_ends_as_a_completion(fault_server: FaultServer) -> None:
    # An unparsable Location fails at once with a clear reason; retrying cannot help.
    fault_server.enqueue(redirect("http://[::1"))

    c = call(fault_server.base_url).completion  # must not raise

    assert c.status is RunStatus.failed
    assert "invalid URL" in (c.error or "")
    assert len(fault_server.requests) == 1


def test_redirect_to_another_host_is_not_followed(
    fault_server: FaultServer, other_server: FaultServer
) -> None:
    # Even an allowed host: a model API has no reason to send our POST and key elsewhere.
    fault_server.enqueue(redirect(other_server.url("/v1/chat/completions")))
    both = AddressPolicy.from_settings(False, ["127.0.0.1/32", "127.0.0.2/32"])

    c = call(fault_server.base_url, policy=both).completion

    assert c.status is RunStatus.failed
    assert "another host" in (c.error or "")
    assert fault_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert other_server.requests == []


def test_unicode_dots_cannot_smuggle_a_loopback_address(fault_server: FaultServer) -> None:
    # "127。0。0。1" normalises to 127.0.0.1 in the HTTP client: the check must see that too.
    sneaky = fault_server.base_url.replace("127.0.0.1", "127\u30020\u30020\u30021")

    c = call(sneaky, policy=AddressPolicy()).completion

    assert c.status is RunStatus.failed
    assert "not allowed" in (c.error or "")
    assert fault_server.requests == []


def test_no_api_key_sends_no_authorization(fault_server: FaultServer) -> None:
    fault_server.enqueue(ok_stream())

    c = call(fault_server.base_url, api_key=None).completion

    assert c.status is RunStatus.ok
    assert "authorization" not in fault_server.requests[0].headers

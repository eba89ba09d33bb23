"""The reference server on its own (no sandbox): OpenAI-compatible framing, the engine model's
shape (prefill grows with the prompt, a full batch queues), its record, and its refusals."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from portfolio.runner.benchclient import server as reference


@pytest.fixture
def serve():
    started = []

    def start(**settings):
        srv = reference.ReferenceServer(settings)
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def post(srv, body, *, raw=False):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("POST", "/v1/completions", body if raw else json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), data


def events(data: bytes) -> list[str]:
    assert data.endswith(b"data: [DONE]\n\n")
    return [chunk[len("data: ") :] for chunk in data.decode().split("\n\n") if chunk]


def test_a_stream_is_sse_events_with_usage_last_and_done(serve):
    srv = serve(chunk_tokens=3)
    status, kind, data = post(
        srv, {"prompt": [1] * 5, "max_tokens": 7, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert (status, kind) == (200, "text/event-stream")
    frames = events(data)
    assert frames[-1] == "[DONE]"
    payloads = [json.loads(f) for f in frames[:-1]]
    texts = [p["choices"][0]["text"] for p in payloads if p["choices"]]
    assert texts == [" tok" * 3, " tok" * 3, " tok"]
    assert payloads[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    [entry] = srv.record()["requests"]
    assert len(entry["token_ns"]) == 7 and len(entry["chunk_ns"]) == 3 and entry["status"] == "ok"
    assert entry["arrival_ns"] < entry["chunk_ns"][0] <= entry["chunk_ns"][-1] == entry["end_ns"]


def test_a_slow_first_token_sends_an_empty_event_first(serve):
    srv = serve(first_token_ms=40.0)
    _, _, data = post(srv, {"prompt": "a b c", "max_tokens": 2, "stream": True})
    first = json.loads(events(data)[0])
    assert first["choices"][0]["text"] == ""
    entry = srv.record()["requests"][0]
    assert entry["prompt_tokens"] == 3  # three words
    assert (entry["chunk_ns"][0] - entry["arrival_ns"]) / 1e6 >= 40.0


def test_without_streaming_one_json_body_with_usage(serve):
    srv = serve()
    status, kind, data = post(srv, {"prompt": [1, 2], "max_tokens": 4})
    body = json.loads(data)
    assert (status, kind) == (200, "application/json")
    assert body["choices"][0]["text"] == " tok" * 4 and body["usage"]["completion_tokens"] == 4
    entry = srv.record()["requests"][0]
    assert entry["chunk_ns"] == [] and entry["end_ns"] >= entry["token_ns"][-1]


def test_prefill_grows_with_the_prompt(serve):
    srv = serve(prefill_ms_base=5.0, prefill_ms_per_token=0.05)
    post(srv, {"prompt": [1] * 8, "max_tokens": 1, "stream": True})
    post(srv, {"prompt": [1] * 2000, "max_tokens": 1, "stream": True})
    short, long = ((r["chunk_ns"][0] - r["arrival_ns"]) / 1e6 for r in srv.record()["requests"])
    assert long - short >= 0.8 * 0.05 * 1992


def test_a_full_batch_makes_the_next_request_queue(serve):
    srv = serve(max_batch=1, decode_ms_base=5.0)
    threads = [
        threading.Thread(target=post, args=(srv, {"prompt": [1], "max_tokens": 10, "stream": True})) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.005)
    for thread in threads:
        thread.join()
    first, second = srv.record()["requests"]
    assert second["chunk_ns"][0] > first["end_ns"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "not JSON"),
        ({"prompt": [1], "max_tokens": 0}, 400, "max_tokens must be an integer from 1 to 512"),
        ({"prompt": {"a": 1}, "max_tokens": 2}, 400, "prompt must be a string or a list of token ids"),
        ({"prompt": "", "max_tokens": 2}, 400, "the prompt must have 1 to 8192 tokens"),
    ],
)
def test_bad_requests_are_refused_by_name_and_recorded(serve, body, status, words):
    srv = serve()
    got, _, data = post(srv, body, raw=isinstance(body, bytes))
    assert got == status and words in json.loads(data)["error"]["message"]
    assert srv.record()["requests"] == [] and words in srv.record()["refused"][0]["reason"]


def test_requests_past_the_cap_are_refused(serve):
    srv = serve(max_requests=2)
    statuses = [post(srv, {"prompt": [1], "max_tokens": 1})[0] for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_an_unknown_behaviour_is_a_programming_error():
    with pytest.raises(KeyError, match="unknown server behaviour 'warp'"):
        reference.behaviour({"warp": 9})

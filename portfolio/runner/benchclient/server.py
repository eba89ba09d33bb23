"""The reference server (trusted code): an OpenAI-compatible `/v1/completions` endpoint whose
latency comes from a seeded model of an inference engine, and which records, on its own side,
when each request arrived, when each token left and when the response ended.

Standard library only (asyncio), so a case's server starts in milliseconds. It runs in a thread
of the trusted harness process (harness_client.py) on 127.0.0.1 inside the job's sandbox, whose
network namespace has nothing but loopback; the record stays in that process's memory.

The engine model, per scheduler step (iteration-level batching, as vLLM does):

* waiting requests join the running batch while it has fewer than `max_batch` requests; the
  others queue, first come first served;
* a step lasts decode_ms_base + decode_ms_per_seq x (requests in the batch), plus, for each
  request joining, prefill_ms_base + prefill_ms_per_token x its prompt tokens (and the extra
  delays below); every request of the batch gets one token at the step's end, a newcomer its
  first;
* optional behaviours, all drawn from `seed`: `jitter` (each step's length times 1 +/- up to
  jitter), `stall_every`/`stall_ms` (every n-th step lasts stall_ms longer), `chunk_tokens` (a
  stream event carries that many tokens), `first_token_ms` (extra time before a request's first
  token, while an empty event goes out at once, as engines send the role chunk), and
  `cold_requests`/`cold_ms` (the first requests the server sees are slower: a cold start).

Tokens: a prompt is a list of token ids or a string of whitespace-separated words, one token per
word. Every request generates exactly `max_tokens` tokens (as with vLLM's ignore_eos), each
spelled " tok" in the text.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "max_batch": 8,
    "prefill_ms_base": 15.0,
    "prefill_ms_per_token": 0.05,
    "decode_ms_base": 6.0,
    "decode_ms_per_seq": 0.5,
    "jitter": 0.0,
    "stall_every": 0,
    "stall_ms": 0.0,
    "chunk_tokens": 1,
    "first_token_ms": 0.0,
    "cold_requests": 0,
    "cold_ms": 0.0,
    "seed": 0,
    "max_requests": 200,
    "max_tokens": 512,
    "max_prompt_tokens": 8192,
}
MODEL_NAME = "layerwise-reference"
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
READ_TIMEOUT_S = 10.0
PROBE_EVERY_S = 0.005
PROBE_SAMPLES = 20_000


def behaviour(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults with a case's settings over them; unknown keys are a programming error."""
    out = dict(DEFAULT_BEHAVIOUR)
    for key, value in (overrides or {}).items():
        if key not in out:
            raise KeyError(f"unknown server behaviour {key!r}")
        out[key] = value
    return out


@dataclass
class _Request:
    rid: str
    seq: int
    arrival_ns: int
    prompt_tokens: int
    max_tokens: int
    stream: bool
    cold: bool
    events: asyncio.Queue[int] = field(default_factory=asyncio.Queue)
    generated: int = 0
    pending: int = 0
    first_sent: bool = False
    token_ns: list[int] = field(default_factory=list)
    chunk_ns: list[int] = field(default_factory=list)
    end_ns: int | None = None
    chunks: int = 0
    status: str = "running"

    def entry(self) -> dict[str, Any]:
        return {
            "id": self.rid,
            "seq": self.seq,
            "arrival_ns": self.arrival_ns,
            "prompt_tokens": self.prompt_tokens,
            "max_tokens": self.max_tokens,
            "stream": self.stream,
            "token_ns": list(self.token_ns),
            "chunk_ns": list(self.chunk_ns),
            "end_ns": self.end_ns,
            "chunks": self.chunks,
            "status": self.status,
        }


class ReferenceServer:
    """One case's server: `start()` in a thread, `url`, then `stop()` and `record()`."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = behaviour(settings)
        self.rng = random.Random(int(self.settings["seed"]))
        self.requests: list[_Request] = []
        self.refused: list[dict[str, Any]] = []
        self.waiting: list[_Request] = []
        self.running: list[_Request] = []
        self.steps = 0
        self.loop_lag_ms: list[float] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._wake: asyncio.Event | None = None
        self._server: asyncio.base_events.Server | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="reference-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the reference server did not start")

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def record(self) -> dict[str, Any]:
        """The server-side truth: every request it accepted, in arrival order, and what it refused."""
        return {
            "requests": [r.entry() for r in self.requests],
            "refused": list(self.refused),
            "steps": self.steps,
            "loop_lag_ms": list(self.loop_lag_ms),
            "settings": dict(self.settings),
        }

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._wake = asyncio.Event()
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEADER_BYTES, backlog=256)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        engine = loop.create_task(self._engine())
        probe = loop.create_task(self._probe())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            engine.cancel()
            probe.cancel()
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _probe(self) -> None:
        """How late a 5 ms sleep wakes up, every 5 ms while the case runs: how much the machine
        delays a waiting thread right now, which the grader allows for (grade.allowance_s)."""
        while len(self.loop_lag_ms) < PROBE_SAMPLES:
            before = time.perf_counter()
            await asyncio.sleep(PROBE_EVERY_S)
            self.loop_lag_ms.append(round((time.perf_counter() - before - PROBE_EVERY_S) * 1000, 3))

    # -- the engine --------------------------------------------------------------------------

    async def _engine(self) -> None:
        s = self.settings
        assert self._wake is not None
        while True:
            if not self.waiting and not self.running:
                self._wake.clear()
                await self._wake.wait()
            joining = []
            while self.waiting and len(self.running) < int(s["max_batch"]):
                joining.append(self.waiting.pop(0))
            self.running.extend(joining)
            step_ms = float(s["decode_ms_base"]) + float(s["decode_ms_per_seq"]) * len(self.running)
            for r in joining:
                step_ms += float(s["prefill_ms_base"]) + float(s["prefill_ms_per_token"]) * r.prompt_tokens
                step_ms += float(s["first_token_ms"]) + (float(s["cold_ms"]) if r.cold else 0.0)
            if s["jitter"]:
                step_ms *= 1.0 + float(s["jitter"]) * self.rng.uniform(-1.0, 1.0)
            self.steps += 1
            if s["stall_every"] and self.steps % int(s["stall_every"]) == 0:
                step_ms += float(s["stall_ms"])
            await asyncio.sleep(max(step_ms, 0.0) / 1000.0)
            chunk = max(1, int(s["chunk_tokens"]))
            for r in list(self.running):
                if r.status != "running":
                    self.running.remove(r)
                    continue
                r.generated += 1
                r.pending += 1
                done = r.generated >= r.max_tokens
                if done or r.pending >= chunk:
                    r.events.put_nowait(r.pending)
                    r.pending = 0
                if done:
                    self.running.remove(r)

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._exchange(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - a dead socket must not take the server down
                pass

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0]
        headers = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            await _reply(writer, 413, {"error": {"message": "request body too large"}})
            return
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S) if length else b""
        arrival = time.monotonic_ns()
        if method == "GET" and path in ("/health", "/ping"):
            await _reply(writer, 200, {"status": "ok"})
        elif method == "GET" and path == "/v1/models":
            await _reply(writer, 200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        elif method == "POST" and path == "/v1/completions":
            await self._completion(writer, body, arrival)
        else:
            await _reply(writer, 404, {"error": {"message": f"no route {method} {path}"}})

    def _refuse(self, arrival: int, reason: str) -> dict[str, Any]:
        self.refused.append({"arrival_ns": arrival, "reason": reason})
        return {"error": {"message": reason, "type": "invalid_request_error"}}

    async def _completion(self, writer: asyncio.StreamWriter, body: bytes, arrival: int) -> None:
        s = self.settings
        try:
            data = json.loads(body or b"null")
        except ValueError:
            await _reply(writer, 400, self._refuse(arrival, "the body is not JSON"))
            return
        if not isinstance(data, dict):
            await _reply(writer, 400, self._refuse(arrival, "the body must be a JSON object"))
            return
        prompt = data.get("prompt")
        if isinstance(prompt, str):
            prompt_tokens = len(prompt.split())
        elif isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            prompt_tokens = len(prompt)
        else:
            await _reply(writer, 400, self._refuse(arrival, "prompt must be a string or a list of token ids"))
            return
        max_tokens = data.get("max_tokens", 16)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= s["max_tokens"]:
            await _reply(
                writer, 400, self._refuse(arrival, f"max_tokens must be an integer from 1 to {s['max_tokens']}")
            )
            return
        if not 1 <= prompt_tokens <= s["max_prompt_tokens"]:
            await _reply(
                writer, 400, self._refuse(arrival, f"the prompt must have 1 to {s['max_prompt_tokens']} tokens")
            )
            return
        if len(self.requests) >= int(s["max_requests"]):
            await _reply(writer, 429, self._refuse(arrival, f"this case allows at most {s['max_requests']} requests"))
            return
        stream = bool(data.get("stream"))
        usage_wanted = isinstance(data.get("stream_options"), dict) and bool(
            data["stream_options"].get("include_usage")
        )
        seq = len(self.requests)
        request = _Request(
            rid=f"cmpl-{seq:05d}",
            seq=seq,
            arrival_ns=arrival,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            stream=stream,
            cold=seq < int(s["cold_requests"]),
        )
        self.requests.append(request)
        self.waiting.append(request)
        assert self._wake is not None
        self._wake.set()
        try:
            if stream:
                await self._stream(writer, request, usage_wanted)
            else:
                await self._whole(writer, request)
        except (ConnectionError, OSError):
            request.status = "disconnected"
            raise
        finally:
            if request.status == "running":
                request.status = "disconnected"

    def _base(self, request: _Request) -> dict[str, Any]:
        return {"id": request.rid, "object": "text_completion", "created": 0, "model": MODEL_NAME}

    def _usage(self, request: _Request) -> dict[str, int]:
        return {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": request.generated,
            "total_tokens": request.prompt_tokens + request.generated,
        }

    async def _stream(self, writer: asyncio.StreamWriter, request: _Request, usage_wanted: bool) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Connection: close\r\n\r\n"
        )
        if self.settings["first_token_ms"]:
            # As engines send a first event with the role and no text before any token exists.
            writer.write(_event({**self._base(request), "choices": [{"index": 0, "text": "", "finish_reason": None}]}))
        await writer.drain()
        sent = 0
        while sent < request.max_tokens:
            n = await request.events.get()
            sent += n
            finish = "length" if sent >= request.max_tokens else None
            payload = {**self._base(request), "choices": [{"index": 0, "text": " tok" * n, "finish_reason": finish}]}
            now = time.monotonic_ns()
            writer.write(_event(payload))
            request.token_ns.extend([now] * n)
            request.chunk_ns.append(now)
            request.chunks += 1
            await writer.drain()
        request.end_ns = request.token_ns[-1]
        request.status = "ok"
        if usage_wanted:
            writer.write(_event({**self._base(request), "choices": [], "usage": self._usage(request)}))
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()

    async def _whole(self, writer: asyncio.StreamWriter, request: _Request) -> None:
        sent = 0
        while sent < request.max_tokens:
            n = await request.events.get()
            sent += n
            request.token_ns.extend([time.monotonic_ns()] * n)
        payload = {
            **self._base(request),
            "choices": [{"index": 0, "text": " tok" * sent, "finish_reason": "length"}],
            "usage": self._usage(request),
        }
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        request.end_ns = time.monotonic_ns()
        writer.write(head + body)
        request.chunks = 1
        request.status = "ok"
        await writer.drain()


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _reply(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests"}
    body = json.dumps(payload).encode()
    writer.write(
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


def loopback_rtt_s(port: int, samples: int = 15) -> list[float]:
    """Round trips of a tiny GET /health over a fresh connection, as a client's request makes one:
    the delay the grader allows for between what the client and the server each saw."""
    import socket

    out = []
    for _ in range(samples):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        out.append(time.perf_counter() - started)
    return out

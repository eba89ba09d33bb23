"""bench_client.py with one typical mistake: output tokens are counted as the stream events that carry text, not taken from usage.

Otherwise the reference client (portfolio/runner/benchclient/reference_client.py).

A complete, correct example of the artifact 07 client contract, standard library only. It works
against the Layerwise reference server and against vLLM, SGLang or TGI serving a model.

run(base_url, workload) sends the workload's warm-up requests one after another and forgets
them, then its measured requests: as an open loop (each request leaves at its own scheduled
time, whatever is still in flight) or a closed loop (`concurrency` requests in flight, the next
one leaves when one finishes). Each request's times come from time.perf_counter().
"""

from __future__ import annotations

import http.client
import json
import math
import queue
import threading
import time
from urllib.parse import urlsplit


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy.percentile's default)."""
    if not values:
        return None
    ordered = sorted(values)
    index = (len(ordered) - 1) * p / 100
    low = math.floor(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def stats(values):
    if not values:
        return None
    return {
        "mean": math.fsum(values) / len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
    }


def one_request(base_url, model, prompt_tokens, output_tokens, stream, timeout=60.0):
    """Send one completion; return its times (perf_counter seconds), its id and its token count."""
    url = urlsplit(base_url)
    body = {
        "model": model,
        "prompt": [1] * prompt_tokens,  # token ids: the prompt length is exact on any server
        "max_tokens": output_tokens,
        "ignore_eos": True,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    record = {"id": None, "first_token_s": None, "chunk_times_s": [], "output_tokens": 0, "error": None}
    record["sent_s"] = time.perf_counter()
    try:
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()  # headers only: no token has arrived yet
        if response.status != 200:
            record["error"] = f"HTTP {response.status}: {response.read()[:200]!r}"
        elif stream:
            while True:
                line = response.readline()
                if not line:
                    break
                now = time.perf_counter()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                event = json.loads(data)
                record["id"] = record["id"] or event.get("id")
                if any(choice.get("text") for choice in event.get("choices") or []):
                    # An event that carries text: the first one is the first token; an event
                    # with no text (the role chunk) is not.
                    if record["first_token_s"] is None:
                        record["first_token_s"] = now
                    record["chunk_times_s"].append(now)
                    record["output_tokens"] += 1
                    record["end_s"] = now
        else:
            event = json.loads(response.read())
            record["end_s"] = time.perf_counter()
            record["id"] = event.get("id")
            record["output_tokens"] = event["usage"]["completion_tokens"]
    except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if record["error"] is None and "end_s" not in record:
        record["error"] = "the response ended without a token"
    record.setdefault("end_s", time.perf_counter())
    return record


def summarize(records, slo, stream):
    done = [r for r in records if not r["error"]]
    ttft = [(r["first_token_s"] - r["sent_s"]) * 1000 for r in done if r["first_token_s"] is not None]
    e2e = [(r["end_s"] - r["sent_s"]) * 1000 for r in done]
    tpot = [
        (r["end_s"] - r["first_token_s"]) * 1000 / (r["output_tokens"] - 1)
        for r in done
        if r["first_token_s"] is not None and r["output_tokens"] > 1
    ]
    itl = [(b - a) * 1000 for r in done for a, b in zip(r["chunk_times_s"], r["chunk_times_s"][1:], strict=False)]
    duration = max(r["end_s"] for r in records) - min(r["sent_s"] for r in records)
    good = None
    if slo:
        good = 0
        for r in done:
            ok = True
            if "ttft_ms" in slo and stream and (r["first_token_s"] - r["sent_s"]) * 1000 > slo["ttft_ms"]:
                ok = False
            if "e2e_ms" in slo and (r["end_s"] - r["sent_s"]) * 1000 > slo["e2e_ms"]:
                ok = False
            tpot_ms = (r["end_s"] - r["first_token_s"]) * 1000 / max(r["output_tokens"] - 1, 1) if stream else 0.0
            if "tpot_ms" in slo and r["output_tokens"] > 1 and tpot_ms > slo["tpot_ms"]:
                ok = False
            good += ok
    return {
        "completed": len(done),
        "failed": len(records) - len(done),
        "duration_s": duration,
        "ttft_ms": stats(ttft),
        "tpot_ms": stats(tpot),
        "itl_ms": stats(itl),
        "e2e_ms": stats(e2e),
        "output_tokens_per_s": sum(r["output_tokens"] for r in done) / duration,
        "requests_per_s": len(done) / duration,
        "goodput_rps": None if good is None else good / duration,
    }


def run(base_url, workload):
    model, stream = workload["model"], workload["stream"]

    for warm in workload["warmup"]:
        one_request(base_url, model, warm["prompt_tokens"], warm["output_tokens"], stream)

    plan = workload["requests"]
    records = [None] * len(plan)

    def send(index, scheduled):
        item = plan[index]
        record = one_request(base_url, model, item["prompt_tokens"], item["output_tokens"], stream)
        record.update(index=index, scheduled_s=scheduled)
        records[index] = record

    if workload["arrival"]["kind"] == "closed":
        todo = queue.Queue()
        for index in range(len(plan)):
            todo.put(index)

        def worker():
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                send(index, None)

        threads = [threading.Thread(target=worker) for _ in range(workload["concurrency"])]
        for thread in threads:
            thread.start()
    else:
        threads = []
        start = time.perf_counter()
        for index, item in enumerate(plan):
            scheduled = start + item["arrival_s"]
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=send, args=(index, scheduled))
            thread.start()
            threads.append(thread)
    for thread in threads:
        thread.join()
    return {"requests": records, "summary": summarize(records, workload.get("slo"), stream)}

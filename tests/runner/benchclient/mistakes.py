"""The typical mistakes of a benchmark client, each written as the few edits it makes to the
grader's reference client (portfolio/runner/benchclient/reference_client.py): a submission is the
reference with one mistake in it, so a change to the reference carries into every mistake, and an
edit that no longer finds its place fails the test instead of grading a stale copy."""

from __future__ import annotations

# name -> [(text of the reference, what the mistaken client has there)], applied in order.
EDITS: dict[str, list[tuple[str, str]]] = {
    "chunks_as_tokens": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: output tokens are counted as the stream events that carry text, not taken from usage.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            '                record["id"] = record["id"] or event.get("id")\n                if event.get("usage"):\n                    record["output_tokens"] = event["usage"]["completion_tokens"]\n',
            '                record["id"] = record["id"] or event.get("id")\n',
        ),
        (
            '                    record["chunk_times_s"].append(now)\n',
            '                    record["chunk_times_s"].append(now)\n                    record["output_tokens"] += 1\n',
        ),
    ],
    "closed_loop_rate": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: a rate workload is run one request at a time, each sent when the previous one has finished.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            "                time.sleep(delay)\n            thread = threading.Thread(target=send, args=(index, scheduled))\n            thread.start()\n            threads.append(thread)\n",
            "                time.sleep(delay)\n            send(index, scheduled)\n",
        ),
    ],
    "mean_as_percentile": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: every "percentile" is the mean.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            '        "mean": math.fsum(values) / len(values),\n        "p50": percentile(values, 50),\n        "p95": percentile(values, 95),\n        "p99": percentile(values, 99),\n',
            '        "mean": math.fsum(values) / len(values),\n        "p50": math.fsum(values) / len(values),\n        "p95": math.fsum(values) / len(values),\n        "p99": math.fsum(values) / len(values),\n',
        ),
    ],
    "tpot_with_first_token": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: TPOT divides the whole E2E by every output token, so the first token\'s wait is spread over the others.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            '    tpot = [\n        (r["end_s"] - r["first_token_s"]) * 1000 / (r["output_tokens"] - 1)\n',
            '    tpot = [\n        (r["end_s"] - r["sent_s"]) * 1000 / r["output_tokens"]\n',
        ),
    ],
    "ttft_first_byte": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: TTFT is taken when the response headers arrive, before any token exists.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            '        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})\n        response = conn.getresponse()  # headers only: no token has arrived yet\n',
            '        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})\n        response = conn.getresponse()\n        if stream:\n            record["first_token_s"] = time.perf_counter()\n',
        ),
    ],
    "warmups_counted": [
        (
            '"""bench_client.py: a benchmark client for an OpenAI-compatible /v1/completions server.\n',
            '"""bench_client.py with one typical mistake: the warm-up requests are recorded and summarised with the measured ones.\n',
        ),
        (
            "\nThe grader's reference client: a complete, correct implementation of the artifact 07 client\ncontract, standard library only, that the tests hold every case against (it is not published on\nthe spec page; the skeleton is). It works against the Layerwise reference server and against\nvLLM, SGLang or TGI serving a model.\n",
            "\nOtherwise the reference client (portfolio/runner/benchclient/reference_client.py).\n\nA complete, correct example of the artifact 07 client contract, standard library only. It works\nagainst the Layerwise reference server and against vLLM, SGLang or TGI serving a model.\n",
        ),
        (
            '\n    for warm in workload["warmup"]:\n        one_request(base_url, model, warm["prompt_tokens"], warm["output_tokens"], stream)\n\n    plan = workload["requests"]\n',
            '\n    plan = [dict(w, arrival_s=0.0) for w in workload["warmup"]] + workload["requests"]\n',
        ),
    ],
}


def mistaken(reference: str, name: str) -> str:
    """The reference client's source with the mistake `name` made in it."""
    source = reference
    for old, new in EDITS[name]:
        assert source.count(old) == 1, f"{name}: the reference no longer has exactly one {old!r}"
        source = source.replace(old, new)
    return source

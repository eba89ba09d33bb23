"""`layerwise`: submit artifacts and follow their runs, list what you made, mark progress and ask
for a gate's sign-off, from a terminal or a CI job.

Exit codes: 0 done (a run passed), 1 the grader failed the run, 2 anything else went wrong (usage,
configuration, connection, a refused token or request, a run that ended in an error on our side).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from layerwise import __version__, config
from layerwise.client import ApiError, Client
from layerwise.output import colour, is_tty, print_json, status_colour, table

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
ACTIVE = ("queued", "running")
FAILED_BY_GRADER = ("failed", "timed_out")  # the submission's fault; error, lost, cancelled are ours


class UsageError(Exception):
    pass


def _client() -> Client:
    cfg = config.load()
    return Client(cfg.url, cfg.token)


def _err(message: str) -> None:
    print(f"layerwise: {message}", file=sys.stderr)


def _run_exit(run: dict[str, Any]) -> int:
    if run["status"] == "succeeded":
        return EXIT_OK
    if run["status"] in FAILED_BY_GRADER:
        return EXIT_FAILED
    if run["status"] in ACTIVE:
        return EXIT_OK
    return EXIT_ERROR


# --- rendering -----------------------------------------------------------------------------------


def _verdict_line(run: dict[str, Any]) -> str:
    score = ""
    if run.get("score") is not None:
        top = run.get("max_score")
        score = f", score {run['score']:g}" + (f" of {top:g}" if top is not None else "")
    verdict = run.get("verdict") or run["status"]
    word = colour(verdict, status_colour("passed" if run["status"] == "succeeded" else run["status"]))
    return f"Run {run['id']}: {run['status']} ({word}{score}) {run.get('message', '')}".rstrip()


def _case_table(tests: Sequence[dict[str, Any]]) -> str:
    rows = [
        (
            t.get("name"),
            t.get("status"),
            t.get("visibility", "visible"),
            t.get("expected") if t.get("visibility") != "hidden" else "hidden",
            t.get("observed") if t.get("visibility") != "hidden" else "hidden",
            t.get("rel_error"),
            t.get("message") or "",
        )
        for t in tests
    ]
    return table(
        ["case", "status", "visibility", "expected", "observed", "rel error", "message"], rows, colour_column=1
    )


def _print_run(run: dict[str, Any]) -> None:
    print(_verdict_line(run))
    print(
        f"  artifact {run['artifact']} version {run['version']}  sha256 {run['sha256'][:12]}  grader "
        f"{run['grader']} {run['grader_version']}  sandboxed {run.get('sandboxed')}"
    )
    print(f"  {run['url']}")
    tests = run.get("tests") or []
    if tests:
        passed = sum(1 for t in tests if t.get("status") == "passed")
        print(f"\n{passed} of {len(tests)} cases passed\n")
        print(_case_table(tests))
    elif run["status"] not in ACTIVE and run.get("log_tail"):
        print("\nlog tail:\n" + run["log_tail"])


# --- commands ------------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("LAYERWISE_URL") or input("Server URL: ")
    url = config.normalise_url(url)
    token = args.token or os.environ.get("LAYERWISE_TOKEN")
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    if not token:
        token = getpass.getpass("API token (from your profile page): ").strip()
    if not token:
        raise UsageError("no token given")
    with Client(url, token) as client:
        me = client.get("/me")  # a wrong token stops here, before anything is written
    path = config.save(url, token)
    if args.json:
        print_json({"url": url, "username": me["username"], "config": str(path)})
    else:
        print(f"Logged in to {url} as {me['username']}; saved to {path} (readable by you only).")
    return EXIT_OK


def cmd_logout(args: argparse.Namespace) -> int:
    removed = config.forget()
    if args.json:
        print_json({"removed": removed, "config": str(config.config_path())})
    else:
        print(f"Removed {config.config_path()}." if removed else "Nothing to remove.")
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace) -> int:
    cfg = config.load()
    with Client(cfg.url, cfg.token) as client:
        me = client.get("/me")
    if args.json:
        print_json({**me, "url": cfg.url, "config_source": cfg.source})
    else:
        teams = ", ".join(f"{t['team']} ({t['role']})" for t in me["teams"]) or "no teams"
        print(f"{me['username']} on {cfg.url} ({teams}); token from {cfg.source}")
    return EXIT_OK


def _find_or_create_artifact(client: Client, spec: str, roadmap: str | None) -> tuple[dict[str, Any], bool]:
    """Your newest artifact for the spec, or a new one."""
    try:
        for artifact in client.pages("/artifacts", spec=spec, roadmap=roadmap):
            if artifact.get("spec") == spec and (roadmap is None or artifact.get("roadmap") == roadmap):
                return artifact, False
    except ApiError as exc:
        if exc.status not in (404, 405):  # a server without the list endpoint: create one
            raise
    payload = {"spec": spec, **({"roadmap": roadmap} if roadmap else {})}
    return client.post("/artifacts", json=payload), True


def _follow(client: Client, run_id: int, *, timeout: float, interval: float, quiet: bool) -> dict[str, Any]:
    """Poll the run until it ends, showing each new status and stage on stderr (one rewritten line
    on a terminal, one line per change otherwise)."""
    started = time.monotonic()
    last = None
    tty = is_tty(sys.stderr)
    while True:
        run = client.get(f"/runs/{run_id}")
        elapsed = time.monotonic() - started
        now = (run["status"], run.get("stage") or "", run.get("attempt"))
        if not quiet and (now != last or tty):
            attempt = f" attempt {run['attempt']}" if run.get("attempt", 0) > 1 else ""
            line = f"run {run_id}: {run['status']}{attempt} - {run.get('stage') or 'waiting for a runner'} ({elapsed:.0f} s)"
            if tty:
                sys.stderr.write("\r\033[K" + colour(line, "dim", sys.stderr))
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
            last = now
        if run["status"] not in ACTIVE:
            if tty and not quiet:
                sys.stderr.write("\n")
            return run
        if elapsed > timeout:
            if tty and not quiet:
                sys.stderr.write("\n")
            raise ApiError(f"run {run_id} still {run['status']} after {timeout:.0f} s; see {run['url']}")
        time.sleep(interval)


def cmd_submit(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    with _client() as client:
        created = False
        if args.artifact is not None:
            artifact = _artifact(client, args.artifact)
        else:
            artifact, created = _find_or_create_artifact(client, args.spec, args.roadmap)
        with path.open("rb") as fh:
            version = client.post(
                f"/artifacts/{artifact['id']}/versions",
                files={"file": (path.name, fh, "application/octet-stream")},
                data={"notes": args.notes} if args.notes else None,
            )
        result: dict[str, Any] = {"artifact": artifact, "artifact_created": created, "version": version, "run": None}
        if not args.json:
            made = "created" if created else "using"
            print(
                f"{made} artifact {artifact['id']}; uploaded {path.name} as version {version['number']} "
                f"(sha256 {version['sha256'][:12]})",
                file=sys.stderr,
            )
        if version.get("run") is None:
            reason = version.get("run_refused") or "no run was started"
            if args.json:
                print_json(result | {"error": reason})
            _err(f"no run started: {reason}")
            return EXIT_ERROR if args.wait else EXIT_OK
        if not args.wait:
            run = client.get(f"/runs/{version['run']['id']}")
            if args.json:
                print_json(result | {"run": run})
            else:
                print(f"run {run['id']} {run['status']}: {run['url']}")
                print(f"follow it with: layerwise run {run['id']} --wait")
            return EXIT_OK
        run = _follow(client, version["run"]["id"], timeout=args.timeout, interval=args.interval, quiet=False)
    if args.json:
        print_json(result | {"run": run})
    else:
        _print_run(run)
    return _run_exit(run)


def _artifact(client: Client, artifact_id: int) -> dict[str, Any]:
    """The artifact, or just its id on a server without GET /artifacts/{id} (the upload then says
    whether it is yours)."""
    try:
        return client.get(f"/artifacts/{artifact_id}")
    except ApiError as exc:
        if exc.status in (404, 405):
            return {"id": artifact_id}
        raise


def cmd_run(args: argparse.Namespace) -> int:
    with _client() as client:
        if args.wait:
            run = _follow(client, args.id, timeout=args.timeout, interval=args.interval, quiet=False)
        else:
            run = client.get(f"/runs/{args.id}")
    if args.json:
        print_json(run)
    else:
        _print_run(run)
    return _run_exit(run)


def _list(
    args: argparse.Namespace,
    path: str,
    params: dict[str, Any],
    headers: list[str],
    row: Callable[[dict[str, Any]], Sequence[Any]],
    colour_column: int | None = None,
) -> int:
    with _client() as client:
        items = list(client.pages(path, **params))
    if args.json:
        print_json(items)
    elif not items:
        print("(none)")
    else:
        print(table(headers, [row(i) for i in items], colour_column=colour_column))
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    return _list(
        args,
        "/runs",
        {"artifact": args.artifact, "status": args.status, "page_size": args.page_size},
        ["run", "artifact", "version", "status", "verdict", "score", "created"],
        lambda r: (
            r["id"],
            r["artifact"],
            r["version"],
            r["status"],
            r.get("verdict"),
            r.get("score"),
            str(r.get("created_at", ""))[:19].replace("T", " "),
        ),
        colour_column=3,
    )


def cmd_artifacts(args: argparse.Namespace) -> int:
    return _list(
        args,
        "/artifacts",
        {"spec": args.spec, "page_size": args.page_size},
        ["artifact", "spec", "title", "created"],
        lambda a: (a["id"], a.get("spec"), a["title"], str(a.get("created_at", ""))[:19].replace("T", " ")),
    )


def cmd_progress(args: argparse.Namespace) -> int:
    with _client() as client:
        progress = client.get("/me/progress", roadmap=args.roadmap)
        roadmaps = []
        for entry in progress["roadmaps"]:
            content = client.get(f"/roadmaps/{entry['roadmap']}")
            status = {t["topic"]: t["status"] for t in entry["topics"] if not t["retired"]}
            layers = []
            for layer in content["layers"]:
                slugs = [t["slug"] for t in layer["topics"]]
                counts = {s: sum(1 for slug in slugs if status.get(slug) == s) for s in ("done", "learning", "skipped")}
                layers.append(
                    {
                        "layer": layer["slug"],
                        "code": layer["code"],
                        "title": layer["title"],
                        "topics": len(slugs),
                        **counts,
                        "complete": bool(slugs) and counts["done"] + counts["skipped"] == len(slugs),
                    }
                )
            roadmaps.append(
                {"roadmap": entry["roadmap"], "title": entry["title"], "summary": entry["summary"], "layers": layers}
            )
    if args.json:
        print_json({"roadmaps": roadmaps})
        return EXIT_OK
    if not roadmaps:
        print("No progress yet: mark a topic with `layerwise mark TOPIC learning`.")
    for r in roadmaps:
        s = r["summary"]
        print(
            colour(r["title"], "bold") + f"  {s['done']} of {s['total']} topics done, {s['learning']} learning, "
            f"{s['skipped']} skipped; {s['layers_complete']} of {s['layers']} layers complete"
        )
        rows = [
            (
                la["code"],
                la["title"],
                f"{la['done']}/{la['topics']}",
                la["learning"],
                la["skipped"],
                "done" if la["complete"] else ("learning" if la["done"] or la["learning"] else "-"),
            )
            for la in r["layers"]
        ]
        print(table(["layer", "title", "done", "learning", "skipped", "state"], rows, colour_column=5))
        print()
    return EXIT_OK


def _roadmap_for(client: Client, given: str | None) -> str:
    if given:
        return given
    slugs = [r["slug"] for r in client.get("/roadmaps")]
    if len(slugs) == 1:
        return slugs[0]
    raise UsageError(f"name the roadmap with --roadmap (one of: {', '.join(slugs) or 'none on this server'})")


def cmd_mark(args: argparse.Namespace) -> int:
    roadmap, _, topic = args.topic.rpartition("/")
    payload: dict[str, Any] = {"status": args.status}
    if args.confidence is not None:
        payload["confidence"] = args.confidence
    with _client() as client:
        roadmap = _roadmap_for(client, roadmap or args.roadmap)
        row = client.put(f"/me/progress/{roadmap}/{topic}", json=payload)
    if args.json:
        print_json(row)
    else:
        conf = f", confidence {row['confidence']}" if row.get("confidence") else ""
        print(
            f"{row['title']} ({row['roadmap']}/{row['topic']}): {colour(row['status'], status_colour(row['status']))}{conf}"
        )
    return EXIT_OK


def cmd_results_upload(args: argparse.Namespace) -> int:
    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{args.file}: no such file") from exc
    except (ValueError, OSError) as exc:
        raise UsageError(f"{args.file}: not a JSON document ({exc})") from exc
    payload: dict[str, Any] = {"document": document, "notes": args.notes}
    if args.version is not None:
        payload["version"] = args.version
    with _client() as client:
        upload = client.post(f"/artifacts/{args.artifact}/results", json=payload)
    if args.json:
        print_json(upload)
    else:
        print(
            f"results {upload['id']} stored ({upload['schema_name']} {upload['schema_version']}, "
            f"sha256 {upload['sha256'][:12]}, self-reported): {upload['url']}"
        )
        recomputed = upload.get("recomputation") or {}
        if recomputed:
            print("recomputation: " + json.dumps(recomputed, sort_keys=True)[:500])
    return EXIT_OK


def _evidence(specs: Sequence[str]) -> list[dict[str, int]]:
    out = []
    for spec in specs:
        artifact, _, version = spec.partition(":")
        try:
            item = {"artifact": int(artifact)}
            if version:
                item["version"] = int(version)
        except ValueError as exc:
            raise UsageError(f"--artifact takes ID or ID:VERSION, not {spec!r}") from exc
        out.append(item)
    return out


def cmd_gate_request(args: argparse.Namespace) -> int:
    explanation = args.explanation or ""
    if args.explanation_file:
        explanation = Path(args.explanation_file).read_text(encoding="utf-8")
    payload = {
        "explanation": explanation,
        "ticks": args.tick or [],
        "evidence": _evidence(args.artifact or []),
        "results": args.results or [],
        "submit": not args.draft,
    }
    with _client() as client:
        roadmap = _roadmap_for(client, args.roadmap)
        gate = client.post(f"/gates/{roadmap}/{args.layer}/requests", json=payload)
    if args.json:
        print_json(gate)
    else:
        print(
            f"gate request {gate['id']} for {gate['roadmap']}/{gate['layer']}: "
            f"{colour(gate['status'], status_colour(gate['status']))}  {gate['url']}"
        )
        for gap in gate["gaps"]:
            print(f"  gap: {gap}")
    return EXIT_OK


def cmd_gate_list(args: argparse.Namespace) -> int:
    return _list(
        args,
        "/gate-requests",
        {"status": args.status, "page_size": args.page_size},
        ["request", "roadmap", "layer", "status", "submitted"],
        lambda g: (
            g["id"],
            g["roadmap"],
            g["layer"],
            g["status"],
            str(g.get("submitted_at") or "")[:19].replace("T", " "),
        ),
        colour_column=3,
    )


# --- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Layerwise from the terminal. Configure with `layerwise login` or LAYERWISE_URL and "
        "LAYERWISE_TOKEN. Exit codes: 0 ok or passed, 1 the grader failed the run, 2 any other error.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")

    def page_size(p: argparse.ArgumentParser) -> None:
        p.add_argument("--page-size", type=int, default=100, help="rows per request (1 to 100); every page is read")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str, into: Any = sub
    ) -> argparse.ArgumentParser:
        p = into.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(func=func)
        return p

    p = add("login", cmd_login, "store the server URL and an API token in your config folder (mode 0600)")
    p.add_argument("--url", help="the server, e.g. https://layerwise.example.org")
    p.add_argument("--token", help="the token (prompted for when left out; visible in your shell history)")
    p.add_argument("--token-stdin", action="store_true", help="read the token from standard input")
    add("logout", cmd_logout, "remove the stored URL and token")
    add("whoami", cmd_whoami, "who the token belongs to, and where the configuration came from")

    wait_help = "follow the run until it ends, then print its case table"
    p = add("submit", cmd_submit, "upload FILE as a new version of your artifact for SPEC (created if needed)")
    p.add_argument("spec", help='the artifact spec code, e.g. "09"')
    p.add_argument("file")
    p.add_argument("--artifact", type=int, help="upload to this artifact instead of your newest for SPEC")
    p.add_argument("--roadmap", help="the roadmap, when several have SPEC")
    p.add_argument("--notes", default="", help="notes for the version")
    p.add_argument("--wait", action="store_true", help=wait_help)
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait at most (default 900)")
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)

    p = add("run", cmd_run, "a run's status, verdict and case table")
    p.add_argument("id", type=int)
    p.add_argument("--wait", action="store_true", help=wait_help)
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait at most (default 900)")
    p.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)

    p = add("runs", cmd_runs, "your runs, newest first (every page)")
    page_size(p)
    p.add_argument("--artifact", type=int)
    p.add_argument("--status", help="queued, running, succeeded, failed, timed_out, error, cancelled or lost")

    p = add("artifacts", cmd_artifacts, "your artifacts (every page)")
    page_size(p)
    p.add_argument("--spec")

    p = add("progress", cmd_progress, "your progress per layer, as on the dashboard")
    p.add_argument("--roadmap")

    p = add("mark", cmd_mark, "set a topic's status")
    p.add_argument("topic", help="the topic's slug, or ROADMAP/TOPIC")
    p.add_argument("status", choices=["not_started", "learning", "done", "skipped"])
    p.add_argument("--confidence", type=int, choices=range(1, 6), metavar="1-5")
    p.add_argument("--roadmap", help="the roadmap, when the server has several")

    results = add("results", lambda a: _missing(a, "results"), "results documents").add_subparsers(
        dest="results_command", metavar="upload"
    )
    p = add("upload", cmd_results_upload, "upload a results document (JSON, self-reported) to an artifact", results)
    p.add_argument("file")
    p.add_argument("--artifact", type=int, required=True)
    p.add_argument("--version", type=int, help="the artifact version the results are for")
    p.add_argument("--notes", default="")

    gate = add("gate", lambda a: _missing(a, "gate"), "gate requests").add_subparsers(
        dest="gate_command", metavar="{request,list}"
    )
    p = add("request", cmd_gate_request, "ask for sign-off of LAYER's gate, pinning evidence", gate)
    p.add_argument("layer", help="the layer's slug")
    p.add_argument("--roadmap")
    p.add_argument("--artifact", action="append", metavar="ID[:VERSION]", help="evidence (repeatable)")
    p.add_argument("--results", action="append", type=int, metavar="ID", help="a results upload (repeatable)")
    p.add_argument("--tick", action="append", type=int, metavar="N", help="a criterion met, 0-based (repeatable)")
    p.add_argument("--explanation", help="Markdown")
    p.add_argument("--explanation-file")
    p.add_argument("--draft", action="store_true", help="keep it a draft instead of submitting")
    p = add("list", cmd_gate_list, "your gate requests (every page)", gate)
    page_size(p)
    p.add_argument("--status")
    return parser


def _missing(args: argparse.Namespace, name: str) -> int:
    raise UsageError(f"`layerwise {name}` needs a subcommand; see `layerwise {name} --help`")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here
    args.json = getattr(args, "json", False)
    try:
        return int(args.func(args))
    except (ApiError, config.ConfigError, UsageError) as exc:
        if args.json:
            print_json({"error": str(exc), "status": getattr(exc, "status", None)})
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

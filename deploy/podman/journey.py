"""The journey bin/compose-check drives through the stack's published port, as a person and a script
would: the web forms where the API has none (sign-up, tokens, a team; CSRF included), the API for
the rest. The standard library only: it runs on the host's python3.

    journey.py --base URL --project NAME journey      sign up, token, upload, run passes, gate approved
    journey.py --base URL --project NAME survived     after a restart: the same data, over the API
    journey.py --base URL --project NAME runner-kill  a run whose runner is killed is reaped and retried

It talks to the app as the TLS-terminating proxy in front of it would (X-Forwarded-Proto: https),
so the production settings apply unchanged: HTTPS redirects, secure cookies, CSRF origin checks.
The reviewer account is made with `manage.py shell` inside the web container (an operator's way),
then signs in through the login form like anyone else.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CALCULATOR = REPO / "tests" / "runner" / "kv" / "submissions" / "correct.py"
ROADMAP, LAYER, SPEC = "llm-systems-engineering", "kv-cache-long-context", "09"
RUN_TIMEOUT_S = 300
FINISHED = {"succeeded", "failed", "timed_out", "error", "cancelled", "lost"}  # a run's final states


class Failed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """One browser or one script: cookies kept by hand (they are Secure, and the hop is plain HTTP)."""

    def __init__(self, base: str, token: str = "") -> None:
        self.base = base.rstrip("/")
        self.host = urllib.parse.urlsplit(self.base).netloc
        self.cookies: dict[str, str] = {}
        self.token = token
        self.opener = urllib.request.build_opener(NoRedirect)

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "", expect: tuple[int, ...] = ()
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Origin": f"https://{self.host}",
            "Referer": f"https://{self.host}{path}",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as response:
                status, got, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, got, data = error.code, error.headers, error.read()
        for cookie in got.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if expect and status not in expect:
            raise Failed(f"{method} {path}: {status}, expected {expect}: {data[:600]!r}")
        return status, dict(got.items()), data

    def page(self, path: str) -> str:
        return self.request("GET", path, expect=(200,))[2].decode()

    def form(self, path: str, fields: dict[str, str], page: str = "") -> tuple[int, dict[str, str], bytes]:
        """GETs the form's page (for the CSRF cookie and token), then POSTs the fields like a browser."""
        text = self.page(page or path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
        check(match is not None, f"no CSRF token on {page or path}")
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": match.group(1), **fields}).encode()
        return self.request("POST", path, body, "application/x-www-form-urlencoded")

    def api(self, method: str, path: str, payload: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        _, _, data = self.request(method, f"/api/v1{path}", body, "application/json" if body else "", expect)
        return json.loads(data) if data else None

    def upload(self, artifact: int, filename: str, data: bytes) -> dict[str, Any]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: text/x-python\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        _, _, out = self.request(
            "POST",
            f"/api/v1/artifacts/{artifact}/versions",
            body,
            f"multipart/form-data; boundary={boundary}",
            expect=(201,),
        )
        return json.loads(out)


def say(message: str) -> None:
    print(f"   {message}", flush=True)


def sign_up(base: str, username: str, password: str) -> Client:
    client = Client(base)
    status, headers, _ = client.form(
        "/accounts/signup/",
        {"username": username, "email": f"{username}@example.com", "password1": password, "password2": password},
    )
    check(status == 302, f"sign-up answered {status}")
    return client


def log_in(base: str, username: str, password: str) -> Client:
    client = Client(base)
    status, _, body = client.form("/accounts/login/", {"username": username, "password": password})
    check(status == 302, f"login as {username} answered {status}: {body[:300]!r}")
    return client


def new_token(client: Client, name: str) -> str:
    status, _, body = client.form("/accounts/tokens/", {"name": name}, page="/accounts/profile/")
    match = re.search(r'<code class="token" id="new-token">([^<]+)</code>', body.decode())
    check(status == 200 and match is not None, f"no new token shown ({status})")
    return html.unescape(match.group(1))


def manage(project: str, code: str) -> str:
    """`manage.py shell -c` inside the running web container."""
    done = subprocess.run(
        ["podman", "exec", f"{project}_web_1", "python", "manage.py", "shell", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    check(done.returncode == 0, f"manage.py shell failed: {done.stdout}{done.stderr}")
    return done.stdout


def wait_run(api: Client, run_id: int, until: set[str], timeout_s: float = RUN_TIMEOUT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        run = api.api("GET", f"/runs/{run_id}")
        if run["status"] in until:
            return run
        check(time.monotonic() < deadline, f"run {run_id} still {run['status']} after {timeout_s} s: {run}")
        time.sleep(0.25)


def journey(args: argparse.Namespace) -> dict[str, Any]:
    suffix = secrets.token_hex(3)
    learner, reviewer = f"lena{suffix}", f"rico{suffix}"
    password = secrets.token_urlsafe(16)

    web = sign_up(args.base, learner, password)
    check(learner in web.page("/accounts/profile/"), "the profile page does not show the new user")
    say(f"signed up {learner} through the form")
    token = new_token(web, "compose-check")
    api = Client(args.base, token)
    check(api.api("GET", "/me")["username"] == learner, "the token is not the learner's")
    say("API token made on the profile page; /api/v1/me answers with the learner")

    team_name = f"Serving {suffix}"
    status, headers, _ = web.form("/teams/new/", {"name": team_name, "description": "", "visibility": "aggregate"})
    check(status == 302, f"team creation answered {status}")
    team_slug = headers["Location"].rstrip("/").split("/")[-2]
    say(f"team {team_slug} created through the form, {learner} its lead")
    manage(
        args.project,
        "from django.contrib.auth import get_user_model; from accounts.models import Membership, Team; "
        f"u = get_user_model().objects.create_user({reviewer!r}, {reviewer + '@example.com'!r}, {password!r}); "
        f"Membership.objects.create(team=Team.objects.get(slug={team_slug!r}), user=u, role='reviewer')",
    )
    say(f"reviewer {reviewer} made with manage.py shell in the web container, added to the team")

    artifact = api.api("POST", "/artifacts", {"spec": SPEC, "roadmap": ROADMAP}, expect=(201,))
    version = api.upload(artifact["id"], "kv_calculator.py", CALCULATOR.read_bytes())
    check(version["run"] is not None, f"the upload started no run: {version}")
    started = time.monotonic()
    run = wait_run(api, version["run"]["id"], FINISHED)
    check(
        run["status"] == "succeeded" and run["verdict"] == "passed", f"the run did not pass: {json.dumps(run)[:1500]}"
    )
    check(run["sandboxed"] is True, f"the run was not sandboxed: {run['environment']}")
    say(
        f"KV calculator uploaded (sha256 {version['sha256'][:12]}), run {run['id']} passed on the containerised"
        f" runner in {time.monotonic() - started:.1f} s, score {run['score']}/{run['max_score']}, sandboxed"
    )

    gate = api.api(
        "POST",
        f"/gates/{ROADMAP}/{LAYER}/requests",
        {"explanation": "Calculator checked by the grader.", "ticks": [0], "evidence": [{"artifact": artifact["id"]}]},
        expect=(200, 201),
    )
    check(gate["status"] == "submitted", f"gate request not submitted: {gate}")
    reviewing = Client(args.base, new_token(log_in(args.base, reviewer, password), "review"))
    inbox = reviewing.api("GET", "/reviews/pending")
    check([item["id"] for item in inbox] == [gate["id"]], f"the reviewer's inbox: {inbox}")
    decided = reviewing.api(
        "POST",
        f"/gate-requests/{gate['id']}/decision",
        {"decision": "approve", "marks": ["met"] * len(gate["criteria"]), "comment": "Measured and matching."},
    )
    check(decided["request"]["status"] == "approved", f"not approved: {decided}")
    say(f"gate request {gate['id']} submitted over the API, approved by {reviewer} over the API")
    return {
        "learner": learner,
        "token": token,
        "artifact": artifact["id"],
        "run": run["id"],
        "sha256": version["sha256"],
        "gate": gate["id"],
    }


def survived(args: argparse.Namespace, state: dict[str, Any]) -> None:
    api = Client(args.base, state["token"])
    check(api.api("GET", "/me")["username"] == state["learner"], "the learner or the token is gone")
    run = api.api("GET", f"/runs/{state['run']}")
    check(run["verdict"] == "passed" and run["sha256"] == state["sha256"], f"the run changed: {run}")
    gate = api.api("GET", f"/gate-requests/{state['gate']}")
    check(gate["status"] == "approved", f"the gate request changed: {gate}")
    log_in_again = Client(args.base)
    check(log_in_again.request("GET", "/readyz")[0] == 200, "/readyz")
    say("after down/up: the same user and token, the passed run, the approved gate request")


def runner_kill(args: argparse.Namespace, state: dict[str, Any]) -> None:
    api = Client(args.base, state["token"])
    runner = f"{args.project}_runner-cpu_1"
    version = api.upload(state["artifact"], "kv_calculator.py", CALCULATOR.read_bytes())
    run_id = version["run"]["id"]
    run = wait_run(api, run_id, FINISHED | {"running"})
    check(run["status"] == "running" and run["attempt"] == 1, f"run {run_id} was never seen running: {run}")
    subprocess.run(["podman", "kill", runner], check=True, capture_output=True)
    killed = time.monotonic()
    say(f"run {run_id} running (attempt 1, stage {run['stage']!r}): runner container killed")
    deadline = killed + 120
    while True:
        run = api.api("GET", f"/runs/{run_id}")
        if run["attempt"] >= 2:
            break
        check(run["status"] not in FINISHED, f"attempt 1 finished after the kill: {run}")
        check(time.monotonic() < deadline, f"no second attempt 120 s after the kill: {run}")
        time.sleep(1)
    say(f"the reaper called attempt 1 lost and queued attempt 2 after {time.monotonic() - killed:.1f} s")
    subprocess.run(["podman", "start", runner], check=True, capture_output=True)
    run = wait_run(api, run_id, FINISHED)
    check(
        # 2, or 3 where a loaded machine delays heartbeats past the short timeout this check sets
        run["status"] == "succeeded" and run["verdict"] == "passed" and run["attempt"] >= 2,
        f"the retried run: {json.dumps(run)[:1500]}",
    )
    say(f"runner started again: run {run_id} passed on attempt {run['attempt']}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("what", choices=["journey", "survived", "runner-kill"])
    args = parser.parse_args()
    try:
        if args.what == "journey":
            args.state.write_text(json.dumps(journey(args)))
        elif args.what == "survived":
            survived(args, json.loads(args.state.read_text()))
        else:
            runner_kill(args, json.loads(args.state.read_text()))
    except Failed as failure:
        print(f"compose-check: {args.what} failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

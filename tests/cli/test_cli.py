"""The `layerwise` client as a subprocess against the live test server, for everything that needs no
grader: configuration and login, a refused token, usage errors, marking progress and reading it per
layer, uploading a version of a document artifact, and a gate request. The graded submissions, with
the real workers and sandbox, are in test_submit_e2e.py."""

from __future__ import annotations

import copy
import hashlib
import json
import stat
import sys
import tempfile
from pathlib import Path

from django.test import LiveServerTestCase, override_settings

from assessments.models import GateRequest, TopicProgress
from portfolio import results
from portfolio.models import Artifact, ResultUpload
from tests.assessments.gates import FlushableAuditMixin
from tests.cli.support import layerwise, layerwise_on_a_terminal
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate,
    create_layer,
    create_roadmap,
    create_run,
    create_runnable_artifact,
    create_token,
    create_topic,
    create_user,
    create_version,
    finish_run,
)
from tests.portfolio.workers import skip_or_fail


class CliTests(FlushableAuditMixin, LiveServerTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = create_user(username="ada")
        _, self.token = create_token(user=self.user)
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.tmp = Path(folder.name)
        self.config_home = self.tmp / "config"

    def cli(self, *args: str, token: str | None = "", url: str | None = "", **kw: object):  # type: ignore[no-untyped-def]
        return layerwise(
            *args,
            url=self.live_server_url if url == "" else url,
            token=self.token if token == "" else token,
            config_home=self.config_home,
            **kw,  # type: ignore[arg-type]
        )

    def test_a_wrong_token_is_one_clear_line_and_exit_2(self) -> None:
        result = self.cli("whoami", token="lw_not-a-real-token")
        assert result.code == 2, result
        assert result.out == ""
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and "refused the token (401)" in lines[0] and "layerwise login" in lines[0], lines

        as_json = self.cli("runs", "--json", token="lw_not-a-real-token")
        assert as_json.code == 2
        assert as_json.json()["status"] == 401 and "refused the token" in as_json.json()["error"]

    def test_nothing_configured_usage_errors_and_an_unreachable_server_exit_2(self) -> None:
        unset = self.cli("whoami", token=None, url=None)
        assert unset.code == 2 and "layerwise login" in unset.err and "LAYERWISE_TOKEN" in unset.err

        usage = self.cli("mark", "some-topic", "finished")  # not a status
        assert usage.code == 2 and "invalid choice" in usage.err

        missing = self.cli("submit", "09", str(self.tmp / "nope.py"))
        assert missing.code == 2 and "no such file" in missing.err

        unreachable = self.cli("whoami", url="http://127.0.0.1:9")  # the discard port: nobody listens
        assert unreachable.code == 2 and "cannot reach http://127.0.0.1:9" in unreachable.err

    def test_login_stores_url_and_token_readable_by_the_owner_only(self) -> None:
        refused = self.cli(
            "login", "--url", self.live_server_url, "--token-stdin", token=None, url=None, stdin="lw_wrong\n"
        )
        assert refused.code == 2 and "refused the token" in refused.err
        path = self.config_home / "layerwise/config.toml"
        assert not path.exists()  # nothing is written for a token the server refused

        ok = self.cli(
            "login",
            "--url",
            self.live_server_url + "/api/v1/",
            "--token-stdin",
            "--json",
            token=None,
            url=None,
            stdin=self.token + "\n",
        )
        assert ok.code == 0, ok
        assert ok.json() == {"url": self.live_server_url, "username": "ada", "config": str(path)}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert self.token in path.read_text()

        # With no variables set, the stored login is used.
        me = self.cli("whoami", "--json", token=None, url=None)
        assert me.code == 0, me
        assert me.json()["username"] == "ada" and me.json()["config_source"] == str(path)
        text = self.cli("whoami", token=None, url=None)
        assert text.out.startswith("ada on ") and "\x1b[" not in text.out  # no colours off a terminal

        # LAYERWISE_TOKEN wins over the file: a wrong one in CI is not hidden by a good stored one.
        assert self.cli("whoami", token="lw_wrong", url=None).code == 2

        assert self.cli("logout", token=None, url=None).code == 0
        assert not path.exists()

    def test_mark_a_topic_then_read_progress_per_layer(self) -> None:
        roadmap = create_roadmap(slug="systems")
        first = create_layer(roadmap=roadmap, number=1, slug="basics", title="Basics")
        second = create_layer(roadmap=roadmap, number=2, slug="serving", title="Serving")
        topic = create_topic(layer=first, slug="tokens")
        create_topic(layer=first, slug="sampling")
        create_topic(layer=second, slug="batching")

        marked = self.cli("mark", "tokens", "done", "--confidence", "4", "--json")  # the only roadmap
        assert marked.code == 0, marked
        assert marked.json()["status"] == "done" and marked.json()["confidence"] == 4
        row = TopicProgress.objects.get(user=self.user, topic=topic)
        assert (row.status, row.confidence) == ("done", 4)
        assert self.cli("mark", "systems/sampling", "learning").code == 0

        progress = self.cli("progress", "--json")
        assert progress.code == 0, progress
        (entry,) = progress.json()["roadmaps"]
        layers = {layer["layer"]: layer for layer in entry["layers"]}
        assert (layers["basics"]["done"], layers["basics"]["learning"], layers["basics"]["topics"]) == (1, 1, 2)
        assert (layers["serving"]["done"], layers["serving"]["topics"]) == (0, 1)
        assert entry["summary"]["done"] == 1 and entry["summary"]["total"] == 3

        table = self.cli("progress").out
        assert "1 of 3 topics done" in table and "1/2" in table and "Serving" in table

        unknown = self.cli("mark", "systems/nope", "done")
        assert unknown.code == 2 and "nope" in unknown.err

    def test_submit_without_wait_creates_the_artifact_and_uploads_the_file(self) -> None:
        spec = create_artifact_spec(code="42", title="Design note")
        note = self.tmp / "note.md"
        note.write_text("# How the cache grows\n")
        result = self.cli("submit", "42", str(note), "--json")
        assert result.code == 0, result
        body = result.json()
        artifact = Artifact.objects.get(owner=self.user, spec=spec)
        assert body["artifact"]["id"] == artifact.pk and body["artifact_created"] is True
        version = artifact.versions.get()
        assert body["version"]["sha256"] == version.sha256 == hashlib.sha256(note.read_bytes()).hexdigest()
        assert body["run"] is None  # a document is not graded

        # --artifact uploads to the one named; someone else's is a 404, and nothing is stored.
        again = self.cli("submit", "42", str(note), "--artifact", str(artifact.pk))
        assert again.code == 0, again
        assert artifact.versions.count() == 2
        theirs = create_artifact(owner=create_user(), spec=spec)
        refused = self.cli("submit", "42", str(note), "--artifact", str(theirs.pk))
        assert refused.code == 2 and "404" not in refused.out
        assert theirs.versions.count() == 0

    def test_gate_request_pins_an_artifact(self) -> None:
        roadmap = create_roadmap(slug="systems")
        layer = create_layer(roadmap=roadmap, slug="basics")
        create_topic(layer=layer)
        create_gate(layer=layer)
        artifact = create_artifact(owner=self.user)
        note = self.tmp / "note.md"
        note.write_text("evidence")
        assert self.cli("submit", "x", str(note), "--artifact", str(artifact.pk)).code == 0

        result = self.cli(
            "gate",
            "request",
            "basics",
            "--artifact",
            f"{artifact.pk}:1",
            "--tick",
            "0",
            "--explanation",
            "It works.",
            "--json",
        )
        assert result.code == 0, result
        gate = GateRequest.objects.get(learner=self.user)
        assert result.json()["id"] == gate.pk and result.json()["status"] == gate.status == "submitted"
        assert [e.version.number for e in gate.evidence_list()] == [1]

        listed = self.cli("gate", "list", "--json")
        assert [(g["id"], g["status"]) for g in listed.json()] == [(gate.pk, "submitted")]
        assert self.cli("gate", "list", "--status", "draft", "--json").json() == []

        bad = self.cli("gate", "request", "basics", "--artifact", "x:1")
        assert bad.code == 2 and "ID:VERSION" in bad.err

    def test_the_installed_console_script(self) -> None:
        """`make test` installs clients/python into .venv (requirements-dev.txt): its `layerwise`."""
        script = Path(sys.executable).parent / "layerwise"
        if not script.exists():
            skip_or_fail(f"{script} is not installed: pip install -e ./clients/python")
        version = self.cli("--version", program=[str(script)])
        assert version.code == 0 and version.out.startswith("layerwise ")
        me = self.cli("whoami", "--json", program=[str(script)])
        assert me.code == 0 and me.json()["username"] == "ada"

    @override_settings(RUNNER_MAX_QUEUED_PER_USER=10)
    def test_lists_walk_every_page_and_show_mine_only(self) -> None:
        spec = create_artifact_spec(code="07", kind="kv_calculator")
        mine = [create_artifact(owner=self.user, spec=spec) for _ in range(7)]
        runs = [create_run(version=create_version(artifact=mine[i % 2]), by=self.user) for i in range(5)]
        stranger = create_user()
        create_run(version=create_version(artifact=create_artifact(owner=stranger, spec=spec)), by=stranger)

        artifacts = self.cli("artifacts", "--page-size", "3", "--json")  # three pages: 3, 3, 1
        assert artifacts.code == 0, artifacts
        assert sorted(a["id"] for a in artifacts.json()) == sorted(a.pk for a in mine)

        listed = self.cli("runs", "--page-size", "2", "--json")  # 2, 2, 1
        assert listed.code == 0, listed
        assert [r["id"] for r in listed.json()] == [r.pk for r in reversed(runs)]  # newest first
        of_first = self.cli("runs", "--artifact", str(mine[0].pk), "--page-size", "1", "--json").json()
        assert [r["id"] for r in of_first] == [runs[4].pk, runs[2].pk, runs[0].pk]

        table = self.cli("runs", "--page-size", "2").out.splitlines()
        assert table[0].split()[:4] == ["run", "artifact", "version", "status"]
        assert [int(line.split()[0]) for line in table[1:]] == [r.pk for r in reversed(runs)]

        none = self.cli("runs", "--status", "failed")
        assert none.code == 0 and none.out.strip() == "(none)"
        assert self.cli("runs", "--status", "finished").code == 2  # the API names the field

    def test_results_upload_stores_a_valid_document_and_names_what_is_missing(self) -> None:
        artifact = create_artifact(owner=self.user, spec=create_artifact_spec(kind="inference_benchmark"))
        document = results.SCHEMAS["inference-benchmark"].example
        good = self.tmp / "results.json"
        good.write_text(json.dumps(document))
        stored = self.cli("results", "upload", str(good), "--artifact", str(artifact.pk), "--json")
        assert stored.code == 0, stored
        upload = ResultUpload.objects.get(artifact=artifact)
        assert stored.json()["id"] == upload.pk and stored.json()["schema_name"] == "inference-benchmark"

        lacking = copy.deepcopy(document)
        del lacking["workload"]["model"]
        bad = self.tmp / "bad.json"
        bad.write_text(json.dumps(lacking))
        refused = self.cli("results", "upload", str(bad), "--artifact", str(artifact.pk))
        assert refused.code == 2 and "document.workload.model" in refused.err, refused
        assert ResultUpload.objects.filter(artifact=artifact).count() == 1

        (self.tmp / "not.json").write_text("{nope")
        assert "not a JSON document" in self.cli("results", "upload", str(self.tmp / "not.json"), "--artifact", "1").err
        assert self.cli("results").code == 2  # a group without its subcommand

    def test_colours_on_a_terminal_only_and_exit_codes_of_run(self) -> None:
        artifact = create_artifact(owner=self.user, spec=create_artifact_spec(kind="kv_calculator"))
        passed = finish_run(create_run(version=create_version(artifact=artifact)), verdict="passed")
        failed = finish_run(create_run(version=create_version(artifact=artifact)), verdict="failed")

        plain = self.cli("run", str(passed.pk))
        assert plain.code == 0 and plain.out.startswith(f"Run {passed.pk}: succeeded (passed, score 1 of 1)")
        assert "\x1b[" not in plain.out
        assert self.cli("run", str(failed.pk)).code == 1

        shown = layerwise_on_a_terminal(
            "run", str(failed.pk), url=self.live_server_url, token=self.token, config_home=self.config_home
        )
        assert shown.code == 1
        assert "\x1b[31mfailed\x1b[0m" in shown.out  # the verdict in red

        theirs = create_run(version=create_version(artifact=create_runnable_artifact(owner=create_user())))
        hidden = self.cli("run", str(theirs.pk), "--json")  # someone else's run is a 404, exit 2
        assert hidden.code == 2 and hidden.json()["status"] == 404

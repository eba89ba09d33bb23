"""The API's lists and details: yours only (another user's things are absent from lists and 404 on
detail), one pagination for every list (walking `next` visits every row once), and the filters."""

from __future__ import annotations

from typing import Any

from django.test import TestCase, override_settings

from assessments.models import GateStatus
from portfolio.models import Run
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_assessment,
    create_gate,
    create_gate_request,
    create_layer,
    create_note,
    create_run,
    create_team,
    create_token,
    create_topic,
    create_user,
    create_version,
    finish_run,
)
from tests.portfolio.helpers import IsolatedMediaMixin

LISTS = ("artifacts", "runs", "results", "gate-requests", "notes", "self-assessments")


@override_settings(RUNNER_MAX_QUEUED_PER_USER=100, RATE_LIMITS={"run-submissions": "1000/1h"})
class ListTestCase(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = create_user(username="ada")
        self.other = create_user(username="bob")
        self.auth = self.token_for(self.user)

    @staticmethod
    def token_for(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(user=user)[1]}"}

    def get(self, url: str, auth: dict[str, str] | None = None, status: int = 200) -> Any:
        response = self.client.get(url, headers=auth if auth is not None else self.auth)
        assert response.status_code == status, (url, response.status_code, response.content)
        return response.json()

    def walk(self, url: str, page_size: int) -> list[Any]:
        """Every item of a list, following `next` from the first page."""
        seen: list[Any] = []
        body = self.get(f"{url}{'&' if '?' in url else '?'}page_size={page_size}")
        pages = 1
        while True:
            seen += body["items"]
            assert body["page_size"] == page_size and len(body["items"]) <= page_size
            if body["next"] is None:
                break
            assert body["next"].startswith("http://testserver/api/v1/")
            body = self.get(body["next"].removeprefix("http://testserver"))
            pages += 1
            assert body["previous"] is not None and f"page={pages - 1}" in body["previous"]
        assert len(seen) == body["count"]
        return seen

    def everything_of(self, user, *, n: int = 1) -> dict[str, list[int]]:
        """n of each kind of thing for `user`; returns their ids per list."""
        layer = create_layer()
        spec = create_artifact_spec(roadmap=layer.roadmap, kind="kv_calculator", code="09")
        ids: dict[str, list[int]] = {name: [] for name in LISTS}
        for i in range(n):
            artifact = create_artifact(owner=user, spec=spec)
            version = create_version(artifact=artifact)
            run = finish_run(create_run(version=version))
            upload = artifact.add_results(artifact.results_schema.example, version=version)
            gate = create_gate(layer=create_layer(roadmap=layer.roadmap))
            request = create_gate_request(learner=user, gate=gate)
            note = create_note(user=user, topic=create_topic(layer=layer), body=f"note {i}")
            rating = create_assessment(user=user, layer=gate.layer, level=1 + i % 5)
            for name, obj in zip(LISTS, (artifact, run, upload, request, note, rating), strict=True):
                ids[name].append(obj.pk)
        return ids


class PrivacyTests(ListTestCase):
    def test_another_users_things_are_absent_from_every_list(self):
        mine = self.everything_of(self.user)
        theirs = self.everything_of(self.other)
        for name in LISTS:
            body = self.get(f"/api/v1/{name}")
            assert [item["id"] for item in body["items"]] == mine[name], name
            assert body["count"] == 1, name
            assert not {item["id"] for item in body["items"]} & set(theirs[name]), name

    def test_another_users_things_are_404_on_every_detail(self):
        theirs = self.everything_of(self.other)
        artifact = theirs["artifacts"][0]
        for url in (
            f"/api/v1/artifacts/{artifact}",
            f"/api/v1/artifacts/{artifact}/versions",
            f"/api/v1/runs/{theirs['runs'][0]}",
            f"/api/v1/results/{theirs['results'][0]}",
            f"/api/v1/gate-requests/{theirs['gate-requests'][0]}",
        ):
            body = self.get(url, status=404)
            assert body["message"], url
        # and their owner reads them all
        owner = self.token_for(self.other)
        assert self.get(f"/api/v1/artifacts/{artifact}", owner)["id"] == artifact
        assert self.get(f"/api/v1/results/{theirs['results'][0]}", owner)["id"] == theirs["results"][0]

    def test_filters_cannot_reach_another_users_things(self):
        theirs = self.everything_of(self.other)
        assert self.get(f"/api/v1/runs?artifact={theirs['artifacts'][0]}")["items"] == []
        assert self.get(f"/api/v1/results?artifact={theirs['artifacts'][0]}")["items"] == []

    def test_a_reviewer_reads_a_team_learners_artifact_as_the_page_does_but_does_not_list_it(self):
        create_team(members={self.user: "reviewer", self.other: "member"})
        theirs = self.everything_of(self.other)
        artifact = theirs["artifacts"][0]
        assert self.get(f"/api/v1/artifacts/{artifact}")["id"] == artifact
        self.client.force_login(self.user)
        assert self.client.get(f"/artifacts/{artifact}/").status_code == 200
        assert self.get("/api/v1/artifacts")["items"] == []

    def test_lists_need_a_token(self):
        for name in LISTS:
            body = self.get(f"/api/v1/{name}", auth={}, status=401)
            assert "Bearer" in body["message"]


class PaginationTests(ListTestCase):
    def test_walking_next_visits_every_row_once_in_every_list(self):
        mine = self.everything_of(self.user, n=5)
        self.everything_of(self.other, n=1)
        for name in LISTS:
            seen = [item["id"] for item in self.walk(f"/api/v1/{name}", page_size=2)]
            assert len(seen) == len(set(seen)) == 5, name
            assert set(seen) == set(mine[name]), name

    def test_runs_come_newest_first_and_the_first_page_has_no_previous(self):
        mine = self.everything_of(self.user, n=3)
        body = self.get("/api/v1/runs")
        assert [r["id"] for r in body["items"]] == sorted(mine["runs"], reverse=True)
        assert body["previous"] is None and body["next"] is None
        assert body["page"] == 1 and body["page_size"] == 50 and body["count"] == 3

    def test_a_page_past_the_end_is_empty_not_404(self):
        self.everything_of(self.user, n=2)
        body = self.get("/api/v1/artifacts?page=7&page_size=10")
        assert body["items"] == [] and body["count"] == 2 and body["next"] is None
        assert body["previous"] == "http://testserver/api/v1/artifacts?page=1&page_size=10"

    def test_a_page_size_over_the_limit_is_a_422_naming_it(self):
        for name in LISTS:
            body = self.get(f"/api/v1/{name}?page_size=101", status=422)
            assert [e["field"] for e in body["errors"]] == ["page_size"], body
        body = self.get("/api/v1/runs?page=0", status=422)
        assert [e["field"] for e in body["errors"]] == ["page"]
        body = self.get("/api/v1/runs?page=two", status=422)
        assert [e["field"] for e in body["errors"]] == ["page"]

    def test_next_keeps_the_filters(self):
        ids = self.everything_of(self.user, n=3)
        artifact = ids["artifacts"][0]
        version = Run.objects.get(pk=ids["runs"][0]).version
        for _ in range(2):
            finish_run(create_run(version=version))
        body = self.get(f"/api/v1/runs?artifact={artifact}&page_size=1")
        assert f"artifact={artifact}" in body["next"] and body["count"] == 3
        walked = self.walk(f"/api/v1/runs?artifact={artifact}", page_size=1)
        assert {r["artifact"] for r in walked} == {artifact} and len(walked) == 3


class FilterAndShapeTests(ListTestCase):
    def test_artifacts_filter_by_spec_code(self):
        ids = self.everything_of(self.user)
        free = create_artifact(owner=self.user, title="Free notes")
        assert [a["id"] for a in self.get("/api/v1/artifacts?spec=09")["items"]] == ids["artifacts"]
        assert {a["id"] for a in self.get("/api/v1/artifacts")["items"]} == {free.pk, *ids["artifacts"]}
        assert self.get("/api/v1/artifacts?spec=99")["items"] == []

    def test_runs_filter_by_status_and_artifact(self):
        ids = self.everything_of(self.user, n=2)
        queued = create_run(version=Run.objects.get(pk=ids["runs"][1]).version)
        assert [r["id"] for r in self.get("/api/v1/runs?status=queued")["items"]] == [queued.pk]
        assert {r["id"] for r in self.get("/api/v1/runs?status=succeeded")["items"]} == set(ids["runs"])
        by_artifact = self.get(f"/api/v1/runs?artifact={ids['artifacts'][1]}&status=queued")["items"]
        assert [r["id"] for r in by_artifact] == [queued.pk]
        body = self.get("/api/v1/runs?status=bogus", status=422)
        assert body["errors"][0]["field"] == "status"

    def test_results_filter_by_artifact_and_the_detail_matches(self):
        ids = self.everything_of(self.user, n=2)
        items = self.get(f"/api/v1/results?artifact={ids['artifacts'][0]}")["items"]
        assert [r["id"] for r in items] == [ids["results"][0]]
        detail = self.get(f"/api/v1/results/{ids['results'][0]}")
        assert detail == items[0] and detail["schema_name"]

    def test_gate_requests_filter_by_status(self):
        ids = self.everything_of(self.user, n=2)
        assert self.get("/api/v1/gate-requests?status=submitted")["items"] == []
        drafts = self.get("/api/v1/gate-requests?status=draft")["items"]
        assert {r["id"] for r in drafts} == set(ids["gate-requests"])
        assert all(r["status"] == GateStatus.DRAFT for r in drafts)
        detail = self.get(drafts[0]["detail"].removeprefix("http://testserver"))
        assert detail["id"] == drafts[0]["id"]

    def test_an_artifact_detail_has_its_versions_and_newest_run(self):
        ids = self.everything_of(self.user)
        artifact_id = ids["artifacts"][0]
        body = self.get(f"/api/v1/artifacts/{artifact_id}")
        assert body["spec"] == "09" and body["latest_run"]["id"] == ids["runs"][0]
        assert body["latest_run"]["status"] == "succeeded"
        [version] = body["versions"]
        assert version["number"] == 1 and version["run"]["id"] == ids["runs"][0]
        assert version["download_url"].startswith("http://testserver/")
        versions = self.get(f"/api/v1/artifacts/{artifact_id}/versions")
        assert versions["items"] == body["versions"] and versions["count"] == 1

    def test_versions_list_newest_first_and_paginates(self):
        artifact = create_artifact(owner=self.user)
        for i in range(3):
            create_version(artifact=artifact, data=f"print({i})\n".encode())
        walked = self.walk(f"/api/v1/artifacts/{artifact.pk}/versions", page_size=2)
        assert [v["number"] for v in walked] == [3, 2, 1]
        assert all(v["run"] is None for v in walked)

    def test_notes_and_self_assessments_filter_by_roadmap(self):
        self.everything_of(self.user)
        elsewhere = create_layer()
        create_note(user=self.user, topic=create_topic(layer=elsewhere), body="elsewhere")
        create_assessment(user=self.user, layer=elsewhere, level=3)
        notes = self.get(f"/api/v1/notes?roadmap={elsewhere.roadmap.slug}")["items"]
        assert [n["body"] for n in notes] == ["elsewhere"]
        ratings = self.get(f"/api/v1/self-assessments?roadmap={elsewhere.roadmap.slug}")["items"]
        assert [(r["level"], r["current"]) for r in ratings] == [(3, True)]
        create_assessment(user=self.user, layer=elsewhere, level=4)
        ratings = self.get(f"/api/v1/self-assessments?roadmap={elsewhere.roadmap.slug}")["items"]
        assert [(r["level"], r["current"]) for r in ratings] == [(4, True), (3, False)]

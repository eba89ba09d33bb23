from __future__ import annotations

import csv
import io

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.teams import build_matrix
from tests.factories import (
    create_assessment,
    create_gate,
    create_gate_request,
    create_layer,
    create_level,
    create_progress,
    create_roadmap,
    create_team,
    create_topic,
    create_user,
)


def url(name: str, *args: object) -> str:
    return reverse(f"teams:{name}", args=args)


class MatrixFixture(TestCase):
    def setUp(self):
        self.roadmap = create_roadmap(slug="llm", order=1)
        self.l1 = create_layer(roadmap=self.roadmap, number=1, code="1", slug="one", title="Foundations")
        self.l2 = create_layer(roadmap=self.roadmap, number=2, code="2", slug="two", title="Serving")
        self.track = create_layer(roadmap=self.roadmap, number=20, code="A", slug="track-a", kind="advanced_track")
        self.t1 = create_topic(layer=self.l1, title="Tokens")
        self.t2 = create_topic(layer=self.l2, title="Batching")
        self.lead = create_user(username="lena", display_name="Lena")
        self.ada = create_user(username="ada", display_name="Ada")
        self.bo = create_user(username="bo", display_name="=HYPERLINK(1)")
        self.team = create_team(members={self.lead: "lead", self.ada: "member", self.bo: "member"})
        create_assessment(user=self.ada, layer=self.l1, level=3)
        create_assessment(user=self.ada, layer=self.l1, level=4, justification="Later.")  # the newest counts
        create_assessment(user=self.bo, layer=self.l1, level=1)
        create_progress(user=self.ada, topic=self.t1, status="done")
        create_progress(user=self.ada, topic=self.t2, status="done")
        create_progress(user=self.bo, topic=self.t1, status="learning")

    def approve(self, layer, level: int, *learners) -> None:
        """Give the layer a gate counting toward `level` and have the lead approve it for each learner."""
        gate = create_gate(layer=layer, level=create_level(roadmap=self.roadmap, number=level))
        for learner in learners:
            request = create_gate_request(learner=learner, gate=gate, submit=True)
            request.approve(by=self.lead, marks=["met"] * len(request.checklist))


class MatrixTests(MatrixFixture):
    def test_cells_are_coloured_by_verified_level_with_the_self_rating_beside_it(self):
        self.client.force_login(self.lead)

        self.approve(self.l1, 2, self.ada)

        response = self.client.get(url("team-matrix", self.team.slug))

        self.assertContains(
            response, '<td class="cell lv-2"><span class="cv">2</span><span class="cs">self 4</span></td>', html=True
        )
        self.assertContains(
            response, '<td class="cell lv-0"><span class="cv">0</span><span class="cs">self 1</span></td>', html=True
        )
        self.assertContains(
            response, '<td class="cell lv-0"><span class="cv">0</span><span class="cs">self –</span></td>', html=True
        )

    def test_rows_and_columns(self):
        matrix = build_matrix(self.team, self.roadmap, counts=True)

        assert [row.user for row in matrix.rows] == [self.ada, self.bo, self.lead]
        assert matrix.layers == [self.l1, self.l2] and matrix.track_count == 1
        assert [row.done for row in matrix.rows] == [2, 0, 0]
        assert matrix.topic_total == 2

    def test_tracks_are_columns_only_on_request(self):
        self.client.force_login(self.lead)

        hidden = self.client.get(url("team-matrix", self.team.slug))
        shown = self.client.get(url("team-matrix", self.team.slug) + "?tracks=1", headers={"HX-Request": "true"})

        assert self.track not in hidden.context["matrix"].layers
        self.assertContains(hidden, "Show the 1 advanced tracks")
        assert shown.context["matrix"].layers == [self.l1, self.l2, self.track]
        self.assertContains(shown, 'id="matrix"')
        self.assertNotContains(shown, "<html")

    def test_the_summary_row_holds_medians(self):
        self.approve(self.l1, 3, self.ada, self.bo)

        matrix = build_matrix(self.team, self.roadmap)

        first, second = matrix.summary
        assert [cell.verified for cell in (row.cells[0] for row in matrix.rows)] == [3, 3, 0]
        assert (first.verified, first.self_level, first.rated) == (3, 2.5, 2)
        assert (second.verified, second.self_level, second.rated) == (0, None, 0)

    def test_an_unknown_roadmap_goes_back_to_the_default(self):
        self.client.force_login(self.lead)

        response = self.client.get(url("team-matrix", self.team.slug) + "?roadmap=nope")

        self.assertRedirects(response, url("team-matrix", self.team.slug), fetch_redirect_response=False)

    def test_in_an_aggregate_team_a_member_sees_the_medians_and_their_own_row_only(self):
        self.client.force_login(self.ada)

        response = self.client.get(url("team-matrix", self.team.slug))

        assert [row.user for row in response.context["matrix"].shown_rows] == [self.ada]
        self.assertContains(response, "Median of 3")
        self.assertNotContains(response, "Lena")
        self.assertNotContains(response, url("team-matrix-csv", self.team.slug))

    def test_in_a_team_that_shares_progress_a_member_sees_everyone(self):
        self.team.visibility = "progress"
        self.team.save()
        self.client.force_login(self.ada)

        response = self.client.get(url("team-matrix", self.team.slug))

        assert len(response.context["matrix"].shown_rows) == 3
        self.assertContains(response, url("member-dashboard", self.team.slug, "bo"))


class MatrixCsvTests(MatrixFixture):
    def test_the_csv_holds_every_member_and_layer_with_verified_and_self_apart(self):
        self.client.force_login(self.lead)

        self.approve(self.l1, 2, self.ada)

        response = self.client.get(url("team-matrix-csv", self.team.slug) + "?roadmap=llm")

        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f'filename="{self.team.slug}-llm-' in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == [
            "username",
            "name",
            "role",
            "topics done",
            "topics",
            "last active",
            "Layer 1 verified",
            "Layer 1 self-rated",
            "Layer 2 verified",
            "Layer 2 self-rated",
            "Track A verified",
            "Track A self-rated",
        ]
        ada = next(row for row in rows if row[0] == "ada")
        assert ada[1:5] == ["Ada", "member", "2", "2"]
        assert ada[6:] == ["2", "4", "0", "", "0", ""]
        assert len(rows) == 4

    def test_a_name_that_looks_like_a_formula_is_defused(self):
        self.client.force_login(self.lead)

        response = self.client.get(url("team-matrix-csv", self.team.slug))

        bo = next(row for row in csv.reader(io.StringIO(response.content.decode())) if row[0] == "bo")
        assert bo[1] == "'=HYPERLINK(1)"

    def test_a_member_of_an_aggregate_team_gets_no_csv(self):
        self.client.force_login(self.ada)

        assert self.client.get(url("team-matrix-csv", self.team.slug)).status_code == 403


class MatrixQueryCountTests(TestCase):
    """The matrix, its CSV, the weakest topics and the inactivity page issue the same number of queries
    for 5 members as for 50."""

    def setUp(self):
        self.roadmap = create_roadmap(slug="big", order=1)
        self.layers = [create_layer(roadmap=self.roadmap, number=n, slug=f"l{n}") for n in range(1, 5)]
        self.layers.append(create_layer(roadmap=self.roadmap, number=9, slug="ta", kind="advanced_track"))
        self.topics = [create_topic(layer=layer) for layer in self.layers for _ in range(3)]
        self.lead = create_user()
        self.team = create_team(members={self.lead: "lead"})
        self.added = 0

    def grow(self, members: int) -> None:
        while self.added < members:
            user = create_user()
            self.team.add_member(user, "member")
            for i, topic in enumerate(self.topics[: 1 + self.added % len(self.topics)]):
                create_progress(user=user, topic=topic, status="done" if i % 2 else "learning", confidence=1 + i % 5)
            create_assessment(user=user, layer=self.layers[self.added % 4], level=self.added % 7)
            self.added += 1

    def queries(self) -> list[int]:
        counts = []
        for path in (
            url("team-matrix", self.team.slug) + "?tracks=1",
            url("team-matrix-csv", self.team.slug),
            url("team-weakest", self.team.slug),
            url("team-inactive", self.team.slug),
        ):
            with CaptureQueriesContext(connection) as ctx:
                response = self.client.get(path)
            assert response.status_code == 200, path
            counts.append(len(ctx))
        return counts

    def test_query_counts_do_not_grow_with_the_members(self):
        self.client.force_login(self.lead)
        self.grow(5)
        small = self.queries()

        self.grow(50)
        large = self.queries()

        assert small == large
        assert self.team.memberships.count() == 51

    def test_the_matrix_query_count_is_fixed(self):
        self.client.force_login(self.lead)
        self.grow(50)

        # session, user, team with the viewer's role, the nav's Reviews link and bell, roadmaps, members,
        # layers, self-ratings, verified levels
        with self.assertNumQueries(10):
            self.client.get(url("team-matrix", self.team.slug))


class CsvCellTests(TestCase):
    def test_cells_that_spreadsheets_would_run_are_defused(self):
        from assessments.downloads import safe_cell

        assert [safe_cell(v) for v in ["=1+1", "+cmd", "-2", "@sum", "plain", 3]] == [
            "'=1+1",
            "'+cmd",
            "'-2",
            "'@sum",
            "plain",
            3,
        ]

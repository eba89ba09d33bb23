from __future__ import annotations

from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.models import Membership
from portfolio.models import Artifact
from tests.factories import (
    add_member,
    create_artifact,
    create_artifact_spec,
    create_layer,
    create_runnable_artifact,
    create_team,
    create_topic,
    create_user,
)


class ArtifactListTests(TestCase):
    def test_it_lists_only_my_artifacts(self):
        me = create_user()
        create_artifact(owner=me, title="My calculator")
        create_artifact(title="Someone else's")
        self.client.force_login(me)
        response = self.client.get(reverse("portfolio:artifact-list"))
        assert response.status_code == 200
        assert b"My calculator" in response.content and b"Someone else" not in response.content

    @override_settings(LOGIN_URL="/login/")
    def test_anonymous_visitors_are_sent_to_log_in(self):
        response = self.client.get(reverse("portfolio:artifact-list"))
        assert response.status_code == 302 and response["Location"].startswith("/login/")

    def test_the_nav_links_to_artifacts_for_people_logged_in(self):
        self.client.force_login(create_user())
        assert reverse("portfolio:artifact-list").encode() in self.client.get(reverse("roadmap:roadmap-list")).content


class ArtifactCreateTests(TestCase):
    def setUp(self) -> None:
        self.me = create_user()
        self.client.force_login(self.me)
        layer = create_layer()
        self.topic = create_topic(layer=layer, title="KV cache sizing")
        self.spec = create_artifact_spec(roadmap=layer.roadmap, kind="kv_calculator", title="KV Cache Calculator")
        self.spec.layers.add(layer)
        self.spec.topics.add(self.topic)

    def test_starting_from_a_spec_prefills_its_title_and_topics(self):
        response = self.client.get(reverse("portfolio:artifact-create") + f"?spec={self.spec.pk}")
        assert response.status_code == 200
        form = response.context["form"]
        assert form.initial["title"] == "KV Cache Calculator" and form.initial["topics"] == [self.topic.pk]
        assert b"KV cache sizing" in response.content

    def test_a_free_form_artifact_picks_topics_from_checkboxes_grouped_by_layer_with_a_search(self):
        response = self.client.get(reverse("portfolio:artifact-create"))

        layer = self.topic.layer
        self.assertContains(response, f"<label>{layer.roadmap.title} · {layer.label}: {layer.title}</label>")
        self.assertContains(response, f'type="checkbox" name="topics" value="{self.topic.pk}"')
        self.assertContains(response, 'data-checks-search="id_topics"')
        self.assertNotContains(response, '<select name="topics"')

    def test_creating_an_artifact_links_spec_and_topics(self):
        response = self.client.post(
            reverse("portfolio:artifact-create"),
            {"spec": self.spec.pk, "title": "My KV calc", "topics": [self.topic.pk], "notes": "# Plan"},
        )
        artifact = Artifact.objects.get()
        assert response.status_code == 302 and response["Location"] == artifact.get_absolute_url()
        assert artifact.owner == self.me and artifact.spec == self.spec
        assert list(artifact.topics.all()) == [self.topic]

    def test_a_spec_gives_its_title_when_none_is_typed(self):
        self.client.post(reverse("portfolio:artifact-create"), {"spec": self.spec.pk, "title": ""})
        assert Artifact.objects.get().title == "KV Cache Calculator"

    def test_any_topic_of_the_specs_roadmap_may_be_chosen_but_not_one_of_another(self):
        """The rule the API applies too (Topic.objects.for_spec): the checkboxes show the spec's
        nearest topics, and any topic of its roadmap is accepted."""
        further = create_topic(layer=create_layer(roadmap=self.spec.roadmap), title="Further away")
        elsewhere = create_topic(layer=create_layer(), title="Another roadmap")
        url = reverse("portfolio:artifact-create")
        refused = self.client.post(url, {"spec": self.spec.pk, "title": "Mine", "topics": [elsewhere.pk]})
        assert refused.status_code == 200 and not Artifact.objects.exists()
        assert refused.context["form"].has_error("topics")
        self.client.post(url, {"spec": self.spec.pk, "title": "Mine", "topics": [self.topic.pk, further.pk]})
        assert set(Artifact.objects.get().topics.all()) == {self.topic, further}

    def test_a_free_form_artifact_has_no_spec(self):
        self.client.post(reverse("portfolio:artifact-create"), {"spec": "", "title": "Blog post"})
        assert Artifact.objects.get().spec is None

    def test_a_missing_title_keeps_what_was_typed(self):
        response = self.client.post(reverse("portfolio:artifact-create"), {"title": "", "notes": "kept notes"})
        assert response.status_code == 200 and not Artifact.objects.exists()
        assert b"kept notes" in response.content and b"This field is required" in response.content

    def test_the_spec_page_lists_my_artifacts_for_it(self):
        create_artifact(owner=self.me, spec=self.spec, title="My own KV calc")
        create_artifact(spec=self.spec, title="Not mine")
        content = self.client.get(self.spec.get_absolute_url()).content
        assert b"My own KV calc" in content and b"Not mine" not in content

    def test_the_spec_page_offers_to_start_the_artifact_to_people_logged_in(self):
        url = self.spec.get_absolute_url()
        assert b"Start this artifact" in self.client.get(url).content
        self.client.logout()
        assert b"Start this artifact" not in self.client.get(url).content


class ArtifactDetailTests(TestCase):
    def test_the_owner_sees_notes_versions_and_actions(self):
        artifact = create_artifact(notes="**bold** <script>alert(1)</script>")
        self.client.force_login(artifact.owner)
        response = self.client.get(artifact.get_absolute_url())
        assert response.status_code == 200
        assert b"<strong>bold</strong>" in response.content and b"<script>alert" not in response.content
        assert b"Upload a version" in response.content

    def test_a_runnable_artifact_says_what_a_version_is_and_what_results_are(self):
        artifact = create_runnable_artifact()
        self.client.force_login(artifact.owner)

        response = self.client.get(artifact.get_absolute_url())

        self.assertContains(response, "the runner runs each version and verifies its result")
        self.assertContains(response, "shown as self-reported and never as verified")

    def test_another_user_gets_404(self):
        artifact = create_artifact()
        self.client.force_login(create_user())
        assert self.client.get(artifact.get_absolute_url()).status_code == 404

    def test_a_reviewer_of_the_owners_team_may_read_but_not_act(self):
        artifact = create_artifact()
        reviewer = create_user()
        team = create_team()
        add_member(team, artifact.owner)
        add_member(team, reviewer, Membership.Role.REVIEWER)
        self.client.force_login(reviewer)
        response = self.client.get(artifact.get_absolute_url())
        assert response.status_code == 200 and b"Upload a version" not in response.content
        assert self.client.get(reverse("portfolio:version-create", args=[artifact.pk])).status_code == 404

    def test_a_fellow_team_member_gets_404(self):
        artifact = create_artifact()
        peer = create_user()
        team = create_team()
        add_member(team, artifact.owner)
        add_member(team, peer)
        self.client.force_login(peer)
        assert self.client.get(artifact.get_absolute_url()).status_code == 404

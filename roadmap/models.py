"""The curriculum: roadmaps, their layers and topics, and what proves competence.

Content is loaded from files in fixtures/roadmaps by `manage.py load_roadmaps`
(see roadmap/content/). Rows are matched by stable slugs; anything the files
no longer mention is retired, never deleted, so learner data pointing at it
survives every reload.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from django.db import models
from django.db.models import Count, Q
from django.urls import reverse

from roadmap.markdown import render_markdown

if TYPE_CHECKING:
    from django.utils.safestring import SafeString


def markdown_html(field: str) -> cached_property[SafeString]:
    """A property holding the HTML of a Markdown text field, rendered once per instance."""

    def html(self: models.Model) -> SafeString:
        return render_markdown(getattr(self, field))

    html.__doc__ = f"`{field}` rendered from Markdown."
    return cached_property(html)


class CurrentQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def current(self) -> Self:
        """Rows the content still contains (not retired)."""
        return self.filter(retired=False)


class RoadmapPartQuerySet(CurrentQuerySet):
    """Rows that belong to a roadmap (they have a `roadmap` foreign key)."""

    def in_roadmap(self, roadmap: Roadmap | str) -> Self:
        """Rows of this roadmap; given a slug, of the current roadmap with that slug.

        Retired rows are kept (a retired topic's page still shows it): chain .current() to drop them.
        """
        if isinstance(roadmap, str):
            return self.filter(roadmap__slug=roadmap, roadmap__retired=False)
        return self.filter(roadmap=roadmap)


class CurriculumModel(models.Model):
    """A row loaded from the content files. When the files drop it, it is retired (hidden, kept),
    never deleted, so learner data pointing at it survives."""

    retired = models.BooleanField(default=False)

    objects = CurrentQuerySet.as_manager()

    class Meta:
        abstract = True


class CurriculumEntry(CurriculumModel):
    """A titled entry of a roadmap, known by a slug that is unique in it."""

    slug = models.SlugField(max_length=100)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class Prose(models.Model):
    """Markdown written for Layerwise, with a link to the source it was adapted from."""

    body = models.TextField(blank=True, help_text="Markdown.")
    source_url = models.URLField(max_length=500, blank=True)

    body_html = markdown_html("body")

    class Meta:
        abstract = True


class RoadmapQuerySet(CurrentQuerySet):
    def with_counts(self) -> Self:
        """Annotated with layer_count and topic_count: how many current layers and topics each has."""
        return self.annotate(
            topic_count=Count("topics", filter=Q(topics__retired=False), distinct=True),
            layer_count=Count("layers", filter=Q(layers__retired=False), distinct=True),
        )


class Roadmap(CurriculumEntry, Prose):
    slug = models.SlugField(max_length=80, unique=True)  # unique on its own: it is the roadmap's URL
    summary = models.TextField()  # required: the catalogue lists it
    source_title = models.CharField(max_length=300, blank=True)
    order = models.PositiveIntegerField(default=0)
    content_version = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the content files this roadmap was last loaded from.",
    )
    loaded_at = models.DateTimeField(null=True, blank=True)

    objects = RoadmapQuerySet.as_manager()

    class Meta:
        ordering = ["order", "title"]

    def get_absolute_url(self) -> str:
        return reverse("roadmap:roadmap-detail", args=[self.slug])

    @property
    def short_version(self) -> str:
        return self.content_version[:12]


class LayerQuerySet(RoadmapPartQuerySet):
    def with_topic_count(self) -> Self:
        """Annotated with topic_count: how many current topics each layer has."""
        return self.annotate(topic_count=Count("topics", filter=Q(topics__retired=False)))


class Layer(CurriculumEntry, Prose):
    class Kind(models.TextChoices):
        CORE_LAYER = "core_layer", "Core layer"
        ADVANCED_TRACK = "advanced_track", "Advanced track"
        MODULE = "module", "Module"
        STAGE = "stage", "Stage"
        TIER = "tier", "Tier"

    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="layers")
    number = models.PositiveIntegerField()
    code = models.CharField(max_length=8, help_text='Display label, for example "7" or "A".')
    slug = models.SlugField(max_length=80)  # the column has always been narrower than other entries' slugs
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CORE_LAYER)
    core_question = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    implement = models.TextField(blank=True, help_text="Markdown: what to build.")
    exercises = models.TextField(blank=True, help_text="Markdown.")
    failure_modes = models.JSONField(default=list, blank=True)
    decisions = models.JSONField(default=list, blank=True)
    definition_of_done = models.JSONField(default=list, blank=True)

    implement_html = markdown_html("implement")
    exercises_html = markdown_html("exercises")

    objects = LayerQuerySet.as_manager()

    class Meta:
        ordering = ["roadmap_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "slug"], name="layer_slug_unique_in_roadmap"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("roadmap:layer-detail", args=[self.roadmap.slug, self.slug])

    @property
    def label(self) -> str:
        prefix = {
            self.Kind.CORE_LAYER: "Layer",
            self.Kind.ADVANCED_TRACK: "Track",
            self.Kind.MODULE: "Module",
            self.Kind.STAGE: "Stage",
            self.Kind.TIER: "Tier",
        }[self.Kind(self.kind)]
        return f"{prefix} {self.code}"

    @property
    def current_gate(self) -> EvaluationGate | None:
        """The layer's evaluation gate, unless it has none or it is retired."""
        gate: EvaluationGate | None = getattr(self, "gate", None)
        return gate if gate is not None and not gate.retired else None


class TopicQuerySet(RoadmapPartQuerySet):
    def at(self, roadmap_slug: str, slug: str) -> Self:
        """Topic `slug` of the current roadmap `roadmap_slug`, the way URLs name it; a retired topic
        too, since its page and the learners' progress on it remain."""
        return self.in_roadmap(roadmap_slug).filter(slug=slug)

    def for_spec(self, spec: ArtifactSpec | None) -> Self:
        """The topics an artifact of `spec` may cover: those of the spec's roadmap; any topic for a
        free-form artifact (no spec)."""
        return self if spec is None else self.filter(roadmap_id=spec.roadmap_id)

    def prerequisite_pairs(self) -> list[tuple[int, int]]:
        """(topic pk, prerequisite pk) for these topics' current prerequisites, in one query.

        Much cheaper than prefetching `prerequisites` when only the pks are needed (the graph).
        """
        through = Topic.prerequisites.through.objects
        return list(
            through.filter(from_topic__in=self.values("pk"), to_topic__retired=False).values_list(
                "from_topic_id", "to_topic_id"
            )
        )


class Topic(CurriculumEntry, Prose):
    """A unit of learning. Its identity is (roadmap, slug): it may move between layers."""

    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="topics")
    layer = models.ForeignKey(Layer, on_delete=models.PROTECT, related_name="topics")
    order = models.PositiveIntegerField(default=0)
    prerequisites = models.ManyToManyField("self", symmetrical=False, related_name="unlocks", blank=True)
    self_check = models.JSONField(
        default=list, blank=True, help_text='"Check yourself" questions, one line each; not graded.'
    )

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["roadmap_id", "layer__number", "order"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "slug"], name="topic_slug_unique_in_roadmap"),
        ]

    def get_absolute_url(self) -> str:
        return reverse("roadmap:topic-detail", args=[self.roadmap.slug, self.slug])


class CompetencyLevel(CurriculumModel):
    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="levels")
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    summary = models.TextField(blank=True)
    abilities = models.JSONField(default=list, blank=True)
    ability_gates = models.JSONField(
        default=dict,
        blank=True,
        help_text="Ability -> the slug of the layer whose gate checks it (none at level 0).",
    )
    limit = models.TextField(blank=True)

    class Meta:
        ordering = ["roadmap_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "number"], name="level_number_unique_in_roadmap"),
            models.CheckConstraint(condition=models.Q(number__lte=6), name="level_number_0_to_6"),
        ]

    def __str__(self) -> str:
        return f"Level {self.number}: {self.title}"

    def checked_abilities(self, layers: dict[str, Layer]) -> list[tuple[str, Layer | None]]:
        """Each ability with the layer whose gate checks it, from `layers` (slug -> layer); None
        where no gate does (level 0) or the layer is not among them."""
        return [(ability, layers.get(self.ability_gates.get(ability) or "")) for ability in self.abilities]


class ArtifactSpecQuerySet(RoadmapPartQuerySet):
    def with_code(self, code: str, roadmap_slug: str | None = None) -> Self:
        """Specs with this catalogue code ("09"), in the roadmap named when one is; a code may
        exist in several roadmaps."""
        found = self.filter(code=code)
        return found.filter(roadmap__slug=roadmap_slug) if roadmap_slug else found


class ArtifactSpec(CurriculumModel):
    class Kind(models.TextChoices):
        DOCUMENT = "document", "Document"
        KV_CALCULATOR = "kv_calculator", "KV cache calculator (runnable)"
        INFERENCE_BENCHMARK = "inference_benchmark", "Inference benchmark (runnable)"
        TINY_TRANSFORMER = "tiny_transformer", "Tiny transformer (runnable)"
        QUANTIZER = "quantizer", "Quantizer (runnable)"
        RESULTS = "results", "Measured results"

    RUNNABLE_KINDS = (Kind.KV_CALCULATOR, Kind.INFERENCE_BENCHMARK, Kind.TINY_TRANSFORMER, Kind.QUANTIZER)

    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="artifact_specs")
    code = models.CharField(max_length=8)
    slug = models.SlugField(max_length=100)
    title = models.CharField(max_length=200)
    purpose = models.CharField(max_length=300)
    description = models.TextField(blank=True, help_text="Markdown.")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.DOCUMENT)
    layers = models.ManyToManyField(Layer, related_name="artifact_specs", blank=True)
    topics = models.ManyToManyField(Topic, related_name="artifact_specs", blank=True)
    templates = models.JSONField(
        default=list, blank=True, help_text="Markdown templates offered for download: [{title, file}]."
    )

    description_html = markdown_html("description")

    objects = ArtifactSpecQuerySet.as_manager()

    class Meta:
        ordering = ["roadmap_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "code"], name="artifact_code_unique_in_roadmap"),
            models.UniqueConstraint(fields=["roadmap", "slug"], name="artifact_slug_unique_in_roadmap"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("roadmap:artifact-detail", args=[self.roadmap.slug, self.code])

    @property
    def is_runnable(self) -> bool:
        return self.kind in self.RUNNABLE_KINDS

    def template_file(self, name: str) -> str | None:
        """`name` when it is one of the files this spec offers as a template, else None."""
        return name if any(t.get("file") == name for t in self.templates) else None


class EvaluationGateQuerySet(CurrentQuerySet):
    def for_layer(self, roadmap_slug: str, layer_slug: str) -> Self:
        """The gate of a current layer of a current roadmap, by their slugs.

        A retired gate is kept: chain .current() to drop it.
        """
        return self.filter(
            layer__roadmap__slug=roadmap_slug,
            layer__roadmap__retired=False,
            layer__slug=layer_slug,
            layer__retired=False,
        )


class EvaluationGate(CurriculumModel):
    """What a reviewer checks before signing off a layer."""

    layer = models.OneToOneField(Layer, on_delete=models.CASCADE, related_name="gate")
    statement = models.TextField()
    criteria = models.JSONField(default=list, blank=True, help_text="One line per criterion.")
    required_artifacts = models.ManyToManyField(ArtifactSpec, related_name="gates", blank=True)
    level = models.ForeignKey(
        CompetencyLevel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gates",
        help_text="The verified level this gate counts toward: level L needs every gate of levels 1..L.",
    )

    objects = EvaluationGateQuerySet.as_manager()

    class Meta:
        ordering = ["layer_id"]

    def __str__(self) -> str:
        return f"Gate of {self.layer}"


class LearningPathQuerySet(RoadmapPartQuerySet):
    def with_step_count(self) -> Self:
        """Annotated with step_count: how many steps each path has."""
        return self.annotate(step_count=Count("steps"))


class LearningPath(CurriculumEntry):
    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="paths")
    estimated_time = models.CharField(max_length=100, blank=True)
    estimated_hours = models.PositiveIntegerField(null=True, blank=True)
    after = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="next_paths",
    )
    order = models.PositiveIntegerField(default=0)
    topics = models.ManyToManyField(Topic, through="PathStep", related_name="paths")
    outside_prerequisites = models.ManyToManyField(
        Topic,
        related_name="assumed_by_paths",
        blank=True,
        help_text="Topics the path's steps need that neither it nor the paths before it contain.",
    )

    objects = LearningPathQuerySet.as_manager()

    class Meta:
        ordering = ["roadmap_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "slug"], name="path_slug_unique_in_roadmap"),
        ]

    def get_absolute_url(self) -> str:
        return reverse("roadmap:path-detail", args=[self.roadmap.slug, self.slug])


class PathStep(models.Model):
    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="steps")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="path_steps")
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["path_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["path", "topic"], name="topic_once_per_path"),
        ]

    def __str__(self) -> str:
        return f"{self.path}: {self.order}. {self.topic}"


class Checklist(CurriculumEntry):
    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="checklists")
    items = models.JSONField(default=list, blank=True, help_text="One line per item.")
    layers = models.ManyToManyField(Layer, related_name="checklists", blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["roadmap_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "slug"], name="checklist_slug_unique_in_roadmap"),
        ]


class Resource(CurriculumModel):
    class Kind(models.TextChoices):
        PAPER = "paper", "Paper"
        DOCS = "docs", "Documentation"
        COURSE = "course", "Course"
        TOOL = "tool", "Tool"
        BOOK = "book", "Book"
        ARTICLE = "article", "Article"
        BENCHMARK = "benchmark", "Benchmark"
        VIDEO = "video", "Video"
        CODE = "code", "Code"

    roadmap = models.ForeignKey(Roadmap, on_delete=models.CASCADE, related_name="resources")
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DOCS)
    group = models.CharField(max_length=120, blank=True)
    layers = models.ManyToManyField(Layer, related_name="resources", blank=True)
    topics = models.ManyToManyField(Topic, related_name="resources", blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["roadmap_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["roadmap", "url"], name="resource_url_unique_in_roadmap"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def source(self) -> str:
        """Where the link leads, as a reader recognises it: the host name without "www."."""
        host = urlsplit(self.url).hostname or ""
        return host.removeprefix("www.")

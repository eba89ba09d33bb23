"""Hypothesis feeds the web forms, the uploads and the credential verifier generated input: any
text, any bytes, JSON documents with NaN, huge integers, deep nesting and odd strings. None of it
may reach a server error; a refusal is a 400 and a success a redirect (or the verifier's page).
Each example runs in a transaction of its own (Hypothesis's Django TestCase)."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from tests.factories import create_artifact, create_runnable_artifact
from tests.portfolio.helpers import IsolatedMediaMixin

# derandomize: the same 40 examples on every run, so CI's verdict does not depend on the draw (a
# run on another seed found the test's own upload-name bug above; widen max_examples to explore).
FAST = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)


def as_text(document: Any) -> str:
    return json.dumps(document, allow_nan=True)


json_texts = st.one_of(
    documents.map(as_text),
    st.text(max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=20, max_value=6000).map(lambda n: '{"summary": "s", "metrics": {"x": ' + "9" * n + "}}"),
)


class ResultsFormTests(IsolatedMediaMixin, TestCase):
    def setup_example(self) -> None:
        super().setup_example()
        artifact = create_artifact()
        self.client.force_login(artifact.owner)
        self.url = reverse("portfolio:results-create", args=[artifact.pk])

    @FAST
    @given(text=json_texts)
    def test_pasted_text_never_gets_a_server_error(self, text: str) -> None:
        response = self.client.post(self.url, {"text": text, "notes": "n"})
        assert response.status_code in (302, 400), response.status_code

    @FAST
    @given(data=st.one_of(st.binary(max_size=300), json_texts.map(str.encode)))
    def test_uploaded_files_never_get_a_server_error(self, data: bytes) -> None:
        response = self.client.post(self.url, {"file": SimpleUploadedFile("results.json", data)})
        assert response.status_code in (302, 400), response.status_code


class VersionUploadTests(IsolatedMediaMixin, TestCase):
    def setup_example(self) -> None:
        super().setup_example()
        artifact = create_runnable_artifact()
        self.client.force_login(artifact.owner)
        self.url = reverse("portfolio:version-create", args=[artifact.pk])

    @FAST
    @given(
        # Names the test client itself can build an upload from (Django refuses to make one whose
        # base name is empty, "." or "..", before any request is sent).
        name=st.text(min_size=1, max_size=40).filter(
            lambda n: "\x00" not in n and os.path.basename(n) not in {"", ".", ".."}
        ),
        data=st.binary(max_size=300),
        link=st.one_of(st.just(""), st.text(max_size=60)),
    )
    def test_any_file_name_bytes_or_link_never_gets_a_server_error(self, name: str, data: bytes, link: str) -> None:
        response = self.client.post(self.url, {"file": SimpleUploadedFile(name, data), "link": link, "notes": ""})
        assert response.status_code in (302, 400), response.status_code


class CredentialVerifierTests(TestCase):
    @FAST
    @given(text=st.one_of(json_texts, documents.map(lambda d: as_text({"proof": d, "id": d}))))
    def test_any_pasted_credential_never_gets_a_server_error(self, text: str) -> None:
        response = self.client.post(reverse("gates:credential-verify"), {"credential": text})
        assert response.status_code in (200, 422), (
            response.status_code
        )  # a verdict, or the form refused with the field named

"""The database failing in the middle of an upload leaves nothing half-written: no version row,
no run or attempt, no stored file, nothing sent to the runner. The failure is injected at the
database boundary (Django's execute wrapper raises the driver's error on one INSERT), so every
line of our own code runs as it would."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import TestCase

from portfolio.models import ArtifactVersion, Run, RunAttempt
from tests.factories import OK_SCRIPT, create_runnable_artifact, create_token
from tests.portfolio.helpers import IsolatedMediaMixin, stored_files


class FailingInsert:
    """Raise what a dropped connection raises, on the first INSERT into `table`."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.failed = False

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.lstrip().upper().startswith("INSERT") and f'"{self.table}"' in sql:
            self.failed = True
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


TABLES = ("portfolio_artifactversion", "portfolio_run", "portfolio_runattempt")


class UploadWithDatabaseFailureTests(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.artifact = create_runnable_artifact()
        self.updated_at = self.artifact.updated_at
        self.client.raise_request_exception = False

    def assert_nothing_written(self) -> None:
        assert not ArtifactVersion.objects.exists()
        assert not Run.objects.exists() and not RunAttempt.objects.exists()
        assert stored_files() == []
        self.artifact.refresh_from_db()
        assert self.artifact.updated_at == self.updated_at

    def test_the_upload_page_leaves_no_half_written_rows_or_files(self):
        self.client.force_login(self.artifact.owner)
        for table in TABLES:
            with self.subTest(table=table):
                failing = FailingInsert(table)
                with self.captureOnCommitCallbacks() as sends, connection.execute_wrapper(failing):
                    response = self.client.post(
                        f"/artifacts/{self.artifact.pk}/versions/new/",
                        {"file": SimpleUploadedFile("main.py", OK_SCRIPT)},
                    )
                assert failing.failed and response.status_code == 500
                assert sends == []
                self.assert_nothing_written()

    def test_the_api_upload_leaves_no_half_written_rows_or_files(self):
        _, raw = create_token(user=self.artifact.owner)
        for table in TABLES:
            with self.subTest(table=table):
                failing = FailingInsert(table)
                with self.captureOnCommitCallbacks() as sends, connection.execute_wrapper(failing):
                    response = self.client.post(
                        f"/api/v1/artifacts/{self.artifact.pk}/versions",
                        {"file": SimpleUploadedFile("main.py", OK_SCRIPT)},
                        headers={"Authorization": f"Bearer {raw}"},
                    )
                assert failing.failed and response.status_code == 500
                assert sends == []
                self.assert_nothing_written()

    def test_after_the_failure_the_same_upload_goes_through(self):
        self.client.force_login(self.artifact.owner)
        with connection.execute_wrapper(FailingInsert("portfolio_run")):
            self.client.post(
                f"/artifacts/{self.artifact.pk}/versions/new/", {"file": SimpleUploadedFile("main.py", OK_SCRIPT)}
            )
        response = self.client.post(
            f"/artifacts/{self.artifact.pk}/versions/new/", {"file": SimpleUploadedFile("main.py", OK_SCRIPT)}
        )
        run = Run.objects.get()
        assert response.status_code == 302 and run.version.number == 1 and len(stored_files()) == 1
        assert run.current_attempt is not None and run.current_attempt.number == 1

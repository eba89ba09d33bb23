"""What every API endpoint shares: token authentication (`Authorization: Bearer <token>`), writes
that are all or nothing, and choices documented from the models' own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema
from ninja.security import HttpBearer
from pydantic import ConfigDict, WithJsonSchema

from accounts.models import ApiToken, User


class TokenAuth(HttpBearer):
    """Accepts an active ApiToken; a wrong or revoked one gets the API's 401 JSON answer."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
        return user


token_auth = TokenAuth()


def atomic_write(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an API write (`@decorate_view(atomic_write)` under the route) in one transaction that a
    refusal rolls back: any answer of 400 or more, or an exception. So a refused request leaves
    nothing behind (no draft, no half-pinned evidence), whichever model verb refused it and
    however many had run before."""

    @functools.wraps(run)
    def write(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with transaction.atomic():
            response = run(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    return write


def choices(of: type[models.TextChoices]) -> WithJsonSchema:
    """The OpenAPI of a field typed with a model's TextChoices (`Annotated[Run.Status,
    choices(Run.Status)]`): its values written in place. Named components would collide, since
    several models call theirs `Status` or `Kind` and the schema keeps one per name."""
    return WithJsonSchema({"type": "string", "enum": list(of.values)})


# The largest id or number a request may name: what the one JSON reader accepts (2**53), far below
# what the databases store, so no id reaches a query it would overflow.
ID_MAX = 2**53

ObjectId = Annotated[int, Field(ge=1, le=ID_MAX)]

# A JSON Schema pattern (for the schema only: the API strips and checks text itself) for text that
# must hold something besides white space, and none of what the JSON reader refuses.
NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


class StrictIn(Schema):
    """A request body: a field the schema does not name is refused (422 naming it), and the schema
    says so (`additionalProperties: false`)."""

    model_config = ConfigDict(extra="forbid")


# --- lists ---------------------------------------------------------------------------------------

PAGE_SIZE = 50
PAGE_SIZE_MAX = 100
PAGE_MAX = 1_000_000  # far past any real list; bounds the OFFSET the database is asked for


class FieldError(Schema):
    field: str = Field(examples=["page_size"])
    message: str = Field(examples=["Input should be less than or equal to 100"])


class ErrorOut(Schema):
    """Every 4xx the API answers: `message` for people, `errors` naming each field it refused."""

    message: str = Field(examples=["page_size: Input should be less than or equal to 100"])
    errors: list[FieldError] = []


class PageIn(Schema):
    """The query of every list: `page` (1-based) and `page_size` (at most 100)."""

    page: int = Field(1, ge=1, le=PAGE_MAX, description="1-based; a page past the end has no items")
    page_size: int = Field(PAGE_SIZE, ge=1, le=PAGE_SIZE_MAX, description=f"rows per page, 1 to {PAGE_SIZE_MAX}")


class PageOut(Schema):
    """The envelope of every list; subclasses type `items`."""

    count: int = Field(description="rows in the whole list, every page together", examples=[120])
    page: int = Field(examples=[2])
    page_size: int = Field(examples=[50])
    next: str | None = Field(
        description="absolute URL of the next page; null on the last",
        examples=["https://layerwise.example/api/v1/runs?status=failed&page=3&page_size=50"],
    )
    previous: str | None = Field(
        description="absolute URL of the previous page; null on the first",
        examples=["https://layerwise.example/api/v1/runs?status=failed&page=1&page_size=50"],
    )


def _page_url(request: HttpRequest, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def paginate(request: HttpRequest, rows: models.QuerySet[Any], params: PageIn, item: Callable[[Any], Any]) -> dict:
    """One page of `rows` (already scoped and ordered) in the PageOut envelope, each row through `item`."""
    count = rows.count()
    start = (params.page - 1) * params.page_size
    items = [item(row) for row in rows[start : start + params.page_size]] if start < count else []
    return {
        "items": items,
        "count": count,
        "page": params.page,
        "page_size": params.page_size,
        "next": _page_url(request, params.page + 1) if start + params.page_size < count else None,
        "previous": _page_url(request, min(params.page - 1, max(1, -(-count // params.page_size))))
        if params.page > 1
        else None,
    }

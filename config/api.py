"""The JSON API, version 1. OpenAPI schema at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from assessments.api import gates_router, records_router
from assessments.api import router as assessments_router
from portfolio.api import router as portfolio_router
from portfolio.api import schemas_router
from portfolio.runner import jsondoc
from roadmap.api import router as roadmap_router


class DocumentParser(Parser):
    """Request bodies are read by the one JSON reader (portfolio/runner/jsondoc.py): finite numbers,
    bounded integers, depth and size, the same as the web's forms and files."""

    def parse_body(self, request: HttpRequest) -> Any:
        body = jsondoc.loads(request.body, field="body", max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if not isinstance(body, dict):  # every body the API reads is an object
            raise jsondoc.DocumentRefused("body", "", f"must be a JSON object, not {type(body).__name__}")
        return body


# What any operation may answer besides its own responses (the handlers below and the rate limit),
# declared in the schema so that clients and the fuzzer (tests/api/test_fuzz.py) know them.
COMMON_ERRORS = {
    400: "The body is not a document we read (not JSON, NaN, too deep, too large); the message names the field.",
    401: "No active token: send Authorization: Bearer <token>.",
    404: "No such object, or it is someone else's.",
    422: "A field is missing or invalid; `errors` names each one.",
    429: "Too many requests of this kind; the message says when to try again.",
}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["message"],
}


# What the one JSON reader (portfolio/runner/jsondoc.py) refuses in any body, declared on every JSON
# request body's strings, integers and free-form values, so the schema states the rules it enforces.
# (Lone surrogates, refused too, cannot be written in a pattern the fuzzer's validator compiles.)
TEXT = "^[^\\x00]*$"  # no NUL
_JSON_VALUE = {
    "description": "Any JSON value within the reader's limits: integers within +-2**53, finite numbers, "
    "no NUL character or lone surrogate in strings and keys, nested at most 32 levels.",
    "anyOf": [
        {
            "type": "object",
            "propertyNames": {"pattern": TEXT},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {"type": "string", "pattern": TEXT},
        {"type": "integer", "minimum": -jsondoc.MAX_INTEGER, "maximum": jsondoc.MAX_INTEGER},
        {"type": "number", "minimum": -jsondoc.MAX_INTEGER, "maximum": jsondoc.MAX_INTEGER},
        {"type": "boolean"},
        {"type": "null"},
    ],
}


def _declare_reader_limits(node: Any, components: dict[str, Any], seen: set[str]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            components[name] = _declare_reader_limits(components[name], components, seen)
        return node
    if not node.keys() - {"title", "description", "default", "examples"}:
        return {**node, "$ref": "#/components/schemas/JsonValue"}  # free-form (`Any`)
    kind = node.get("type")
    if kind == "string" and "enum" not in node and "pattern" not in node and "format" not in node:
        node["pattern"] = TEXT
    if kind == "object" and "properties" not in node and node.get("additionalProperties", True) is True:
        node["propertyNames"] = {"pattern": TEXT}
        node["additionalProperties"] = {"$ref": "#/components/schemas/JsonValue"}
    if kind == "integer":
        node["minimum"] = max(node.get("minimum", -jsondoc.MAX_INTEGER), -jsondoc.MAX_INTEGER)
        node["maximum"] = min(node.get("maximum", jsondoc.MAX_INTEGER), jsondoc.MAX_INTEGER)
    for key in ("anyOf", "allOf", "oneOf"):
        node[key] = [_declare_reader_limits(n, components, seen) for n in node.get(key, [])] or node.pop(key, None)
        if node[key] is None:
            del node[key]
    if isinstance(node.get("items"), dict):
        node["items"] = _declare_reader_limits(node["items"], components, seen)
    for name, prop in list(node.get("properties", {}).items()):
        node["properties"][name] = _declare_reader_limits(prop, components, seen)
    return node


class LayerwiseAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["JsonValue"] = _JSON_VALUE
        seen: set[str] = set()
        # One error shape for every 4xx: the ErrorOut the operations declare (accounts/api.py).
        error_schema = {"$ref": "#/components/schemas/ErrorOut"} if "ErrorOut" in components else _ERROR_SCHEMA
        for operations in schema["paths"].values():
            for operation in operations.values():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    body["schema"] = _declare_reader_limits(body["schema"], components, seen)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in COMMON_ERRORS.items():
                    if (status == 401 and not operation.get("security")) or str(status) in responses:
                        continue
                    responses.setdefault(
                        status,
                        {"description": description, "content": {"application/json": {"schema": error_schema}}},
                    )
        return schema


api = LayerwiseAPI(
    parser=DocumentParser(),
    title="Layerwise API",
    version="1",
    description="Roadmaps, your progress, artifacts and runs, and gate reviews. "
    "Authenticate with `Authorization: Bearer <token>`; create a token on your profile page.",
    urls_namespace="api-1",
)


def _field_name(location: list[object]) -> str:
    # ninja reports ("body", "payload", "status"); people want "status".
    parts = [str(p) for p in location if p not in ("body", "query", "path", "form", "file", "payload")]
    return ".".join(parts) or "request"


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": _field_name(list(e.get("loc", []))),
            "message": e.get("msg", "invalid"),
        }
        for e in exc.errors
    ]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return api.create_response(request, {"message": message, "errors": errors}, status=422)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"message": str(exc) or "Not found."}, status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps whatever the parser raised in "Cannot parse request body"; say what and where.
    refused = exc.__cause__
    if isinstance(refused, jsondoc.DocumentRefused):
        errors = [{"field": refused.where, "message": refused.reason}]
        return api.create_response(request, {"message": f"{refused}.", "errors": errors}, status=400)
    return api.create_response(request, {"message": str(exc)}, status=exc.status_code)


@api.exception_handler(MultiPartParserError)
def unreadable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    # A multipart body without a boundary, or cut short: the client's fault, not a server error.
    message = f"body: is not a multipart/form-data body we can read ({exc}); send the file as form field `file`."
    return api.create_response(
        request, {"message": message, "errors": [{"field": "body", "message": str(exc)}]}, status=400
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"message": "Authentication required: send Authorization: Bearer <token> with an active token."},
        status=401,
    )


api.add_router("/roadmaps", roadmap_router)
api.add_router("/me", assessments_router)
api.add_router("/", gates_router)
api.add_router("/", records_router)
api.add_router("/", portfolio_router)
api.add_router("/schemas", schemas_router)

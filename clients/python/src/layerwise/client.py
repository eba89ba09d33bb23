"""A thin HTTP client for /api/v1: the token on every request, the API's error bodies turned into
one-line messages, and list endpoints walked page by page through `next`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from layerwise import __version__

API = "/api/v1"


class ApiError(Exception):
    """An answer we cannot go on with; `str()` is the line to print."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        message = str(body["message"])
        errors = body.get("errors") or []
        named = [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
        if named and not any(n in message for n in named):
            message += " (" + "; ".join(named) + ")"
        return message
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return response.reason_phrase or f"HTTP {response.status_code}"


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base = url.rstrip("/")
        self.origin = urlsplit(self.base)[:2]
        self.http = httpx.Client(
            base_url=self.base + API,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"layerwise-cli/{__version__}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(f"{self.base} did not answer in time ({exc.__class__.__name__})") from exc
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.base}: {exc}") from exc
        if response.status_code == 401:
            raise ApiError(
                f"{self.base} refused the token (401): it is wrong, revoked or expired. "
                "Create one on your profile page, then run `layerwise login` or set LAYERWISE_TOKEN.",
                401,
            )
        if response.status_code == 429:
            wait = response.headers.get("Retry-After")
            hint = f" (try again in {wait} s)" if wait else ""
            raise ApiError(f"too many requests: {_message(response)}{hint}", 429)
        if response.status_code >= 400:
            raise ApiError(
                f"{method} {API}{path if path.startswith('/') else path}: {_message(response)}", response.status_code
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"{self.base} answered {path} with something that is not JSON; is it a Layerwise server?"
            ) from exc

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following each page's `next` link to the end. A `next`
        on another server is refused: the token goes to the configured server only."""
        body = self.get(path, **params)
        seen: set[str] = set()
        while True:
            if isinstance(body, list):  # an endpoint that is not paginated
                yield from body
                return
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise ApiError(f"{API}{path} did not answer with a list")
            yield from body["items"]
            following = body.get("next")
            if not following:
                return
            if urlsplit(following)[:2] != self.origin:
                raise ApiError(f"refusing to follow a next link to another server: {following}")
            if following in seen:
                raise ApiError(f"{API}{path}: the next link repeats ({following})")
            seen.add(following)
            body = self.request("GET", following)

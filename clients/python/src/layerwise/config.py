"""Where the server URL and token come from: LAYERWISE_URL / LAYERWISE_TOKEN first, then the file
that `layerwise login` writes ($XDG_CONFIG_HOME/layerwise/config.toml, ~/.config/... without it),
readable by its owner only."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """Nothing to connect with, or an unreadable config file; the message says what to do."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    source: str  # "environment", the config file's path, or "command line"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "layerwise" / "config.toml"


def normalise_url(url: str) -> str:
    """The server's root: "https://host/api/v1/" and "https://host" both give "https://host"."""
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"the server URL must start with http:// or https://, not {url!r}")
    return url


def read_file(path: Path | None = None) -> dict[str, str]:
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; run `layerwise login` again") from exc
    return {k: v for k, v in data.items() if k in ("url", "token") and isinstance(v, str)}


def load() -> Config:
    """The environment wins over the file, variable by variable, so CI may set the token only."""
    path = config_path()
    stored = read_file(path)
    url = os.environ.get("LAYERWISE_URL") or stored.get("url")
    token = os.environ.get("LAYERWISE_TOKEN") or stored.get("token")
    if not url or not token:
        missing = " and ".join(name for name, v in (("URL", url), ("token", token)) if not v)
        raise ConfigError(f"no server {missing}: run `layerwise login`, or set LAYERWISE_URL and LAYERWISE_TOKEN")
    source = "environment" if os.environ.get("LAYERWISE_TOKEN") else str(path)
    return Config(url=normalise_url(url), token=token, source=source)


def save(url: str, token: str, path: Path | None = None) -> Path:
    """Write the file with mode 0600 (its folder 0700) before any secret is in it."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # JSON strings are valid TOML basic strings for what a URL or a token holds.
    text = f"# written by `layerwise login`\nurl = {json.dumps(url)}\ntoken = {json.dumps(token)}\n"
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def forget(path: Path | None = None) -> bool:
    path = path or config_path()
    if path.exists():
        path.unlink()
        return True
    return False

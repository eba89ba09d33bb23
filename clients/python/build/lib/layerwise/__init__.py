"""The `layerwise` command-line client (see docs/cli.md in the Layerwise repository)."""

from __future__ import annotations

__version__ = "0.1.0"

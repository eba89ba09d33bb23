"""The bottom layer: request plumbing that no app owns (rate limits, health probes, request ids).

Below accounts, so every app may use it; it imports Django and the standard library only, never an
app, config or the runner (the import-linter contracts in pyproject.toml say so). No models, so it
is not in INSTALLED_APPS.
"""

"""What the harness scripts share: reading input.json, appending progress lines, and, for the
scripts that run learner code, finding the learner's module and describing what it raised.

Standard library only, and imported two ways. The trusted harnesses see the whole runner package
and import it as `portfolio.runner.harness.common` (through `trusted`). A script that runs learner
code sees only itself and the submission, and this file: `GradeContext.run` binds it beside the
script, at /opt/layerwise/harness/common.py. Such a script imports it like this, which finds it
beside the script in the sandbox and in portfolio/runner/harness/ in the repository (the same
place relative to the script), and from the package when the grader imports the script::

    if __package__:
        from portfolio.runner.harness import common
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
        import common

        del sys.path[0], sys.modules["common"]  # a learner's own common.py stays importable
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

MESSAGE_CHARS = 500


def read_job(argv: list[str], *, required: tuple[str, ...] = ()) -> tuple[dict[str, Any], Path] | None:
    """(job, output path) from ``script input.json output.json``; None, with the reason on stderr,
    for a bad command line or an unreadable input (the script then exits with status 2)."""
    if len(argv) != 3:
        print(f"usage: {Path(argv[0]).name} input.json output.json", file=sys.stderr)
        return None
    try:
        job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        if not isinstance(job, dict) or any(key not in job for key in required):
            wanted = f" with {', '.join(repr(key) for key in required)}" if required else ""
            raise ValueError(f"input must be a JSON object{wanted}")
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return None
    return job, Path(argv[2])


def progress_writer(path: Path | None = None) -> Callable[[dict[str, Any]], None]:
    """A function appending one JSON line per event to progress.jsonl in the working directory
    (or `path`); best effort: the output file is what counts, so a failed write is dropped."""
    target = path or Path.cwd() / "progress.jsonl"

    def emit(event: dict[str, Any]) -> None:
        try:
            with target.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(event, sort_keys=True) + "\n")
        except OSError:
            pass

    return emit


def find_module(submission: Path, name: str) -> Path | None:
    """`name`.py at the top of the submission or inside its only folder (what "Compress folder"
    makes); else the single .py file of a one-file upload."""
    if not submission.is_dir():
        return None
    top = sorted(p for p in submission.iterdir() if not p.name.startswith(("__MACOSX", ".")))
    if (submission / f"{name}.py").is_file():
        return submission / f"{name}.py"
    folders = [p for p in top if p.is_dir() and p.name != "__pycache__"]
    if len(folders) == 1 and (folders[0] / f"{name}.py").is_file():
        return folders[0] / f"{name}.py"
    if len(top) == 1 and top[0].is_file() and top[0].suffix == ".py":
        return top[0]
    return None


def missing_module(name: str) -> str:
    """What a learner reads when find_module found nothing."""
    return f"no {name}.py found: upload {name}.py, or a zip with it at the top level (or inside its only folder)"


def import_module(path: Path, name: str) -> ModuleType:
    """Run the learner's module file as module `name`; its folder goes first on sys.path, so a
    zip's module may import its sibling files."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def safe_text(make: Callable[[], Any], limit: int = MESSAGE_CHARS) -> str:
    try:
        text = str(make())
    except BaseException:  # a hostile __str__ must not take the harness down
        return "<unprintable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    """The exception's type and message, where the learner's code raised it, truncated."""
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"called sys.exit({safe_text(lambda: exc.code, 100)})"
    detail = safe_text(lambda: exc)
    location = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        location = f" (at {Path(tb.tb_frame.f_code.co_filename).name}, line {tb.tb_lineno})"
    return f"{name}: {detail}{location}" if detail else f"{name}{location}"

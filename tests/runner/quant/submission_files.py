"""The test submissions as files and as a zip; no pytest here, so bench/quant_grader.py can use it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE / "submissions"
CLAIMS = HERE / "claims"


def files_for(code: str, claims: str = "correct") -> dict[str, str | Path]:
    """A submission folder's files: submissions/<code>.py as quantizer.py, claims/<claims>.json,
    and for a mistake the correct quantizer beside it as reference_quantizer.py (each mistake
    replaces one step of it)."""
    files: dict[str, str | Path] = {
        "quantizer.py": SUBMISSIONS / f"{code}.py",
        "claims.json": CLAIMS / f"{claims}.json",
    }
    if code != "correct":
        files["reference_quantizer.py"] = SUBMISSIONS / "correct.py"
    return files


def zipped(files: dict[str, str | Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, source in files.items():
            zf.writestr(name, source.read_text(encoding="utf-8") if isinstance(source, Path) else source)
    return buffer.getvalue()

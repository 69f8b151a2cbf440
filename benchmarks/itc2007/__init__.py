"""ITC-2007 Track 3 (curriculum-based course timetabling) solved by the general solver.

`ctt` reads the instances and writes solutions; `python -m benchmarks.itc2007` runs the benchmark.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Where the instances and the official validator live: `shared/` beside the repository.

    The repository is cloned elsewhere in CI with `shared/` still beside it, so the path is
    found from this file; OFFSEASON_ITC_DIR points somewhere else when needed.
    """
    override = os.environ.get("OFFSEASON_ITC_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "benchdata" / "itc2007"

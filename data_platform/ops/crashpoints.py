"""Named stage boundaries where a test can kill the ingest job for real (SIGKILL, no cleanup).

Crash recovery is a promise about what the *next* run does after a job dies anywhere; the
only honest test kills a real process at each boundary. ``CODEMILL_TEST_KILL_AT=<boundary>``
makes :func:`crash_point` kill the process when it reaches that boundary; unset (always, in
production) it does nothing. This module is the one place the variable is read.

Boundaries, in pipeline order:

- ``after_bronze``: bronze.files merged, nothing curated;
- ``after_functions``: silver.functions merged, silver.files not yet (the silver write half done);
- ``refine``: refine wrote its decisions into silver.files, gold not yet written;
- ``gate``: a new gold version written, the quality gate not yet recorded.

A kill anywhere else leaves one of the states these produce (e.g. after the whole silver
write, silver is ahead of gold exactly as after ``refine``), so these four cover the recovery
paths: re-curate against silver, redo a half-written curation, rebuild gold that fell
behind silver, gate an ungated gold version.
"""

from __future__ import annotations

import os
import signal
import sys

ENV_VAR = "CODEMILL_TEST_KILL_AT"
BOUNDARIES = ("after_bronze", "after_functions", "refine", "gate")


def crash_point(boundary: str) -> None:
    """Die here, as ``kill -9`` would, when the test hook names this boundary."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown crash point {boundary!r}")
    if os.environ.get(ENV_VAR) == boundary:
        print(f"[crash point] killing process {os.getpid()} at {boundary}", flush=True)
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

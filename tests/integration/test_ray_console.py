"""The embedded local Ray that `codemill train` starts: what its worker processes are told.

Runs in a fresh process with its own Ray, as the CLI does, so no Ray fixture of this pytest
process is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]

# Starts the embedded Ray through init_ray, then asks one of its worker processes (where Ray
# Train's controller runs) whether the controller would start a preemption watcher.
ASK_A_WORKER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {root!r})
    import ray
    from tests.conftest import make_config
    from training.ray_console import init_ray

    init_ray(make_config({lake!r}))

    @ray.remote(num_cpus=0)
    def preemption_watcher_enabled():
        from ray._private.ray_constants import env_bool
        from ray.train.v2._internal.constants import (
            DEFAULT_ENABLE_PREEMPTION_WATCHER, ENABLE_PREEMPTION_WATCHER_ENV_VAR)
        return env_bool(ENABLE_PREEMPTION_WATCHER_ENV_VAR, DEFAULT_ENABLE_PREEMPTION_WATCHER)

    print(json.dumps(ray.get(preemption_watcher_enabled.remote())))
    ray.shutdown()
    """
)


def test_the_embedded_ray_starts_no_preemption_watcher(tmp_path):
    from ray.train.v2._internal.constants import DEFAULT_ENABLE_PREEMPTION_WATCHER

    assert DEFAULT_ENABLE_PREEMPTION_WATCHER  # on by default: a Ray cluster keeps it
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_TRAIN_")}
    done = subprocess.run(
        [sys.executable, "-c", ASK_A_WORKER.format(root=str(REPO), lake=str(tmp_path / "lake"))],
        capture_output=True, text=True, timeout=240, env={**env, "RAY_AUTH_MODE": "disabled"}, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) is False

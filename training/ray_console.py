"""Ray on the console: start it, and show only our progress lines from its workers unless verbose.

With ``log_to_driver`` Ray prints every line any worker writes (Ray Train's controller
housekeeping, Ray Data's execution plans, DeepSpeed and transformers chatter) prefixed with
the actor's name. Quiet (the default) keeps the training progress lines, which workers print
through :func:`data_platform.ops.logs.progress_print`, and sends the rest to the run log file;
Ray also keeps each worker's full output in its session log directory. ``--verbose`` restores
Ray's own printing.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from data_platform.ops.logs import (
    PROGRESS_MARK,
    VERBOSE_ENV,
    is_verbose,
    quiet_engine_env,
    quiet_worker_logging,
    route_engine_loggers_to_root,
)
from training.config import TrainingConfig

WORKER_OUTPUT_LOGGER = "ray.worker_output"
_HANDLER_NAME = "ray_print_logs"  # the name Ray registers its printing handler under

# Ray Train watches a cluster's nodes for preemption from one more actor process; the embedded
# Ray is one machine that nothing preempts. Every Ray worker process wakes every 10 ms (a fixed
# interval in Ray's core worker), and on 2 cores ten idle actors slowed a DeepSpeed process
# beside them by 9-15% (docs/engine-notes.md, "Ray's idle processes").
LOCAL_ONLY_ENV = {"RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"}


def init_ray(config: TrainingConfig) -> None:
    """Start (or join) Ray for a training run, with the console policy above."""
    import ray
    import ray.data  # noqa: F401  (configures its loggers on import: route them below)
    import ray.train  # noqa: F401

    if ray.is_initialized():
        return
    verbose = is_verbose()
    local = config.ray.address == "local"
    runtime_env = {
        "worker_process_setup_hook": quiet_worker_logging,
        "env_vars": {VERBOSE_ENV: "1" if verbose else "0", **quiet_engine_env(verbose),
                     **(LOCAL_ONLY_ENV if local else {})},
    }
    route_engine_loggers_to_root()
    if local:
        # Bounded object store: the machine is shared and the stream needs little of it.
        # The dashboard stays on: Ray Train's placement-group cleaner polls its state API.
        ray.init(object_store_memory=1 << 30, log_to_driver=True, runtime_env=runtime_env)
    else:
        ray.init(address=config.ray.address, log_to_driver=True, runtime_env=runtime_env)
    route_engine_loggers_to_root()
    if not verbose:
        show_only_progress_lines()


def show_only_progress_lines() -> bool:
    """Replace Ray's worker-output printer on this driver; False when this Ray has no such hook.

    Ray exposes no public switch for this; its driver dispatches worker output to named
    handlers (``ray._private.ray_logging.global_worker_stdstream_dispatcher``). If a Ray
    upgrade moves it, the console is merely as noisy as before.
    """
    try:
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
    except ImportError:
        return False
    dispatcher.remove_handler(_HANDLER_NAME)
    dispatcher.add_handler(_HANDLER_NAME, print_progress_lines)
    return True


def print_progress_lines(data: dict[str, Any]) -> None:
    """One batch of a worker's output: progress lines to stdout, everything to the run log."""
    log = logging.getLogger(WORKER_OUTPUT_LOGGER)
    origin = f"({data.get('actor_name') or data.get('task_name') or 'worker'} pid={data.get('pid')})"
    for line in data.get("lines", ()):
        mark = line.find(PROGRESS_MARK)  # Ray Train may put its own prefix in front
        if mark >= 0:
            sys.stdout.write(line[mark + len(PROGRESS_MARK):] + "\n")
            sys.stdout.flush()
        else:
            log.info("%s %s", origin, line)

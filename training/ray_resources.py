"""Whether the Ray a run joined can place its workers at all.

A run asking for GPUs that Ray does not see (no GPU on the machine, or Ray's NVML probe missed
it) or for more CPUs than there are never starts: Ray Train gives up on the worker group after
60 s and, within the run's failure budget (unlimited by default), asks again, while the console
shows only the autoscaler's complaints. The embedded local Ray cannot grow, so such a run is
refused at once with the reason; a cluster may be scaling up, so there it is only said.
"""

from __future__ import annotations

from training.settings import TrainSettings


def unmet_request(train: TrainSettings, available: dict[str, float]) -> str | None:
    """What the run's workers reserve and ``available`` (Ray's cluster resources) lacks; None if it fits."""
    problems = []
    gpus, node_cpus = available.get("GPU", 0), available.get("CPU", 0)
    if train.use_gpu and gpus < train.workers:
        problems.append(
            f"train.use_gpu asks for {train.workers} GPU(s), one per worker (train.workers), and Ray sees "
            f"{gpus:g}: run where Ray sees GPUs, lower train.workers, or set train.use_gpu=false"
        )
    cpus = train.workers * train.cpus_per_worker
    if node_cpus < cpus:
        problems.append(
            f"{train.workers} worker(s) reserve {train.cpus_per_worker:g} CPU(s) each (train.cpus_per_worker), "
            f"{cpus:g} in all, and Ray has {node_cpus:g}: lower train.workers or train.cpus_per_worker"
        )
    return "; ".join(problems) or None

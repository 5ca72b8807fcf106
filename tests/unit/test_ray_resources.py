"""A run the Ray it joined can never place is told apart from one that fits."""

from __future__ import annotations

from training.ray_resources import unmet_request
from training.settings import TrainSettings


def test_a_run_that_fits_has_no_problem():
    assert unmet_request(TrainSettings(workers=2, cpus_per_worker=0.5), {"CPU": 2.0}) is None
    gpu_run = TrainSettings(workers=2, use_gpu=True, cpus_per_worker=1)
    assert unmet_request(gpu_run, {"CPU": 16.0, "GPU": 2.0}) is None


def test_gpus_ray_does_not_see_are_named_with_the_ways_out():
    problem = unmet_request(TrainSettings(workers=2, use_gpu=True), {"CPU": 16.0, "GPU": 1.0})
    assert "2 GPU(s)" in problem and "Ray sees 1" in problem and "train.use_gpu=false" in problem
    assert "GPU" in unmet_request(TrainSettings(workers=1, use_gpu=True), {"CPU": 2.0})  # no GPU key at all


def test_cpus_beyond_the_node_are_named():
    problem = unmet_request(TrainSettings(workers=4, cpus_per_worker=1), {"CPU": 2.0})
    assert "4 in all" in problem and "Ray has 2" in problem and "GPU" not in problem


def test_both_shortfalls_are_reported_together():
    problem = unmet_request(TrainSettings(workers=3, cpus_per_worker=1, use_gpu=True), {"CPU": 2.0, "GPU": 1.0})
    assert "GPU(s)" in problem and "CPU(s) each" in problem

"""How the training benchmark judges the full path when it alternates with DeepSpeed for several rounds.

A 2-core VM drifts by more than the overhead being judged, so each full path is compared with the
DeepSpeed runs just before and after it, not with the mean of the whole run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput_under_test", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deepspeed(round_index: int, tokens_per_s: float, stage: int = 2) -> dict:
    return {"mode": f"deepspeed_zero{stage}", "tokens_per_s": tokens_per_s, "round": round_index}


def full_path(round_index: int, tokens_per_s: float, stage: int = 2, steps: int = 10) -> dict:
    return {"mode": f"ray_data_train_zero{stage}", "tokens_per_s": tokens_per_s, "round": round_index,
            "steps_timed": steps}


def test_each_round_is_judged_against_the_deepspeed_runs_either_side_of_it(bench):
    # DeepSpeed drifts 200 -> 300 -> 100: a whole-run mean (200) would misjudge every round.
    results = [deepspeed(0, 200.0), full_path(0, 225.0), deepspeed(1, 300.0), full_path(1, 190.0),
               deepspeed(2, 100.0)]
    bench.compare(results)
    assert [r["vs_deepspeed"] for r in results if "vs_deepspeed" in r] == [0.9, 0.95]
    assert results[1]["deepspeed_tokens_per_s"] == 250.0
    assert bench.round_ratios(results) == [0.9, 0.95]
    assert bench.judged_ratio(results) == pytest.approx(0.925)


def test_the_ratio_is_the_median_round_so_one_disturbed_round_does_not_decide_it(bench):
    results = [deepspeed(0, 200.0), full_path(0, 190.0), deepspeed(1, 200.0), full_path(1, 120.0),
               deepspeed(2, 200.0), full_path(2, 194.0), deepspeed(3, 200.0)]
    bench.compare(results)
    assert bench.round_ratios(results) == [0.95, 0.6, 0.97]
    assert bench.judged_ratio(results) == 0.95


def test_without_the_closing_run_the_last_round_uses_the_run_before_it(bench):
    results = [deepspeed(0, 200.0), full_path(0, 180.0)]
    bench.compare(results)
    assert bench.judged_ratio(results) == 0.9


def test_a_round_whose_full_path_timed_no_step_scores_zero(bench):
    results = [deepspeed(0, 200.0), {**full_path(0, 0.0, steps=0)}, deepspeed(1, 200.0),
               full_path(1, 190.0), deepspeed(2, 200.0)]
    bench.compare(results)
    assert bench.round_ratios(results) == [0.0, 0.95]
    assert bench.judged_ratio(results) == pytest.approx(0.475)


def test_no_full_path_scores_zero(bench):
    results = [deepspeed(0, 200.0)]
    bench.compare(results)
    assert bench.judged_ratio(results) == 0.0


def test_only_the_first_zero_stage_is_judged_and_each_stage_against_its_own_peer(bench):
    results = [deepspeed(0, 200.0, stage=2), deepspeed(0, 100.0, stage=3),
               full_path(0, 190.0, stage=2), full_path(0, 50.0, stage=3),
               deepspeed(1, 200.0, stage=2), deepspeed(1, 100.0, stage=3)]
    bench.compare(results)
    assert results[3]["vs_deepspeed"] == 0.5
    assert bench.round_ratios(results) == [0.95]

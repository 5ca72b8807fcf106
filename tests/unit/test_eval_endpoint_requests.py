"""--endpoint sampling: a problem's samples split into requests the server accepts, seeds kept."""

from __future__ import annotations

from training.evaluation.endpoint import sampling_requests
from training.evaluation.generate import SamplingSettings


def test_greedy_is_one_request_of_one_choice():
    (only,) = sampling_requests(SamplingSettings(10, 0.0, 0.95, 32, 4, 7), max_n=8)
    assert only["n"] == 1 and only["temperature"] == 0.0


def test_samples_split_under_the_server_cap_and_sample_j_is_seeded_seed_plus_j():
    parts = sampling_requests(SamplingSettings(10, 0.8, 0.95, 32, 4, 7), max_n=4)
    assert [p["n"] for p in parts] == [4, 4, 2]
    # The engine seeds choice c of a request with seed + c: request seeds must be seed + first sample.
    seeds = [p["seed"] + c for p in parts for c in range(p["n"])]
    assert seeds == list(range(7, 17))
    assert all(p["temperature"] == 0.8 and p["top_p"] == 0.95 and p["max_tokens"] == 32 for p in parts)
    (whole,) = sampling_requests(SamplingSettings(10, 0.8, 0.95, 32, 4, 7), max_n=10)
    assert whole["n"] == 10 and whole["seed"] == 7

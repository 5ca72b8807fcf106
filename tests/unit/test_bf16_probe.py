"""The CPU's bfloat16 verdict: measured once, kept per machine, and only 'pays' when clearly faster."""

from __future__ import annotations

import json

import pytest

from training.evaluation import bf16_probe
from training.evaluation.bf16_probe import MIN_SPEEDUP, Bf16Verdict, cpu_bf16_verdict


@pytest.mark.parametrize(
    ("float32_seconds", "bfloat16_seconds", "pays"),
    [(1.0, 0.5, True), (1.0, 1.0 / MIN_SPEEDUP, True), (1.0, 0.9, False), (1.0, 1.6, False)],
)
def test_bfloat16_pays_only_when_clearly_faster(float32_seconds, bfloat16_seconds, pays):
    assert Bf16Verdict("k", float32_seconds, bfloat16_seconds).pays is pays


def test_verdict_is_measured_once_and_then_read(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bf16_probe, "time_products", lambda: calls.append(1) or (0.010, 0.016))
    path = tmp_path / "cpu-bf16.json"
    first = cpu_bf16_verdict(path)
    assert not first.pays and calls == [1]
    assert json.loads(path.read_text())["speedup"] == pytest.approx(0.625)
    again = cpu_bf16_verdict(path)
    assert again == first and calls == [1]  # read from the file: eval and serve agree


def test_a_verdict_for_another_machine_or_a_broken_file_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setattr(bf16_probe, "time_products", lambda: (0.010, 0.004))
    path = tmp_path / "cpu-bf16.json"
    path.write_text(json.dumps({"key": "another-cpu", "float32_seconds": 1, "bfloat16_seconds": 9}))
    assert cpu_bf16_verdict(path).pays
    assert json.loads(path.read_text())["key"] == bf16_probe.machine_key()
    path.write_text("{not json")
    assert cpu_bf16_verdict(path).pays


def test_an_unwritable_cache_costs_only_the_next_probe(tmp_path, monkeypatch):
    monkeypatch.setattr(bf16_probe, "time_products", lambda: (0.010, 0.004))
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cpu_bf16_verdict(blocker / "cpu-bf16.json").pays  # parent is a file: cannot save


def test_the_key_follows_the_cpu_not_the_thread_count(tmp_path):
    import torch

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Xeon\nflags\t\t: avx512_bf16\n")
    key = bf16_probe.machine_key(cpuinfo)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)  # a server with serve.threads set reads the same verdict
        assert bf16_probe.machine_key(cpuinfo) == key
    finally:
        torch.set_num_threads(threads)
    cpuinfo.write_text("model name\t: EPYC\nflags\t\t: avx512_bf16\n")
    assert bf16_probe.machine_key(cpuinfo) != key


def test_the_real_probe_times_both_dtypes_and_leaves_the_global_generator_alone():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    float32_seconds, bfloat16_seconds = bf16_probe.time_products(rounds=1)
    assert 0 < float32_seconds < 5 and 0 < bfloat16_seconds < 5
    torch.testing.assert_close(torch.rand(3), expected)

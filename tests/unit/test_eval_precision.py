"""Which arithmetic evaluation runs in: bfloat16 only where the chip multiplies it natively."""

from __future__ import annotations

import json

import pytest

from training.evaluation.precision import (
    BFLOAT16,
    FLOAT32,
    compute_in,
    cpu_flags,
    native_bf16,
    resolve_precision,
    weights_for_generation,
)
from training.evaluation.results import heldout_rows

SAPPHIRE_RAPIDS = {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
SKYLAKE = {"avx2", "avx512f", "avx512bw"}


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu sse avx512_bf16 amx_tile\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse", "avx512_bf16", "amx_tile"}
    assert cpu_flags(tmp_path / "missing") == set()  # not Linux, or hidden: no bf16 assumed


@pytest.mark.parametrize(
    ("setting", "flags", "pays", "expected"),
    [
        ("auto", SAPPHIRE_RAPIDS, True, BFLOAT16),
        ("auto", {"avx512f", "amx_bf16"}, True, BFLOAT16),
        ("auto", SAPPHIRE_RAPIDS, False, FLOAT32),  # the units are there but measured slower
        ("auto", SKYLAKE, True, FLOAT32),  # bf16 would be emulated there: slower than float32
        ("auto", set(), True, FLOAT32),
        ("float32", SAPPHIRE_RAPIDS, True, FLOAT32),
        ("bfloat16", SKYLAKE, False, BFLOAT16),  # asked for explicitly: honoured
    ],
)
def test_auto_means_bfloat16_only_on_native_hardware_that_measured_faster(setting, flags, pays, expected):
    assert resolve_precision(setting, "cpu", flags, cpu_bf16_pays=pays) == expected


def test_auto_on_cpu_asks_this_machines_probe(monkeypatch):
    from training.evaluation import bf16_probe

    for pays, expected in ((True, BFLOAT16), (False, FLOAT32)):
        verdict = bf16_probe.Bf16Verdict("k", 1.0, 0.5 if pays else 1.2)
        monkeypatch.setattr(bf16_probe, "cpu_bf16_verdict", lambda verdict=verdict: verdict)
        assert resolve_precision("auto", "cpu", SAPPHIRE_RAPIDS) == expected


def test_unknown_devices_never_get_bfloat16_by_default():
    assert not native_bf16("mps", SAPPHIRE_RAPIDS)


def test_bfloat16_runs_products_in_bf16_and_float32_leaves_them_alone():
    import torch

    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with compute_in(BFLOAT16, "cpu"):
        assert (a @ b).dtype == torch.bfloat16
    with compute_in(FLOAT32, "cpu"):
        assert (a @ b).dtype == torch.float32


def test_stored_loss_rows_say_their_precision():
    summary = {"python": {"loss": 2.0, "perplexity": 7.39, "tokens": 10, "documents": 1}}
    rows = heldout_rows(summary, "valid+test", BFLOAT16)
    assert {json.loads(row["details_json"])["precision"] for row in rows} == {BFLOAT16}
    assert json.loads(heldout_rows(summary, "valid")[0]["details_json"])["precision"] == FLOAT32


def test_generation_gets_a_bfloat16_copy_and_held_out_keeps_the_float32_weights():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    assert weights_for_generation(model, FLOAT32) is model  # already float32: no copy
    copy = weights_for_generation(model, BFLOAT16)
    assert {p.dtype for p in copy.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # the original is untouched
    torch.testing.assert_close(copy[0].weight.float(), model[0].weight, atol=1e-2, rtol=1e-2)
    assert weights_for_generation(copy, BFLOAT16) is copy

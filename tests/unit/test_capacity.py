"""The capacity model's arithmetic, its rates file, and `codemill plan` end to end on a rates file."""

from __future__ import annotations

import json

import pytest

from codemill.cli.main import main
from data_platform import capacity

SPARK_STAGES = [stage for stage, _, _ in capacity.STAGES]


def rates(exponents: dict[str, float] | None = None) -> dict:
    exponents = exponents or {}
    table = {stage: {"mb_per_core_second": 0.5, "growth_exponent": exponents.get(stage, 1.0),
                     "measured_bytes": 1e8, "date": "2026-12-01", "command": "benchmarks/scaling.py"}
             for stage in SPARK_STAGES}
    table["tokenise"].update(tokens_per_byte=0.3, tokens_per_core_second=100_000.0)
    table["train"] = {"tokens_per_gpu_second": 50_000.0, "model": "m", "date": "2026-11", "command": "gpu"}
    table["corpus_shape"] = {"gold_fraction_of_bytes": 0.5, "bytes_per_document": 9000}
    return table


def by_stage(estimates) -> dict:
    return {e.stage: e for e in estimates}


def test_spark_stage_is_bytes_over_rate_spread_over_cores():
    workload = capacity.default_workload(rates(), corpus_tb=1.0)
    plan = by_stage(capacity.plan(rates(), workload, capacity.Cluster(spark_cores=100, gpus=8)))
    # 1 TB at 0.5 MB per core-second = 2e6 core-seconds.
    assert plan["curate"].core_hours == pytest.approx(2e6 / 3600)
    assert plan["curate"].wall_hours == pytest.approx(2e6 / 100 / 3600)
    # The gate is measured per raw byte like the other Spark stages; tokenise reads gold only.
    assert plan["tokenise"].input_bytes == pytest.approx(0.5e12)
    assert plan["tokenise"].core_hours == pytest.approx(1e6 / 3600)


def test_more_cores_shorten_wall_time_not_core_hours_and_more_data_costs_more():
    workload = capacity.default_workload(rates(), corpus_tb=2.0)
    small = by_stage(capacity.plan(rates(), workload, capacity.Cluster(100, 8)))
    large = by_stage(capacity.plan(rates(), workload, capacity.Cluster(400, 8)))
    assert large["gold"].wall_hours == pytest.approx(small["gold"].wall_hours / 4)
    assert large["gold"].core_hours == pytest.approx(small["gold"].core_hours)
    double = by_stage(capacity.plan(rates(), capacity.default_workload(rates(), corpus_tb=4.0),
                                    capacity.Cluster(100, 8)))
    assert double["crawl"].core_hours == pytest.approx(2 * small["crawl"].core_hours)


def test_training_is_gold_tokens_over_gpus():
    workload = capacity.default_workload(rates(), corpus_tb=1.0, epochs=2)
    train = by_stage(capacity.plan(rates(), workload, capacity.Cluster(100, 16)))["train"]
    tokens = 1e12 * 0.5 * 0.3 * 2
    assert workload.train_tokens == pytest.approx(tokens)
    assert train.gpu_hours == pytest.approx(tokens / 50_000 / 3600)
    assert train.wall_hours == pytest.approx(tokens / 50_000 / 16 / 3600)
    no_gpus = by_stage(capacity.plan(rates(), workload, capacity.Cluster(100, 0)))["train"]
    assert no_gpus.wall_hours == float("inf")


def test_tokenise_overlaps_training_and_says_how_many_cores_feed_the_gpus():
    workload = capacity.default_workload(rates(), corpus_tb=1.0)
    plan = by_stage(capacity.plan(rates(), workload, capacity.Cluster(100, 16)))
    assert plan["tokenise"].runs_on == "training CPUs"
    assert plan["tokenise"].wall_hours == plan["train"].wall_hours
    # 16 GPUs × 50k tokens/s consumed, 100k tokens per core-second produced: 8 cores.
    assert capacity.cores_to_feed_gpus(rates(), capacity.Cluster(100, 16)) == pytest.approx(8.0)
    assert "8.0 CPU cores keep 16 GPUs fed" in plan["tokenise"].description


def test_only_stages_that_grew_faster_than_linear_are_flagged_with_their_extrapolation():
    table = rates({"dedup_lsh_components": 1.3, "curate": 1.05})
    plan = by_stage(capacity.plan(table, capacity.default_workload(table, 1.0), capacity.Cluster(100, 8)))
    assert [stage for stage, e in plan.items() if e.superlinear] == ["dedup_lsh_components"]
    flagged = plan["dedup_lsh_components"]
    # Measured at 1e8 bytes, predicted at 1e12: the extra factor is (1e4)^0.3.
    assert flagged.wall_hours_if_growth_holds == pytest.approx(flagged.wall_hours * 1e4 ** 0.3)
    assert plan["curate"].wall_hours_if_growth_holds is None


def test_missing_or_bad_rates_are_named():
    table = rates()
    del table["gold"]["mb_per_core_second"]
    with pytest.raises(capacity.RatesError, match="'mb_per_core_second' for stage 'gold'"):
        capacity.plan(table, capacity.default_workload(table, 1.0), capacity.Cluster(10, 1))
    table = rates()
    del table["corpus_shape"]
    with pytest.raises(capacity.RatesError, match="gold fraction"):
        capacity.default_workload(table, 1.0)
    assert capacity.default_workload(table, 1.0, gold_fraction=0.25).gold_bytes == pytest.approx(0.25e12)


def test_update_rates_replaces_given_stages_and_keeps_the_rest(tmp_path):
    path = tmp_path / "rates.json"
    capacity.update_rates({"train": {"tokens_per_gpu_second": 1.0}}, path)
    capacity.update_rates({"crawl": {"mb_per_core_second": 2.0}}, path)
    capacity.update_rates({"crawl": {"mb_per_core_second": 3.0}}, path)
    loaded = capacity.load_rates(path)
    assert loaded == {"crawl": {"mb_per_core_second": 3.0}, "train": {"tokens_per_gpu_second": 1.0}}
    with pytest.raises(capacity.RatesError, match="no rates file"):
        capacity.load_rates(tmp_path / "missing.json")


def test_committed_rates_cover_every_stage_with_their_provenance():
    committed = capacity.load_rates()
    for stage in [*SPARK_STAGES, "train"]:
        entry = committed[stage]
        assert {"date", "machine", "command"} <= entry.keys(), stage
    plan = capacity.plan(committed, capacity.default_workload(committed, 67.5), capacity.Cluster(512, 32))
    assert all(e.wall_hours > 0 for e in plan)


# --------------------------------------------------------------------------- CLI smoke


def run_cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as done:
        code = done.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_prints_a_table_with_the_flagged_stage(tmp_path, capsys):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps({"rates": rates({"dedup_lsh_components": 1.4})}))
    code, out, _ = run_cli(capsys, "plan", "--corpus-tb", "67.5", "--spark-cores", "1000", "--gpus", "64",
                           "--rates", str(path))
    assert code == 0
    for stage in [*SPARK_STAGES, "train"]:
        assert stage in out
    assert "SUPERLINEAR" in out and "superlinear (measured growth exponent > 1.1): dedup_lsh_components" in out
    code, out, _ = run_cli(capsys, "plan", "--corpus-tb", "1", "--spark-cores", "100", "--gpus", "8",
                           "--rates", str(path), "--json")
    stages = {row["stage"]: row for row in json.loads(out)["stages"]}
    assert stages["curate"]["core_hours"] == pytest.approx(2e6 / 3600)


def test_plan_without_rates_fails_with_a_clear_message(tmp_path, capsys):
    code, _, err = run_cli(capsys, "plan", "--rates", str(tmp_path / "none.json"))
    assert code == 2
    assert "no rates file" in err and "--write-rates" in err

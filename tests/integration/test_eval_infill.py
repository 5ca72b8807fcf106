"""Infilling end to end: perfect and empty models through the sandbox, the CLI, rows in Delta, generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_platform.ops.records import read_rows
from tests.fixtures.evaluate import tiny_model_dir  # noqa: F401
from tests.integration.test_eval_cli import codemill
from training.evaluation.infilling import MULTI_LINE, SINGLE_LINE, infill_tasks, load_infill_tasks, task_type
from training.evaluation.problems import load_problems
from training.evaluation.sandbox import SandboxSettings
from training.evaluation.scoring import score_completions

pytestmark = pytest.mark.integration

# HumanEval/0 (nested loops), /20 and /10 (have lines whose deletion the tests miss: dropped as
# trivial) and /32 (its tests use the prompt's `poly` helper): 30 single-line, 47 multi-line tasks.
PICKED = {SINGLE_LINE: (0, 20, 32), MULTI_LINE: (0, 10)}
SINGLE_LINE_TYPE, MULTI_LINE_TYPE = task_type(SINGLE_LINE), task_type(MULTI_LINE)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("benchmark", [SINGLE_LINE, MULTI_LINE])
def test_perfect_model_scores_one_and_empty_model_zero_in_the_sandbox(benchmark):
    problems = load_problems("humaneval")
    tasks = infill_tasks([problems[i] for i in PICKED[benchmark]], benchmark)
    settings = SandboxSettings(workers=2)
    perfect = score_completions(benchmark, tasks, {t.task_id: [t.canonical_solution] for t in tasks}, settings)
    empty = score_completions(benchmark, tasks, {t.task_id: [""] for t in tasks}, settings)
    assert perfect.num_problems == empty.num_problems == len(tasks)
    assert [o.task_id for o in perfect.outcomes if o.num_correct != 1] == []
    assert perfect.pass_at_k == {1: 1.0} and empty.pass_at_k == {1: 0.0}
    assert perfect.sandbox == "bwrap"


def test_cli_scores_infill_completions_and_writes_rows_queryable_by_sql(lake_config, tmp_path, spark):
    tasks = load_infill_tasks(SINGLE_LINE, 2)
    right = {t.task_id for t in tasks[::3]}
    samples = tmp_path / "middles.jsonl"
    samples.write_text(
        "".join(
            json.dumps({"task_id": t.task_id, "completion": t.canonical_solution if t.task_id in right else ""}) + "\n"
            for t in tasks
        )
    )
    done = codemill(lake_config, "eval", "--benchmark", SINGLE_LINE, "--limit", "2", "--completions", str(samples))
    assert done.returncode == 0, done.stderr
    expected = len(right) / len(tasks)
    assert f"{SINGLE_LINE} pass@1 {expected:.3f} ({len(tasks)} tasks)" in done.stdout
    assert "95% CI" in done.stdout and "executions/s" in done.stdout and "wall time" in done.stdout
    (row,) = read_rows(lake_config, "ops.eval_results")
    assert (row["benchmark"], row["task_type"], row["metric"], row["num_samples"]) == (
        SINGLE_LINE, "single-line", "pass@1", len(tasks)
    )
    assert row["value"] == pytest.approx(expected)
    details = json.loads(row["details_json"])
    assert details["tasks_version"].startswith(f"{SINGLE_LINE}/v") and set(details["solved"]) == right
    assert details["ci95"]["low"] <= expected <= details["ci95"]["high"]

    from data_platform.sql import run_script

    path = lake_config.lake.table_path("ops.eval_results")
    query = f"SELECT task_type, metric, value FROM delta.`{path}` WHERE benchmark = '{SINGLE_LINE}'"
    result = next(run_script(spark, query)).table.to_pylist()
    assert result == [{"task_type": "single-line", "metric": "pass@1", "value": pytest.approx(expected)}]


def test_completions_for_tasks_of_another_benchmark_are_refused(lake_config, tmp_path):
    samples = tmp_path / "middles.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0/L0-L3", "completion": ""}) + "\n")
    done = codemill(lake_config, "eval", "--benchmark", SINGLE_LINE, "--limit", "1", "--completions", str(samples))
    assert done.returncode == 2 and "unknown task ids: HumanEval/0/L0-L3" in done.stderr
    assert read_rows(lake_config, "ops.eval_results") == []


def test_fim_generation_builds_the_served_prompt_and_batching_changes_nothing(tiny_model_dir):  # noqa: F811
    from training.evaluation.generate import SamplingSettings
    from training.evaluation.infill_generate import fim_format_for, generate_infills, prompt_ids
    from training.model import load_model_and_tokenizer
    from training.prompting import FimFormat

    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir))
    assert fim_format_for(str(tiny_model_dir)) is None  # no training lineage: prefix only, as serving
    fmt = fim_format_for(str(tiny_model_dir), "psm")
    tasks = load_infill_tasks(SINGLE_LINE, 1)[:4]
    ids = prompt_ids(tokenizer, fmt, tasks[0])
    assert ids[0] == tokenizer.convert_tokens_to_ids(fmt.prefix_token)
    assert ids[-1] == tokenizer.convert_tokens_to_ids(fmt.middle_token)
    one = generate_infills(model, tokenizer, tasks, SamplingSettings(max_new_tokens=24, batch_size=1), "single-line", fmt)
    four = generate_infills(model, tokenizer, tasks, SamplingSettings(max_new_tokens=24, batch_size=4), "single-line", fmt)
    assert one == four and list(one) == [t.task_id for t in tasks]
    # Line mode: a middle never runs past the end of its first line of code.
    assert all("\n" not in middle.strip("\n") for (middle,) in one.values())
    spm = generate_infills(
        model, tokenizer, tasks[:1], SamplingSettings(max_new_tokens=8), "single-line", FimFormat(order="spm")
    )
    assert len(spm[tasks[0].task_id]) == 1


def test_cli_evaluates_a_model_on_infilling_in_process(lake_config, tiny_model_dir):  # noqa: F811
    done = codemill(
        lake_config, "eval", "--model", str(tiny_model_dir), "--benchmark", SINGLE_LINE, "--limit", "1",
        "--no-heldout", "eval.max_new_tokens=16", "eval.fim=psm", "eval.generation_precision=bfloat16",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(Path(done.stdout.split("json:   ")[1].split()[0]).read_text())
    (model,) = report["models"]
    assert model["generation_precision"] == "bfloat16" and "generated in bfloat16" in done.stdout
    assert model["problems"] == len(load_infill_tasks(SINGLE_LINE, 1))
    assert set(model["completions"]) == {t.task_id for t in load_infill_tasks(SINGLE_LINE, 1)}
    assert report["task_type"] == "single-line" and report["tasks_version"].startswith(SINGLE_LINE)


def test_compare_reads_stored_results_instead_of_rerunning(lake_config, tmp_path):
    tasks = load_infill_tasks(SINGLE_LINE, 1)
    files = {}
    for name, perfect in (("perfect", True), ("empty", False)):
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text(
            "".join(
                json.dumps({"task_id": t.task_id, "completion": t.canonical_solution if perfect else ""}) + "\n"
                for t in tasks
            )
        )
        done = codemill(lake_config, "eval", "-b", SINGLE_LINE, "-n", "1", "--completions", str(files[name]))
        assert done.returncode == 0, done.stderr
    (empty_eval_id,) = [r["eval_id"] for r in read_rows(lake_config, "ops.eval_results") if r["model_path"] == str(files["empty"])]
    before = len(read_rows(lake_config, "ops.eval_results"))

    shown = codemill(lake_config, "eval", "--compare", str(files["perfect"]), "--compare", empty_eval_id)
    assert shown.returncode == 0, shown.stderr
    assert "running" not in shown.stderr and shown.stderr.count("(not re-run)") == 2
    (line,) = [text for text in shown.stdout.splitlines() if text.startswith(SINGLE_LINE)]
    assert "1 [1.000, 1.000]" in line and "0 [0.000, 0.000]" in line
    page = Path(shown.stdout.split("comparison: ")[1].split()[0])
    assert "data:image/png;base64," in page.read_text()
    assert len(read_rows(lake_config, "ops.eval_results")) == before  # nothing re-run, nothing written


def test_line_completion_on_the_gold_test_split_per_language(lake_config, tiny_model_dir):  # noqa: F811
    from tests.fixtures.evaluate import fixture_gold_rows, publish, write_gold

    missing = codemill(lake_config, "eval", "--model", str(tiny_model_dir), "-b", "line-completion", "--no-passk")
    assert missing.returncode == 0, missing.stderr
    assert "line-completion: no gold test split" in missing.stderr
    assert read_rows(lake_config, "ops.eval_results") == []

    version = write_gold(lake_config, fixture_gold_rows())
    publish(lake_config, version)
    done = codemill(
        lake_config, "eval", "--model", str(tiny_model_dir), "-b", "line-completion", "--no-heldout",
        "eval.line_max_new_tokens=12", "eval.fim=psm",
    )
    assert done.returncode == 0, done.stderr
    rows = read_rows(lake_config, "ops.eval_results")
    assert {(r["task_type"], r["language"], r["metric"]) for r in rows} == {
        (task, language, metric)
        for task in ("line", "line-with-suffix", "span", "span-with-suffix")
        for language in ("python", "javascript", "all")
        for metric in ("exact_match", "edit_similarity")
    }
    assert all(0.0 <= r["value"] <= 1.0 and r["eval_table_version"] == version for r in rows)
    assert {r["num_samples"] for r in rows if r["language"] == "python"} == {3}  # the 3 test documents
    assert json.loads(rows[0]["details_json"])["split"] == "test"
    assert "line-with-suffix edit_similarity" in done.stdout and "    python: " in done.stdout


@pytest.mark.parametrize(("kind", "task_type"), [("line", SINGLE_LINE_TYPE), ("span", MULTI_LINE_TYPE)])
def test_a_model_without_fim_generates_once_for_both_views_of_a_line(tiny_model_dir, kind, task_type):  # noqa: F811
    import email
    import json as json_module

    from training.evaluation.generate import SamplingSettings
    from training.evaluation.generators import LocalGenerator
    from training.evaluation.line_completion import sample_spans
    from training.model import load_model_and_tokenizer
    from training.prompting import FimFormat

    # Real code nobody here wrote: the standard library's json and email packages.
    sources = [*Path(json_module.__file__).parent.glob("*.py"), *Path(email.__file__).parent.glob("*.py")]
    documents = [(path.name, "python", path.read_text()) for path in sorted(sources)]
    spans = [span for span in sample_spans(documents, per_language=5, seed=3) if span.kind == kind]
    model, tokenizer = load_model_and_tokenizer(str(tiny_model_dir))
    calls = []
    generate = model.generate
    model.generate = lambda **options: calls.append(1) or generate(**options)
    sampling = SamplingSettings(1, 0.0, 0.95, 12, 4, 0)
    generator = LocalGenerator(model, tokenizer, None)

    without, with_suffix = generator.infills_without_and_with_suffix(
        [span.as_task(True) for span in spans], sampling, task_type
    )
    shared_calls = len(calls)
    # Exactly what asking twice gives, at half the generations.
    assert without == generator.infills([span.as_task(False) for span in spans], sampling, task_type)
    assert with_suffix == generator.infills([span.as_task(True) for span in spans], sampling, task_type)
    assert len(spans) >= 3 and len(calls) == 3 * shared_calls
    # A FIM model's prompt shows the suffix: two prompts, asked twice.
    fim = LocalGenerator(model, tokenizer, FimFormat(order="psm", source="test"))
    assert fim.infills_without_and_with_suffix([span.as_task(True) for span in spans], sampling, task_type) is None

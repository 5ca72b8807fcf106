"""`codemill eval --endpoint`: a model scored through `codemill serve` equals the same model in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_platform.ops.records import read_rows
from tests.fixtures.serve import ServerProcess, register_fim_run, tiny_model_dir  # noqa: F401
from tests.integration.test_eval_cli import codemill
from training.evaluation.precision import resolve_precision

pytestmark = pytest.mark.integration

RUN_ID = "fim-eval-run"
KEY = "eval-test-key-0123456789"


def talkative_copy(source: Path, target: Path) -> Path:
    """The tiny model, unable to predict end-of-text or FIM sentinels.

    Untrained, it predicts a special token first and every completion would be empty: an
    agreement between two empty answers proves nothing. With those output rows zeroed it
    writes text (gibberish), which both paths must then reproduce token for token.
    """
    import torch

    from training.evaluation.infill_generate import stop_ids
    from training.model import load_model_and_tokenizer, save_model_dir

    model, tokenizer = load_model_and_tokenizer(str(source))
    with torch.no_grad():
        for token in stop_ids(tokenizer):
            model.get_output_embeddings().weight[token] = 0
    return save_model_dir(model, tokenizer, target)


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_model_dir):  # noqa: F811
    from tests.conftest import make_config

    root = tmp_path_factory.mktemp("eval-endpoint")
    config = make_config(root / "lake")
    register_fim_run(config, RUN_ID, talkative_copy(tiny_model_dir, root / "export"))
    server = ServerProcess(root / "lake", "--model", RUN_ID, env={"CODEMILL_SERVE_API_KEYS": KEY}).start()
    yield config, server
    server.stop()


def report_of(done) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(Path(done.stdout.split("json:   ")[1].split()[0]).read_text())


@pytest.mark.parametrize(("benchmark", "limit"), [("humaneval-infill-single", "1"), ("humaneval", "2")])
def test_endpoint_and_in_process_scores_agree_at_temperature_zero(served, benchmark, limit):
    config, server = served
    common = ["-b", benchmark, "-n", limit, "--no-heldout", "eval.max_new_tokens=24"]
    local = report_of(codemill(config, "eval", "--model", RUN_ID, *common))
    remote = report_of(
        codemill(config, "eval", "--endpoint", server.url, *common, f"eval.endpoint_api_key={KEY}")
    )
    (here,), (there,) = local["models"], remote["models"]
    assert there["endpoint"] == server.url and there["training_run_id"] == RUN_ID
    assert there["completions"] == here["completions"]  # the same text, task by task
    assert all(c.strip() for batch in here["completions"].values() for c in batch)
    assert there["pass_at_k"] == here["pass_at_k"] and there["problems"] == here["problems"]
    rows = [r for r in read_rows(config, "ops.eval_results") if r["benchmark"] == benchmark]
    assert {r["model_path"] for r in rows} == {here["model_path"], server.url}
    assert {r["training_run_id"] for r in rows} == {RUN_ID}


def test_unreachable_endpoint_is_one_clear_error(served):
    config, _ = served
    done = codemill(config, "eval", "--endpoint", "http://127.0.0.1:9", "-n", "1", "--no-heldout")
    assert done.returncode == 2 and "eval failed: GET http://127.0.0.1:9/v1/models/default" in done.stderr


def test_endpoint_and_in_process_line_completion_agree_at_temperature_zero(served):
    from tests.fixtures.evaluate import fixture_gold_rows, publish, write_gold

    config, server = served
    version = write_gold(config, fixture_gold_rows())
    publish(config, version)
    common = [
        "-b", "line-completion", "--no-heldout", "--table-version", str(version), "eval.line_documents=2",
        "eval.line_max_new_tokens=12", "eval.span_max_new_tokens=24",
    ]
    local = report_of(codemill(config, "eval", "--model", RUN_ID, *common))
    remote = report_of(codemill(config, "eval", "--endpoint", server.url, *common, f"eval.endpoint_api_key={KEY}"))
    (here,), (there,) = local["models"], remote["models"]
    assert here["line_completion"]["line_tasks"] == here["line_completion"]["span_tasks"] == 4  # 2 docs x 2 languages
    assert there["line_completion"]["examples"] == here["line_completion"]["examples"]  # same text, task by task
    assert any(e["prediction"].strip() for e in here["line_completion"]["examples"])
    assert there["line_completion"]["metrics"] == here["line_completion"]["metrics"]
    # serve.dtype=auto and eval.generation_precision=auto pick the same weights (bf16 on chips with
    # bf16 units), and both reports say which: the server's card tells the remote one.
    assert here["generation_precision"] == there["generation_precision"] == resolve_precision("auto", "cpu")
    stored = [json.loads(r["details_json"]) for r in read_rows(config, "ops.eval_results")
              if r["benchmark"] == "line-completion"]
    assert {d["precision"] for d in stored} == {resolve_precision("auto", "cpu")}
    assert {key.split("/")[0] for key in here["line_completion"]["metrics"]} == {
        "line", "line-with-suffix", "span", "span-with-suffix"
    }


def test_sampled_pass_at_10_through_the_endpoint_is_seeded_and_runs_every_sample(served):
    config, server = served
    common = [
        "-b", "humaneval", "-n", "2", "--no-heldout", "eval.max_new_tokens=16", "eval.samples=10",
        "eval.temperature=0.8", "eval.ks=[1,10]", f"eval.endpoint_api_key={KEY}",
    ]
    # 10 samples a problem in requests of at most 4 choices (4+4+2), one request at a time: the
    # same batches both runs (float sums depend on the batch's shape, so concurrent traffic
    # could move a sampled token; that is why this run is alone on the server).
    split = ["eval.endpoint_max_n=4", "eval.endpoint_concurrency=1"]
    reports = [report_of(codemill(config, "eval", "--endpoint", server.url, *common, *split)) for _ in range(2)]
    (first,), (second,) = (report["models"] for report in reports)
    assert first["completions"] == second["completions"]  # seeded: the same samples again
    assert {len(batch) for batch in first["completions"].values()} == {10}
    assert len({c for batch in first["completions"].values() for c in batch}) > 2  # really sampled
    assert [(p["n"], len(p["results"])) for p in first["per_problem"]] == [(10, 10), (10, 10)]
    assert set(first["pass_at_k"]) == {"1", "10"} and first["problems"] == 2
    rows = [r for r in read_rows(config, "ops.eval_results") if r["metric"] == "pass@10"]
    assert len(rows) == 2 and {r["num_samples"] for r in rows} == {2}

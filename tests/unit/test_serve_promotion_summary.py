"""The evaluation summary a promotion records: newest evaluation only, no metric overwritten."""

from datetime import UTC, datetime

from serving.promotion import evaluation_summary


def _row(eval_id, benchmark, task_type, metric, language, value, hour):
    return {"eval_id": eval_id, "benchmark": benchmark, "task_type": task_type, "metric": metric,
            "language": language, "value": value, "evaluated_at": datetime(2026, 1, 1, hour, tzinfo=UTC)}


def test_task_types_of_one_benchmark_are_kept_apart():
    rows = [
        _row("e1", "line-completion", "line", "exact_match", "python", 0.4, 10),
        _row("e1", "line-completion", "span", "exact_match", "python", 0.1, 10),
        _row("e1", "humaneval", "completion", "pass@1", "python", 0.5, 10),
    ]
    _, summary = evaluation_summary(rows)
    assert summary == {
        "line-completion[line]": {"exact_match": {"python": 0.4}},
        "line-completion[span]": {"exact_match": {"python": 0.1}},
        "humaneval": {"pass@1": {"python": 0.5}},
    }


def test_only_the_newest_evaluation_is_summarised():
    rows = [
        _row("old", "humaneval", None, "pass@1", "python", 0.2, 9),
        _row("new", "humaneval", None, "pass@1", "python", 0.6, 11),
    ]
    order, summary = evaluation_summary(rows)
    assert order == ["new", "old"]
    assert summary == {"humaneval": {"pass@1": {"python": 0.6}}}

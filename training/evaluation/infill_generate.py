"""Middles for infilling tasks from a Hugging Face causal LM, built as `codemill serve` builds them.

The prompt is the editor's view: prefix and suffix in the model's trained FIM format
(:func:`training.prompting.fim_prompt_ids`), or the prefix alone for a model that never
learned FIM (serving's ``fim_fallback=prefix_only``). The raw continuation is cut by the
completion rules editors get (:func:`training.completion.finish_completion`): one line for
single-line tasks, ``auto`` (the block the cursor is in) for multi-line ones. Both rules
are the server's, so evaluating here or through ``--endpoint`` scores the same text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from training.completion import CompletionContext, completion_end, finish_completion
from training.evaluation.generate import SamplingSettings
from training.evaluation.prefill import generate_rows
from training.evaluation.problems import Problem
from training.fim import FIM_TOKENS
from training.prompting import FimFormat, encode, fim_prompt_ids

LINEAGE_FILE = "codemill_lineage.json"  # training.loop.LINEAGE_FILE (not imported: pulls in Ray)
EOS_TOKEN = "<|endoftext|>"


def fim_format_for(load_spec: str, choice: str = "auto") -> FimFormat | None:
    """The FIM format to prompt with: ``auto`` reads the model's training lineage, as serving does.

    ``psm``/``spm`` force an order (a model trained elsewhere with these sentinels);
    ``none`` always completes from the prefix alone.
    """
    if choice in ("psm", "spm"):
        return FimFormat(order=choice, source=f"eval.fim={choice}")
    if choice == "none":
        return None
    path = Path(load_spec).expanduser() / LINEAGE_FILE
    if not path.is_file():
        return None
    try:
        return FimFormat.from_lineage(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def completion_mode(task_type: str) -> str:
    """Single-line tasks get one line (the editor's line mode); multi-line ones ``auto``."""
    return "line" if task_type == "single-line" else "auto"


def prompt_ids(tokenizer, fmt: FimFormat | None, task: Problem) -> list[int]:
    """FIM when there is a suffix and a format (serving.prompts.completion_plan's choice)."""
    if fmt is None or not task.suffix:
        return encode(tokenizer, task.prompt)
    return fim_prompt_ids(tokenizer, fmt, task.prompt, task.suffix)


def stop_ids(tokenizer) -> list[int]:
    """End of text and the FIM sentinels end a middle (serving.prompts.stop_token_ids' set)."""
    vocab = tokenizer.get_vocab()
    ids = {vocab[token] for token in (EOS_TOKEN, *FIM_TOKENS) if token in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return sorted(ids)


def _rules_stop(tokenizer, contexts: list[tuple[CompletionContext, ...]], prompt_length: int):
    """Stops a row once the completion rules of every view of it have decided where its middle ends."""
    import torch
    from transformers import StoppingCriteria

    class RulesStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            texts = tokenizer.batch_decode(input_ids[:, prompt_length:], skip_special_tokens=True)
            done = [
                all(completion_end(text, view, final=False) is not None for view in views)
                for text, views in zip(texts, contexts, strict=True)
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return RulesStop()


def generate_infills(
    model,
    tokenizer,
    tasks: Sequence[Problem],
    sampling: SamplingSettings,
    task_type: str,
    fmt: FimFormat | None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[str]]:
    """One middle per task (greedy) or ``sampling.samples`` (sampled), keyed by task id."""
    (middles,) = generate_infill_views(model, tokenizer, tasks, sampling, task_type, fmt, (None,), progress)
    return middles


def generate_infill_views(
    model,
    tokenizer,
    tasks: Sequence[Problem],
    sampling: SamplingSettings,
    task_type: str,
    fmt: FimFormat | None,
    suffix_views: Sequence[str | None],
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, list[str]]]:
    """Middles of ``tasks`` under several suffixes the completion rules see, one generation per prompt.

    Per view, the rules see the task's own suffix (None) or the given one ("" = none); the
    prompt is the task's, the same for every view. A model without FIM is prompted with the
    prefix alone, so a line with and without its suffix is one prompt: generating it once, on
    until every view's rules have decided, and cutting each view's middle from that text gives
    what two generations would (same prompts in the same batches; a continuation only extends
    the text each view was cut from). Line completion asks both, so a base model costs half.
    """
    import torch

    per_task = 1 if sampling.greedy else sampling.samples
    mode = completion_mode(task_type)
    encoded = {task.task_id: prompt_ids(tokenizer, fmt, task) for task in tasks}
    order = sorted(tasks, key=lambda task: len(encoded[task.task_id]), reverse=True)
    step = max(1, sampling.batch_size // per_task)
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids(tokenizer)[0]
    views: list[dict[str, list[str]]] = [{task.task_id: [] for task in tasks} for _ in suffix_views]
    torch.manual_seed(sampling.seed)
    for start in range(0, len(order), step):
        batch = order[start : start + step]
        rows = [encoded[task.task_id] for task in batch]
        width = max(map(len, rows))  # left padding: every row's new tokens start at this column
        contexts = [
            tuple(
                CompletionContext(prefix=task.prompt, suffix=task.suffix if view is None else view, mode=mode)  # type: ignore[arg-type]
                for view in suffix_views
            )
            for task in batch
            for _ in range(per_task)
        ]
        options = sampling.generate_options(per_task)
        with torch.inference_mode():
            output, _ = generate_rows(
                model, rows, pad, per_task,
                {**options, "eos_token_id": stop_ids(tokenizer), "pad_token_id": pad,
                 "stopping_criteria": [_rules_stop(tokenizer, contexts, width)]},
            )
        texts = tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        for index, (text, row_views) in enumerate(zip(texts, contexts, strict=True)):
            for middles, context in zip(views, row_views, strict=True):
                middles[batch[index // per_task].task_id].append(finish_completion(text, context))
        if progress is not None:
            progress(min(start + step, len(order)), len(order))
    return [{task.task_id: middles[task.task_id] for task in tasks} for middles in views]

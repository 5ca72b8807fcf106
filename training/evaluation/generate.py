"""Completions for benchmark prompts from a Hugging Face causal LM: batched, sampled or greedy.

A HumanEval prompt ends inside a function (signature + docstring); the model writes the body.
Generation stops at the first line that leaves the function (a new top-level ``def``,
``class``, ``if``, ``print`` or comment, as in the Codex paper), and the completion is cut
there, so only the body is executed against the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from training import completion as completion_rules
from training.evaluation.prefill import generate_rows
from training.evaluation.problems import Problem

STOP_SEQUENCES = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#", "\nassert ", '\n"""', "\n@")


@dataclass(frozen=True)
class SamplingSettings:
    samples: int = 1
    temperature: float = 0.0  # 0 = greedy (one deterministic completion per problem)
    top_p: float = 0.95
    max_new_tokens: int = 384
    batch_size: int = 8
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def generate_options(self, per_prompt: int) -> dict:
        """Keyword arguments of ``model.generate`` for ``per_prompt`` sequences per prompt."""
        options: dict = dict(max_new_tokens=self.max_new_tokens, num_return_sequences=per_prompt)
        if self.greedy:
            options.update(do_sample=False)
        else:
            options.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        return options


def truncate_at_stop(text: str, stops: Sequence[str] = STOP_SEQUENCES) -> str:
    """Cut a generated continuation at the earliest stop sequence (the body ends before it).

    The rule is training.completion's, the one `codemill serve` applies to ``stop``.
    """
    return completion_rules.truncate_at_stop(text, stops)


def split_trailing_whitespace(prompt: str) -> tuple[str, str]:
    """(prompt without trailing whitespace, that whitespace).

    HumanEval prompts end in a newline; BPE tokenizers merge a newline with the next line's
    indentation, so a prompt ending in a bare newline leaves the model at a token boundary it
    rarely saw in training (SmolLM2 then writes prose). Generation starts after the stripped
    prompt instead; :func:`completion_after` maps the text back onto the original prompt.
    """
    stripped = prompt.rstrip()
    return stripped, prompt[len(stripped) :]


def completion_after(whitespace: str, generated: str) -> str:
    """The completion that, appended to the original prompt, gives stripped prompt + generated."""
    if generated.startswith(whitespace):
        return generated[len(whitespace) :]
    return generated if generated[:1].isspace() else "\n" + generated


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate_completions(
    model,
    tokenizer,
    problems: Sequence[Problem],
    sampling: SamplingSettings,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[str]]:
    """``sampling.samples`` completions per problem (one when greedy), keyed by task id."""
    import torch

    per_problem = 1 if sampling.greedy else sampling.samples
    # Longest prompts first, so each batch pads little and memory peaks early.
    order = sorted(problems, key=lambda problem: len(problem.prompt), reverse=True)
    prompts_per_batch = max(1, sampling.batch_size // per_problem)
    completions: dict[str, list[str]] = {problem.task_id: [] for problem in problems}
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(sampling.seed)
    done = 0
    for batch in _batches(order, prompts_per_batch):
        prompts = [split_trailing_whitespace(problem.prompt) for problem in batch]
        rows = tokenizer([stripped for stripped, _ in prompts])["input_ids"]
        options = sampling.generate_options(per_problem)
        with torch.inference_mode():
            output, width = generate_rows(
                model, rows, tokenizer.pad_token_id, per_problem,
                {**options, "stop_strings": list(STOP_SEQUENCES), "tokenizer": tokenizer,
                 "pad_token_id": tokenizer.pad_token_id},
            )
        new_tokens = output[:, width:]
        texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        for index, text in enumerate(texts):
            whitespace = prompts[index // per_problem][1]
            body = completion_after(whitespace, truncate_at_stop(text))
            completions[batch[index // per_problem].task_id].append(body)
        done += len(batch)
        if progress is not None:
            progress(done, len(problems))
    return completions

"""Where completions come from: a model loaded in this process, or a server's API.

Both give whole-body completions (HumanEval) and middles (infilling, line completion) with
the same prompts and cutting rules, so the scoring code does not care which one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from training.evaluation.endpoint import Endpoint, endpoint_completions, endpoint_infills
from training.evaluation.generate import SamplingSettings, generate_completions
from training.evaluation.infill_generate import generate_infill_views, generate_infills
from training.evaluation.problems import Problem
from training.prompting import FimFormat


@dataclass
class LocalGenerator:
    model: object
    tokenizer: object
    fim: FimFormat | None  # None: infilling prompts hold the prefix only

    @property
    def fim_label(self) -> str:
        return self.fim.order if self.fim else "prefix_only"

    def completions(self, problems: Sequence[Problem], sampling: SamplingSettings) -> dict[str, list[str]]:
        return generate_completions(self.model, self.tokenizer, problems, sampling)

    def infills(self, tasks: Sequence[Problem], sampling: SamplingSettings, task_type: str) -> dict[str, list[str]]:
        return generate_infills(self.model, self.tokenizer, tasks, sampling, task_type, self.fim)

    def infills_without_and_with_suffix(
        self, tasks: Sequence[Problem], sampling: SamplingSettings, task_type: str
    ) -> tuple[dict[str, list[str]], dict[str, list[str]]] | None:
        """Middles of ``tasks`` (which carry suffixes) as if asked without and with them, or None.

        Only a model without FIM sees the same prompt both ways; it then generates once.
        """
        if self.fim is not None:
            return None
        without, with_suffix = generate_infill_views(
            self.model, self.tokenizer, tasks, sampling, task_type, None, ("", None)
        )
        return without, with_suffix


@dataclass
class EndpointGenerator:
    endpoint: Endpoint
    fim_label: str = "server"  # the server decides (its /v1/models card says how)

    def completions(self, problems: Sequence[Problem], sampling: SamplingSettings) -> dict[str, list[str]]:
        return endpoint_completions(self.endpoint, problems, sampling)

    def infills(self, tasks: Sequence[Problem], sampling: SamplingSettings, task_type: str) -> dict[str, list[str]]:
        return endpoint_infills(self.endpoint, tasks, sampling, task_type)

    def infills_without_and_with_suffix(self, tasks, sampling, task_type) -> None:
        return None  # the server builds its prompts: ask it both ways

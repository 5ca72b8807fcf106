"""Completions from a running ``codemill serve`` (or any OpenAI-compatible server), for scoring.

Evaluating through the API measures what editors get: the server builds the FIM prompt,
packs context and cuts the completion with its own rules. Requests carry exactly what the
in-process path uses (same prompt, suffix, ``mode``, token budget and greedy decoding), so
at temperature 0 both paths score the same text. Requests run a few at a time (the server
batches them); 429/503 answers are retried after the server's ``Retry-After``.

Sampled runs (pass@10 wants 10+ samples per problem) use the API's ``n``. A server caps
``n`` (``serve.max_n``, 8 by default), so a problem's samples go in requests of at most
``Endpoint.max_n`` choices; request ``i`` starting at sample ``start`` carries
``seed + start``. codemill's engine seeds choice ``c`` of a request with ``seed + c``, so
sample ``j`` is seeded ``seed + j`` however the samples were split: a seed gives the same
samples whatever ``max_n`` is.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from training.evaluation.generate import (
    STOP_SEQUENCES,
    SamplingSettings,
    completion_after,
    split_trailing_whitespace,
    truncate_at_stop,
)
from training.evaluation.infill_generate import completion_mode
from training.evaluation.problems import Problem

RETRIES = 8


class EndpointError(RuntimeError):
    pass


@dataclass(frozen=True)
class Endpoint:
    url: str  # base URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted)
    api_key: str | None = None
    model: str = "default"
    timeout: float = 300.0
    concurrency: int = 4
    max_n: int = 8  # most choices asked in one request (codemill serve's serve.max_n default)

    @property
    def base(self) -> str:
        base = self.url.rstrip("/")
        return base[: -len("/v1")] if base.endswith("/v1") else base

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(RETRIES):
            request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:500]
                if err.code in (429, 503) and attempt + 1 < RETRIES:
                    time.sleep(float(err.headers.get("Retry-After") or 2 ** attempt))
                    continue
                raise EndpointError(f"{method} {self.base + path}: HTTP {err.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                raise EndpointError(f"{method} {self.base + path}: {getattr(err, 'reason', err)}") from None
        raise EndpointError(f"{method} {self.base + path}: still busy after {RETRIES} tries")

    def card(self) -> dict:
        """The served model's /v1/models entry (codemill adds run id and gold version)."""
        return self._request("GET", f"/v1/models/{self.model}")

    def complete(self, body: dict) -> list[str]:
        answer = self._request("POST", "/v1/completions", {"model": self.model, **body})
        return [choice["text"] for choice in sorted(answer["choices"], key=lambda c: c["index"])]

    def map(self, bodies: Sequence[dict]) -> list[list[str]]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self.complete, bodies))


def sampling_requests(sampling: SamplingSettings, max_n: int) -> list[dict]:
    """The sampling fields of the requests that together ask for one problem's samples."""
    fields = {"max_tokens": sampling.max_new_tokens, "seed": sampling.seed}
    if sampling.greedy:
        return [{**fields, "temperature": 0.0, "n": 1}]
    requests = []
    for start in range(0, sampling.samples, max_n):
        seed = None if sampling.seed is None else sampling.seed + start
        n = min(max_n, sampling.samples - start)
        requests.append({**fields, "seed": seed, "temperature": sampling.temperature, "top_p": sampling.top_p, "n": n})
    return requests


def _ask(endpoint: Endpoint, keys: Sequence[str], bodies: Sequence[dict], sampling: SamplingSettings) -> dict[str, list[str]]:
    """Every body with each of the sampling requests; the answers gathered per key, in sample order."""
    parts = sampling_requests(sampling, endpoint.max_n)
    answers = endpoint.map([{**body, **part} for body in bodies for part in parts])
    texts: dict[str, list[str]] = {}
    for index, key in enumerate(keys):
        texts[key] = [text for batch in answers[index * len(parts) : (index + 1) * len(parts)] for text in batch]
    return texts


def endpoint_infills(
    endpoint: Endpoint, tasks: Sequence[Problem], sampling: SamplingSettings, task_type: str
) -> dict[str, list[str]]:
    """Middles as an editor asks for them: prompt = prefix, suffix, mode by task type."""
    mode = completion_mode(task_type)
    bodies = [{"prompt": task.prompt, "suffix": task.suffix or None, "mode": mode} for task in tasks]
    return _ask(endpoint, [task.task_id for task in tasks], bodies, sampling)


def endpoint_completions(
    endpoint: Endpoint, problems: Sequence[Problem], sampling: SamplingSettings
) -> dict[str, list[str]]:
    """Function bodies, prompted and cut as :func:`generate.generate_completions` does."""
    prompts = [split_trailing_whitespace(problem.prompt) for problem in problems]
    bodies = [{"prompt": stripped, "stop": list(STOP_SEQUENCES)} for stripped, _ in prompts]
    answers = _ask(endpoint, [problem.task_id for problem in problems], bodies, sampling)
    return {
        problem.task_id: [completion_after(whitespace, truncate_at_stop(text)) for text in answers[problem.task_id]]
        for problem, (_, whitespace) in zip(problems, prompts, strict=True)
    }

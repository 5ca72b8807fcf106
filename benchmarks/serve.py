"""Serving latency and throughput: `codemill serve` against bare `model.generate`, same model, same run.

Prompts: real code nobody here wrote — the opening of functions from the Python standard
library (their leading context up to and including the `def` line). Every request asks for
exactly ``--max-tokens`` tokens (``ignore_eos``), so every stream does the same work.

Measured, for the same prompts:

* bare: ``model.generate`` in this process, one prompt at a time, greedy, a streamer
  recording the time of the first and last token;
* server: a real ``codemill serve`` process, streamed through the official ``openai`` client.
  Concurrency 1 runs interleaved with bare generation, prompt by prompt (the machine is
  shared: both see the same load); then concurrency 4 and 16 (a thread per stream).
  Both processes use the same OpenMP policy (``OMP_WAIT_POLICY=PASSIVE``, which the server sets).

Per level: time to first token p50/p95 (request sent → first text chunk), tokens/s per
stream ((tokens - 1) / (last chunk - first chunk)), aggregate tokens/s (all tokens / wall
time). Correctness is checked independently of the server: the served greedy text must
equal bare generation's text at every level; a stream that returns fewer tokens than asked
counts only what it returned. ``decode_rows_per_s`` (from the server's own step counters,
prefill excluded) is a diagnostic, not what the targets use.

Top level: ``ratio`` = server tokens/s per stream at concurrency 1 / bare tokens/s (target
≥ 0.9: the server adds at most 10%), ``batching_speedup`` = aggregate tokens/s at 16 / at 1
(target ≥ 4).

``ceiling``: what batching can physically give on this machine for this work, measured with
bare forwards of the same model in the same run (no server, no engine): every prompt
prefilled alone (work no batching removes on a CPU: prefill is already compute-bound) and
decoding steps of 1 and of 16 sequences with HF's own cache, as long as the mean prompt plus
half the completion. From those, the best aggregate speed-up at 16 over 1 for these prompts
and completions is ``(P + N·T·s1) / (P + ⌈N/16⌉·T·s16)`` (P: total prefill seconds, N prompts,
T new tokens, s1/s16: seconds per step). ``batching_vs_ceiling`` = ``batching_speedup`` /
that: how much of what batching can give the server delivers.

    .venv/bin/python benchmarks/serve.py [--model smollm2] [--max-tokens 64] [--prompts 16]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The server sets this before torch loads (serving.server); the bare peer gets the same
# threading policy so the comparison measures the server, not OpenMP's spin-waiting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def stdlib_prompts(count: int, context_lines: int = 12) -> list[str]:
    """Function openings from the standard library: up to 12 lines before a def, plus the def line."""
    prompts = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines()
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.body]
        if not functions:
            continue
        node = functions[len(functions) // 2]
        header_end = node.body[0].lineno - 1  # the def line(s), before the body
        if isinstance(node.body[0], ast.Expr) and isinstance(getattr(node.body[0], "value", None), ast.Constant):
            header_end = node.body[0].end_lineno  # keep the docstring: the model writes the body
        start = max(0, node.lineno - 1 - context_lines)
        prompts.append("\n".join(lines[start:header_end]) + "\n")
        if len(prompts) == count:
            break
    return prompts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(runs: list[dict], wall: float) -> dict:
    ttft = [r["ttft"] for r in runs]
    rates = [(r["tokens"] - 1) / (r["end"] - r["first"]) for r in runs if r["tokens"] > 1 and r["end"] > r["first"]]
    tokens = sum(r["tokens"] for r in runs)
    return {
        "requests": len(runs),
        "ttft_p50_s": round(percentile(ttft, 0.5), 4),
        "ttft_p95_s": round(percentile(ttft, 0.95), 4),
        "tokens_per_s_per_stream": round(statistics.mean(rates), 2) if rates else 0.0,
        "aggregate_tokens_per_s": round(tokens / wall, 2) if wall > 0 else 0.0,
        "tokens": tokens,
        "wall_s": round(wall, 2),
    }


class BareModel:
    """The same model in this process: ``model.generate``, greedy, one prompt at a time."""

    def __init__(self, model_spec: str):
        import torch
        from transformers.generation.streamers import BaseStreamer

        from training.model import load_model_and_tokenizer

        self.torch = torch
        self.model, self.tokenizer = load_model_and_tokenizer(model_spec)
        self.model.eval()

        class Clock(BaseStreamer):
            def __init__(self):
                self.calls = []

            def put(self, value):
                self.calls.append(time.perf_counter())

            def end(self):
                pass

        self.clock_class = Clock
        with torch.inference_mode():
            self.model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=2, do_sample=False)  # warm-up

    def run(self, prompt: str, max_tokens: int) -> tuple[dict, str]:
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        clock = self.clock_class()
        sent = time.perf_counter()
        with self.torch.inference_mode():
            # eos_token_id=None: decode exactly max_tokens, as the server's ignore_eos does
            output = self.model.generate(
                self.torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False, streamer=clock,
                eos_token_id=None, pad_token_id=self.tokenizer.pad_token_id,
            )
        new = output[0, len(ids):].tolist()
        # put() #1 is the prompt, #2 the first new token, the last one the last token
        run = {"ttft": clock.calls[1] - sent, "first": clock.calls[1], "end": clock.calls[-1], "tokens": len(new),
               "prompt_tokens": len(ids)}
        return run, self.tokenizer.decode(new, skip_special_tokens=True)


    def ceiling(self, prompts: list[str], max_tokens: int, rows: int) -> dict:
        """Bare forwards: prefill seconds, decoding step seconds at 1 and ``rows`` sequences."""
        torch = self.torch
        from transformers import DynamicCache

        ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        prefill = 0.0
        with torch.inference_mode():
            for row in ids:
                started = time.perf_counter()
                self.model(input_ids=torch.tensor([row]), use_cache=True, logits_to_keep=1)
                prefill += time.perf_counter() - started
            # Rows of the mean prompt length cut from the prompts' tokens: no padding in the peer.
            length = round(statistics.mean(map(len, ids)))
            pool = [token for row in ids for token in row] * (1 + rows * length // sum(map(len, ids)))
            steps = {}
            for batch in (1, rows):
                tokens = torch.tensor([pool[i * length : (i + 1) * length] for i in range(batch)])
                cache = DynamicCache()
                out = self.model(input_ids=tokens, cache=cache, use_cache=True, logits_to_keep=1)
                for _ in range(max_tokens // 2):  # grow the cache to mid-completion, untimed
                    out = self.model(input_ids=out.logits[:, -1:].argmax(-1), cache=out.cache, use_cache=True)
                started = time.perf_counter()
                for _ in range(max_tokens):
                    out = self.model(input_ids=out.logits[:, -1:].argmax(-1), cache=out.cache, use_cache=True)
                steps[batch] = (time.perf_counter() - started) / max_tokens
        n = len(prompts)
        one = prefill + n * max_tokens * steps[1]
        many = prefill + -(-n // rows) * max_tokens * steps[rows]
        return {
            "prefill_s": round(prefill, 2),
            "decode_step_s": {str(batch): round(seconds, 4) for batch, seconds in steps.items()},
            "decode_speedup": round(rows * steps[1] / steps[rows], 2),
            "aggregate_speedup": round(one / many, 2),
            "cache_length": length + max_tokens,
        }


def served_stream(client, model: str, prompt: str, max_tokens: int) -> dict:
    """One streamed completion; times measured here, on the client side."""
    sent = time.perf_counter()
    first = end = None
    pieces, tokens = [], 0
    stream = client.completions.create(
        model=model, prompt=prompt, max_tokens=max_tokens, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True},
    )
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].text:
            now = time.perf_counter()
            first = first or now
            end = now
            pieces.append(chunk.choices[0].text)
    first = first or time.perf_counter()
    return {"ttft": first - sent, "first": first, "end": end or first, "tokens": tokens, "text": "".join(pieces)}


def served_streams(client, model: str, prompts: list[str], max_tokens: int, concurrency: int):
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(lambda prompt: served_stream(client, model, prompt, max_tokens), prompts))
    return summarise(runs, time.perf_counter() - started), [run["text"] for run in runs]


def decode_rate(server, before: tuple[float, float]) -> float:
    """Sequences decoded per second of decoding steps since ``before`` (server's own counters;
    a diagnostic that leaves prefill out, not the measure the targets use)."""
    rows = server.metric("codemill_serve_batch_size_sum") - before[0]
    seconds = server.metric("codemill_serve_decode_step_seconds_sum") - before[1]
    return round(rows / seconds, 2) if seconds > 0 else 0.0


def counters(server) -> tuple[float, float]:
    return server.metric("codemill_serve_batch_size_sum"), server.metric("codemill_serve_decode_step_seconds_sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--concurrency", default="1,4,16")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    if levels[0] != 1:
        parser.error("--concurrency must start with 1 (the level compared with bare generate)")

    import openai

    from tests.fixtures.serve import ServerProcess

    prompts = stdlib_prompts(args.prompts)
    load_at_start = os.getloadavg()  # the machine is shared: the numbers only mean something beside this
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(
            Path(folder) / "lake", "--model", args.model, f"serve.max_batch_size={max(levels)}",
            "serve.max_queue=256", "serve.rate_limit_per_minute=0", "serve.request_timeout_s=3600",
        )
        server.start()
        try:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="local", max_retries=0, timeout=3600)
            served_id = client.models.list().data[0].id
            served_streams(client, served_id, prompts[:2], 4, 1)  # warm-up
            bare = BareModel(args.model)
            # Concurrency 1 and bare generate interleaved prompt by prompt: both see the same
            # machine load (this machine is shared), the server idle while bare runs.
            bare_runs, bare_texts, one_runs, texts = [], [], [], {level: [] for level in levels}
            bare_wall = one_wall = 0.0
            before = counters(server)
            for prompt in prompts:
                started = time.perf_counter()
                run, text = bare.run(prompt, args.max_tokens)
                bare_wall += time.perf_counter() - started
                bare_runs.append(run)
                bare_texts.append(text)
                started = time.perf_counter()
                one_runs.append(served_stream(client, served_id, prompt, args.max_tokens))
                one_wall += time.perf_counter() - started
                texts[1].append(one_runs[-1]["text"])
            server_levels = {"1": summarise(one_runs, one_wall)}
            server_levels["1"]["decode_rows_per_s"] = decode_rate(server, before)
            for level in levels[1:]:
                before = counters(server)
                server_levels[str(level)], texts[level] = served_streams(
                    client, served_id, prompts, args.max_tokens, level
                )
                server_levels[str(level)]["decode_rows_per_s"] = decode_rate(server, before)
            # Measured while the server idles, after the served levels (same process, same run).
            ceiling = bare.ceiling(prompts, args.max_tokens, levels[-1])
        finally:
            server.stop()
    bare_summary = summarise(bare_runs, bare_wall)
    bare_summary["mean_prompt_tokens"] = round(statistics.mean(r["prompt_tokens"] for r in bare_runs), 1)
    matches = {str(level): sum(a == b for a, b in zip(texts[level], bare_texts, strict=True)) / len(prompts)
               for level in levels}
    one, most = server_levels["1"], server_levels[str(levels[-1])]
    base = bare_summary["tokens_per_s_per_stream"]
    ratio = one["tokens_per_s_per_stream"] / base if base else 0.0
    speedup = most["aggregate_tokens_per_s"] / one["aggregate_tokens_per_s"] if one["aggregate_tokens_per_s"] else 0.0
    print(json.dumps({
        "benchmark": "serve",
        "model": args.model,
        "device": "cpu",
        "prompts": len(prompts),
        "max_tokens": args.max_tokens,
        "bare_generate": bare_summary,
        "server": server_levels,
        "greedy_text_matches_bare": matches,
        "ratio": round(ratio, 3),
        "ttft_ratio_c1": round(one["ttft_p50_s"] / bare_summary["ttft_p50_s"], 3) if bare_summary["ttft_p50_s"] else None,
        "batching_speedup": round(speedup, 2),
        "decode_batching_speedup": round(most["decode_rows_per_s"] / one["decode_rows_per_s"], 2)
        if one["decode_rows_per_s"] else None,
        "ceiling": ceiling,
        "batching_vs_ceiling": round(speedup / ceiling["aggregate_speedup"], 2) if ceiling["aggregate_speedup"] else None,
        "load_average_1_5_15min": {"start": [round(x, 2) for x in load_at_start],
                                   "end": [round(x, 2) for x in os.getloadavg()]},
        "cpus": os.cpu_count(),
        "targets": {
            "c1_overhead_at_most_10pct": ratio >= 0.9,
            f"c{levels[-1]}_aggregate_at_least_4x_c1": speedup >= 4.0,
        },
    }, indent=2))


if __name__ == "__main__":
    main()

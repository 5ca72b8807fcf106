"""Serving latency and throughput: `codemill serve` against bare `model.generate`, same model, same run.

Prompts: real code nobody here wrote — the opening of functions from the Python standard
library (their leading context up to and including the `def` line). Every request asks for
exactly ``--max-tokens`` tokens (``ignore_eos``), so every stream does the same work.

Measured, for the same prompts:

* bare: ``model.generate`` in this process, one prompt at a time, greedy, a streamer
  recording the time of the first and last token;
* server: a real ``codemill serve`` process, streamed through the official ``openai`` client
  at concurrency 1, 4 and 16 (a thread per concurrent stream).

Per level: time to first token p50/p95 (request sent → first text chunk), tokens/s per
stream ((tokens - 1) / (last chunk - first chunk)), aggregate tokens/s (all tokens / wall
time). Correctness is checked independently of the server: at concurrency 1 and 16 the
served greedy text must equal bare generation's text; a stream that returns fewer tokens
than asked counts only what it returned.

Top level: ``ratio`` = server tokens/s per stream at concurrency 1 / bare tokens/s (target
≥ 0.9: the server adds at most 10%), ``batching_speedup`` = aggregate tokens/s at 16 / at 1
(target ≥ 4).

    .venv/bin/python benchmarks/serve.py [--model smollm2] [--max-tokens 32] [--prompts 16]
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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


def bare_generate(model_spec: str, prompts: list[str], max_tokens: int) -> tuple[dict, list[str]]:
    import torch
    from transformers.generation.streamers import BaseStreamer

    from training.model import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(model_spec)
    model.eval()

    class Clock(BaseStreamer):
        def __init__(self):
            self.calls = []

        def put(self, value):
            self.calls.append(time.perf_counter())

        def end(self):
            pass

    texts, runs = [], []
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=2, do_sample=False)  # warm-up
        started = time.perf_counter()
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            clock = Clock()
            sent = time.perf_counter()
            output = model.generate(
                torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False, streamer=clock,
                eos_token_id=None, pad_token_id=tokenizer.pad_token_id,
            )
            new = output[0, len(ids):].tolist()
            texts.append(tokenizer.decode(new, skip_special_tokens=True))
            # put() #1 is the prompt; #2 the first new token; the last put the last token
            runs.append({"ttft": clock.calls[1] - sent, "first": clock.calls[1], "end": clock.calls[-1],
                         "tokens": len(new)})
    result = summarise(runs, time.perf_counter() - started)
    del model
    return result, texts


def served_streams(client, model: str, prompts: list[str], max_tokens: int, concurrency: int):
    def one(prompt: str) -> dict:
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

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(one, prompts))
    return summarise(runs, time.perf_counter() - started), [run["text"] for run in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--concurrency", default="1,4,16")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]

    import openai

    from tests.fixtures.serve import ServerProcess

    prompts = stdlib_prompts(args.prompts)
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(
            Path(folder) / "lake", "--model", args.model, f"serve.max_batch_size={max(levels)}",
            "serve.max_queue=256", "serve.rate_limit_per_minute=0", "serve.request_timeout_s=3600",
        )
        server.start()
        try:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="local", max_retries=0, timeout=3600)
            served_spec = client.models.list().data[0].id
            served_streams(client, served_spec, prompts[:2], 4, 1)  # warm-up
            bare, bare_texts = bare_generate(args.model, prompts, args.max_tokens)
            server_levels, texts = {}, {}
            for level in levels:
                server_levels[str(level)], texts[level] = served_streams(
                    client, served_spec, prompts, args.max_tokens, level
                )
        finally:
            server.stop()
    matches = {str(level): sum(a == b for a, b in zip(texts[level], bare_texts, strict=True)) / len(prompts)
               for level in levels}
    one, most = server_levels[str(levels[0])], server_levels[str(levels[-1])]
    ratio = one["tokens_per_s_per_stream"] / bare["tokens_per_s_per_stream"] if bare["tokens_per_s_per_stream"] else 0
    speedup = most["aggregate_tokens_per_s"] / one["aggregate_tokens_per_s"] if one["aggregate_tokens_per_s"] else 0
    print(json.dumps({
        "benchmark": "serve",
        "model": args.model,
        "device": "cpu",
        "prompts": len(prompts),
        "max_tokens": args.max_tokens,
        "bare_generate": bare,
        "server": server_levels,
        "greedy_text_matches_bare": matches,
        "ratio": round(ratio, 3),
        "ttft_ratio_c1": round(one["ttft_p50_s"] / bare["ttft_p50_s"], 3) if bare["ttft_p50_s"] else None,
        "batching_speedup": round(speedup, 2),
        "targets": {
            "c1_overhead_at_most_10pct": ratio >= 0.9,
            f"c{levels[-1]}_aggregate_at_least_4x_c1": speedup >= 4.0,
        },
    }, indent=2))


if __name__ == "__main__":
    main()

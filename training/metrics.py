"""Training metrics: what one step cost, and where they go (console, TensorBoard, JSONL, PNG).

MFU uses the usual estimate of training FLOPs per token, 6·N for the weights plus
12·layers·hidden·seq for attention scores (PaLM paper, appendix B), against a peak that is
either configured, looked up for known GPUs (dense bf16), or measured on the CPU with a
short fp32 matmul probe.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from data_platform.ops.logs import progress_print

# Dense bf16 peak TFLOP/s from vendor datasheets (no sparsity).
GPU_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}


def flops_per_token(n_params: int, n_layers: int, hidden: int, seq_len: int) -> float:
    """Forward+backward FLOPs to train on one token."""
    return 6.0 * n_params + 12.0 * n_layers * hidden * seq_len


def mfu(tokens_per_s: float, flops_token: float, peak_tflops_total: float) -> float:
    """Model FLOPs utilisation in [0, 1]: achieved FLOP/s over peak FLOP/s."""
    if peak_tflops_total <= 0:
        return 0.0
    return tokens_per_s * flops_token / (peak_tflops_total * 1e12)


def gpu_peak_tflops(device_name: str) -> float | None:
    for key, value in GPU_PEAK_TFLOPS.items():
        if key in device_name:
            return value
    return None


def cpu_peak_tflops(size: int = 512, trials: int = 20, per_trial: int = 2) -> float:
    """Achieved fp32 matmul TFLOP/s of this process's threads: an honest CPU 'peak'.

    The fastest of several short trials: one timing of a few matmuls is easily cut in half by
    another process taking a core for a moment (a Ray worker probing while its siblings start
    printed MFU above 100% for a whole run), and a preempted trial can only look slower.
    """
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up the BLAS threads
    fastest = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(per_trial):
            a @ b
        fastest = min(fastest, time.perf_counter() - start)
    return 2.0 * size**3 * per_trial / fastest / 1e12


@dataclass
class StepMetrics:
    step: int
    loss: float
    lr: float
    tokens_per_s: float
    mfu: float
    data_wait_fraction: float
    step_time_s: float
    tokens_seen: int
    epoch: int
    eval_loss: float | None = None
    # Rank 0's blocks this step, hashed: shows which data a step saw (resume checks, debugging).
    block_fingerprints: list[int] | None = None

    def console_line(self, max_steps: int, width: int = 20) -> str:
        done = int(width * self.step / max_steps)
        bar = "#" * done + "." * (width - done)
        line = (
            f"[{bar}] step {self.step}/{max_steps} loss {self.loss:.4f} lr {self.lr:.2e} "
            f"tok/s {self.tokens_per_s:,.0f} mfu {100 * self.mfu:.2f}% data-wait {100 * self.data_wait_fraction:.1f}%"
        )
        if self.eval_loss is not None:
            line += f" eval {self.eval_loss:.4f}"
        return line


class StepClock:
    """Splits each step's wall time into waiting for data and the rest."""

    def __init__(self) -> None:
        self.wait = 0.0
        self.start = time.perf_counter()

    def timed(self, iterator: Iterator):
        """Wrap a batch iterator so time blocked in ``next`` counts as data wait."""
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.wait += time.perf_counter() - started
                return
            self.wait += time.perf_counter() - started
            yield item

    def lap(self) -> tuple[float, float]:
        """(step seconds, data-wait seconds) since the last lap; starts the next one."""
        now = time.perf_counter()
        elapsed, wait = now - self.start, self.wait
        self.start, self.wait = now, 0.0
        return elapsed, wait


class MetricsSink:
    """Rank 0's outputs: console progress, TensorBoard scalars and an append-only JSONL file."""

    def __init__(self, folder: Path, max_steps: int, log_every: int = 1):
        from torch.utils.tensorboard import SummaryWriter

        folder.mkdir(parents=True, exist_ok=True)
        self.jsonl = folder / "metrics.jsonl"
        self.writer = SummaryWriter(log_dir=str(folder / "tensorboard"))
        self.max_steps = max_steps
        self.log_every = log_every

    def log(self, metrics: StepMetrics) -> None:
        with self.jsonl.open("a") as out:
            out.write(json.dumps(asdict(metrics)) + "\n")
        for name in ("loss", "lr", "tokens_per_s", "mfu", "data_wait_fraction", "eval_loss"):  # scalars only
            value = getattr(metrics, name)
            if value is not None:
                self.writer.add_scalar(f"train/{name}", value, metrics.step)
        if (
            metrics.step % self.log_every == 0
            or metrics.step == self.max_steps
            or metrics.eval_loss is not None
        ):
            progress_print(metrics.console_line(self.max_steps))

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def block_fingerprints(input_ids) -> list[int]:
    """A position-sensitive hash per row of a [batch, seq] id tensor."""
    import torch

    weights = torch.arange(1, input_ids.shape[1] + 1, dtype=torch.int64, device=input_ids.device)
    return ((input_ids.to(torch.int64) * weights).sum(dim=1) % 1_000_000_007).tolist()


def read_metrics(jsonl: Path) -> list[dict]:
    if not jsonl.is_file():
        return []
    return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]


def plot_loss_curve(jsonl: Path, png: Path) -> Path | None:
    """Training (and eval) loss against step; the latest record per step wins after a resume."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_step = {row["step"]: row for row in read_metrics(jsonl)}
    if not by_step:
        return None
    steps = sorted(by_step)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(steps, [by_step[s]["loss"] for s in steps], label="train loss")
    evals = [(s, by_step[s]["eval_loss"]) for s in steps if by_step[s].get("eval_loss") is not None]
    if evals:
        axes.plot(*zip(*evals, strict=True), "o-", label="eval loss (valid)")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None

"""A compiled model trains under DeepSpeed as the eager one does (``train.compile_model``).

GPU workers compile by default and CI has no GPU, so this runs the same wiring on CPU with the
tiny model, in a fresh process (DeepSpeed's process group and Dynamo's caches stay out of the
test session): ``build_engine`` compiles through DeepSpeed's ``engine.compile``, the compiled
steps give the eager losses, and a checkpoint the compiled engine saves loads into an eager
engine (same parameter names) with the same weights.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, sys, types
from pathlib import Path

os.environ.update(DS_ACCELERATOR="cpu", MASTER_ADDR="127.0.0.1", MASTER_PORT=sys.argv[2],
                  RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
import torch
import torch._dynamo.utils

from training.loop import build_engine
from training.model import build_tiny, save_model_dir
from training.settings import TrainSettings

folder = Path(sys.argv[1])
save_model_dir(*build_tiny(), folder / "base_model")
run = types.SimpleNamespace(fetch_folder=lambda name: folder / name)  # the run folder's one use here
batch = torch.randint(0, 2000, (2, 64), generator=torch.Generator().manual_seed(0))


def engine_for(compiled):
    settings = TrainSettings(zero_stage=2, micro_batch_size=2, seq_len=64, max_steps=3, warmup_steps=0,
                             compile_model=compiled)
    return build_engine({"settings": settings, "run": run}, on_gpu=False)[0]


result = {}
for label, compiled in (("eager", False), ("compiled", True)):
    engine = engine_for(compiled)
    losses = []
    for _ in range(3):
        loss = engine(input_ids=batch, labels=batch).loss
        engine.backward(loss)
        engine.step()
        losses.append(loss.item())
    result[label] = {"losses": losses, "is_compiled": engine.is_compiled,
                     "keys": sorted(engine.module.state_dict())}
    if compiled:
        result["graphs"] = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        engine.save_checkpoint(str(folder / "ckpt"), tag="zero")
        trained = {name: p.detach().clone() for name, p in engine.module.named_parameters()}
    engine.destroy()

eager = engine_for(False)
eager.load_checkpoint(str(folder / "ckpt"), tag="zero")
result["loaded_max_diff"] = max((p.detach() - trained[name]).abs().max().item()
                                for name, p in eager.module.named_parameters())
print("RESULT " + json.dumps(result))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_compiled_engine_trains_like_the_eager_one_and_its_checkpoint_loads_eagerly(tmp_path):
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(_free_port())],
        capture_output=True, text=True, timeout=600, cwd=root,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    eager, compiled = result["eager"], result["compiled"]
    assert compiled["is_compiled"] and not eager["is_compiled"]
    assert result["graphs"] >= 1, "Dynamo captured no graph: the engine ran eagerly"
    assert compiled["keys"] == eager["keys"]  # checkpoints and exports see the same names
    for got, want in zip(compiled["losses"], eager["losses"], strict=True):
        assert abs(got - want) <= 1e-3 * abs(want)
    assert eager["losses"][-1] < eager["losses"][0]  # the steps trained
    assert result["loaded_max_diff"] == 0.0

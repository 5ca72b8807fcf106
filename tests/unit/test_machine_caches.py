"""`make setup` fills the per-machine training caches (training.machine_caches), and runs find them."""

from __future__ import annotations

import subprocess
import sys

from training.machine_caches import SHM_OP, build_shm_op, shm_op_built, smollm2_cached
from training.model import SMOLLM2_GGUF, smollm2_dir
from training.model_cache import cached_model_dir
from training.settings import TrainSettings


def test_setup_left_the_shm_op_where_training_workers_look_and_it_loads():
    extensions = TrainSettings().extensions_path()  # what training.trainer hands workers as TORCH_EXTENSIONS_DIR
    assert shm_op_built(extensions), f"make setup should have built {SHM_OP} under {extensions}"
    op = build_shm_op(extensions)  # found, not rebuilt
    assert op is not None and hasattr(op, "initialize") and hasattr(op, "vector_kernel_level")
    assert not shm_op_built(extensions / "elsewhere")


def test_setup_left_smollm2_dequantised_in_the_model_cache():
    assert smollm2_cached()
    folder = cached_model_dir(smollm2_dir() / SMOLLM2_GGUF)
    assert (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def test_a_second_run_finds_both_and_does_nothing():
    done = subprocess.run([sys.executable, "-m", "training.machine_caches"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_a_failed_op_build_is_reported_and_setup_goes_on(monkeypatch, capsys):
    import training.machine_caches as caches

    def no_compiler(extensions):
        raise RuntimeError("Error building extension 'deepspeed_shm_comm'\nc++: not found")

    monkeypatch.setattr(caches, "shm_op_built", lambda extensions: False)
    monkeypatch.setattr(caches, "build_shm_op", no_compiler)
    assert caches.main() == 0
    out = capsys.readouterr().out
    assert "deepspeed_shm_comm: not built (RuntimeError: Error building extension 'deepspeed_shm_comm')" in out
    assert "c++: not found" not in out and "will try again" in out

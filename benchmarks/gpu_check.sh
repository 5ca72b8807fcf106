#!/usr/bin/env bash
# GPU throughput check for codemill training, for a rented H100/H200 box without network.
#
# Expects Python 3.12 with torch (CUDA), transformers and pyarrow. The rest comes from what
# `bash benchmarks/gpu_wheels.sh` prepared in ./wheels (or $WHEELS): wheels (DeepSpeed, pydantic,
# hjson, ...) and site.tar.xz (Ray and deltalake unpacked, their wheels being too large for one
# upload to such a box). Everything goes to a throwaway folder first on PYTHONPATH; nothing is
# installed system-wide.
#
# Measures Qwen2-1.5B shapes (seq 2048, micro-batch 8) three ways in one run: the plain PyTorch
# loop, bare DeepSpeed ZeRO-2 and the full path (Ray Data from Delta -> Ray Train -> DeepSpeed),
# the last two compiled as `codemill train` compiles GPU workers (train.compile_model=auto).
# Without Ray or deltalake the full path is left out.
#
#   bash benchmarks/gpu_check.sh                 # ~8 minutes on an H200; prints a table and JSON
#   WRITE_RATES=1 bash benchmarks/gpu_check.sh   # also Qwen2-0.5B ZeRO-2/3, stored in benchmarks/rates.json
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-wheels}
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
SITE=$(mktemp -d)/site
mkdir -p "$SITE" "$OUT"

echo "== unpacking $(ls "$WHEELS" | wc -l) files from $WHEELS"
for archive in "$WHEELS"/*.tar.xz; do
  [ -e "$archive" ] && tar xJf "$archive" -C "$SITE"
done
for wheel in "$WHEELS"/*.whl; do
  "$PY" -m zipfile -e "$wheel" "$SITE" >/dev/null
done
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DS_ACCELERATOR=cuda TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export TORCH_EXTENSIONS_DIR="$OUT/torch_extensions"

"$PY" - <<'PY'
import torch, transformers, deepspeed, pydantic
print(f"torch {torch.__version__} cuda {torch.version.cuda} | transformers {transformers.__version__} | "
      f"deepspeed {deepspeed.__version__} | pydantic {pydantic.__version__} | {torch.cuda.get_device_name(0)}")
PY
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true
modes=bare,deepspeed,ray
"$PY" -c "import ray, deltalake" 2>/dev/null || { modes=bare,deepspeed; echo "== no Ray or deltalake: full path left out"; }

run() {  # name, timeout seconds, benchmark args...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  if timeout "$limit" "$PY" benchmarks/train_throughput.py "$@" >"$OUT/$name.json" 2>"$OUT/$name.log"; then
    echo "   ok"
  else
    echo "   FAILED (exit $?); modes measured and last log lines:"
    grep "^measured:" "$OUT/$name.log" || true; tail -n 15 "$OUT/$name.log"
  fi
}

run qwen2-1.5b 600 --model-config qwen2-1.5b --modes "$modes" --steps 10 --warmup 3
if [ -n "${WRITE_RATES:-}" ]; then
  run qwen2-0.5b 300 --model-config qwen2-0.5b --modes deepspeed --zero-stages 2,3 --write-rates
fi

"$PY" - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
everything = {}
print(f"\n{'model':<12} {'mode':<22} {'compiled':>8} {'tokens/s':>10} {'vs bare':>8} {'MFU':>6} {'peak GiB':>9}")
for path in sorted(out.glob("*.json")):
    try:
        data = json.loads(path.read_text())
    except ValueError:
        continue
    everything[path.stem] = data
    for r in data["results"]:
        print(f"{data['model_config']:<12} {r['mode']:<22} {r.get('compiled', False)!s:>8} {r['tokens_per_s']:>10,.0f} "
              f"{r.get('vs_bare', '')!s:>8} {100 * r['mfu']:>5.1f}% {r.get('peak_mem_gib', '')!s:>9}")
    if data.get("ratio"):
        print(f"{data['model_config']}: full path / bare DeepSpeed = {data['ratio']}; MFU {data.get('mfu')}")
print(json.dumps(everything))
PY

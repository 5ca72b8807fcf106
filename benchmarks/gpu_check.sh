#!/usr/bin/env bash
# GPU throughput check for codemill training, for a rented H100/H200 box without network.
#
# Expects Python 3.12 with torch (CUDA), transformers and pyarrow. DeepSpeed and its small
# dependencies come from wheels built beforehand into ./wheels (or $WHEELS); they are
# unpacked into a throwaway folder put first on PYTHONPATH, so nothing is installed system-wide.
# Ray and deltalake are not available there, so this measures the bare PyTorch loop and bare
# DeepSpeed (ZeRO-2, ZeRO-3) on Qwen2-shaped models; the full Ray path is measured on a cluster.
#
#   bash benchmarks/gpu_check.sh            # ~3-5 minutes; prints a table and JSON
#   WRITE_RATES=1 bash benchmarks/gpu_check.sh   # also stores the DeepSpeed rate in benchmarks/rates.json
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-wheels}
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
SITE=$(mktemp -d)/site
mkdir -p "$SITE" "$OUT"

echo "== unpacking $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS"
for wheel in "$WHEELS"/*.whl; do
  "$PY" -m zipfile -e "$wheel" "$SITE" >/dev/null
done
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DS_ACCELERATOR=cuda TOKENIZERS_PARALLELISM=false
export TORCH_EXTENSIONS_DIR="$OUT/torch_extensions"

"$PY" - <<'PY'
import torch, transformers, deepspeed, pydantic
print(f"torch {torch.__version__} cuda {torch.version.cuda} | transformers {transformers.__version__} | "
      f"deepspeed {deepspeed.__version__} | pydantic {pydantic.__version__} | {torch.cuda.get_device_name(0)}")
PY
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader || true

run() {  # name, timeout seconds, benchmark args...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  if timeout "$limit" "$PY" benchmarks/train_throughput.py "$@" >"$OUT/$name.json" 2>"$OUT/$name.log"; then
    echo "   ok"
  else
    echo "   FAILED (exit $?); last log lines:"; tail -n 15 "$OUT/$name.log"
  fi
}

run qwen2-0.5b 210 --model-config qwen2-0.5b --modes bare,deepspeed --zero-stages 2,3 ${WRITE_RATES:+--write-rates} \
    --seq-len 2048 --micro-batch 8 --steps 10 --warmup 3
run qwen2-1.5b 120 --model-config qwen2-1.5b --modes bare --seq-len 2048 --micro-batch 4 --steps 8 --warmup 3

"$PY" - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows, everything = [], {}
for path in sorted(out.glob("*.json")):
    try:
        data = json.loads(path.read_text())
    except ValueError:
        continue
    everything[path.stem] = data
    for r in data["results"]:
        rows.append((data["model_config"], r["mode"], r["tokens_per_s"], r.get("vs_bare", ""), r["mfu"], r.get("peak_mem_gib", "")))
print(f"\n{'model':<12} {'mode':<18} {'tokens/s':>10} {'vs bare':>8} {'MFU':>6} {'peak GiB':>9}")
for model, mode, tps, vs, mfu, mem in rows:
    print(f"{model:<12} {mode:<18} {tps:>10,.0f} {vs!s:>8} {100 * mfu:>5.1f}% {mem!s:>9}")
print(json.dumps(everything))
PY

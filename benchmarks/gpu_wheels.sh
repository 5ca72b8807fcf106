#!/usr/bin/env bash
# Prepare ./wheels (or $WHEELS) for benchmarks/gpu_check.sh on a GPU box without network (run here,
# where PyPI is reachable). The box is expected to have Python 3.12 with torch, transformers and
# pyarrow; this fetches the rest of the training path at requirements.lock's versions:
#   - CPython 3.12 x86-64 wheels of the small packages (pydantic, hjson, jsonschema, ...);
#   - DeepSpeed as a pure-Python wheel (DS_BUILD_OPS=0: codemill's optimizer is torch's fused AdamW);
#   - Ray and deltalake unpacked into site.tar.xz: their wheels (79 and 52 MB) exceed what one upload
#     to such a box may carry. Unpacked, Ray's binaries stripped of symbols and the parts training
#     never loads left out (Java jar, dashboard web build, RLlib, LLM serving), xz brings both to
#     52 MB (59 MB in all: it fits a 64 MiB upload beside this repository). Takes ~3 minutes, mostly xz.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-wheels}
PY=${PYTHON:-python3}
mkdir -p "$WHEELS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pinned() { for name in "$@"; do grep -i "^$name==" requirements.lock; done; }
download() {  # destination, requirements...
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$@"
}

download "$WHEELS" $(pinned hjson pydantic pydantic-core annotated-types typing-inspection typing-extensions \
  jsonschema jsonschema-specifications referencing rpds-py jsonpointer rfc3339-validator \
  googleapis-common-protos arro3-core deprecated tensorboardx)
DS_BUILD_OPS=0 "$PY" -m pip wheel -q --no-deps "$(pinned deepspeed)" -w "$WHEELS"

download "$work/wheels" $(pinned ray deltalake)
mkdir "$work/site"
for wheel in "$work"/wheels/*.whl; do
  unzip -q -o "$wheel" -d "$work/site"
done
rm -rf "$work"/site/ray/{jars,rllib,llm} "$work/site/ray/dashboard/client/build"
strip --strip-unneeded "$work/site/ray/_raylet.so" "$work/site/ray/core/src/ray/raylet/raylet" \
  "$work/site/ray/core/src/ray/gcs/gcs_server"
tar cf - -C "$work/site" . | xz -T0 -9 > "$WHEELS/site.tar.xz"
ls -la "$WHEELS"
du -ch "$WHEELS" | tail -1

#!/usr/bin/env bash
# Prepare a machine for codemill: Java 17, git, a virtual environment in .venv with the
# locked packages, the Delta Lake jars in the Ivy cache, and the VS Code extension's Node
# packages. Safe to rerun: each step is skipped when already done (package installs are
# keyed on the lock files' hash).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[bootstrap] %s\033[0m\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" != 17 ]; then
  apt_install openjdk-17-jre-headless || die "Java 17 is required (found: $(java -version 2>&1 | head -1 || echo none)). \
Install OpenJDK 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or put it first on PATH."
  [ "$(java_major)" = 17 ] || die "Java 17 is still not the default java; set JAVA_HOME/PATH to a JDK 17"
fi
command -v git >/dev/null || apt_install git || die "git is required to crawl repositories"
# codemill eval runs generated code only inside bubblewrap sandboxes (user namespaces).
command -v bwrap >/dev/null || apt_install bubblewrap \
  || say "warning: bubblewrap (bwrap) is missing: codemill eval will refuse to run generated code \
until it is installed (Debian/Ubuntu: apt-get install bubblewrap)"
# The Python documentation as HTML: real test data for `docs:` sources (tests skip without it).
[ -d /usr/share/doc/python3-doc/html ] || apt_install python3-doc \
  || say "warning: python3-doc is missing: the documentation-source tests on the real Python docs will skip \
(Debian/Ubuntu: apt-get install python3-doc)"

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
  || die "Python 3.11 is required (set PYTHON=/path/to/python3.11)"
command -v uv >/dev/null || "$PYTHON" -m pip install -q "uv==0.13.9" || die "could not install uv from PyPI"
UV=$(command -v uv || echo "$("$PYTHON" -m site --user-base)/bin/uv")

[ -x .venv/bin/python ] || { say "creating .venv"; "$UV" venv -q --python "$PYTHON" .venv; }

stamp=.venv/.codemill-installed
want=$(cat requirements.lock requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing locked packages into .venv (first run downloads ~4 GB: PyPI's torch is a CUDA build)"
  # DeepSpeed builds from source against the installed torch, so torch comes first;
  # its C++ ops are compiled on first use (cached), not at install time.
  grep -E '^(torch|setuptools|wheel|numpy|packaging)==' requirements.lock > .venv/build-deps.txt
  "$UV" pip install -q --python .venv/bin/python -r .venv/build-deps.txt
  DS_BUILD_OPS=0 "$UV" pip install -q --python .venv/bin/python -r requirements.lock \
    --no-build-isolation-package deepspeed
  "$UV" pip install -q --python .venv/bin/python --no-deps -r requirements-nodeps.txt
  "$UV" pip install -q --python .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi

# Bytecode for every installed module and for codemill's own, once per install. uv installs
# without it (pip compiles by default), and where PYTHONDONTWRITEBYTECODE is set Python never
# caches it either: every process then compiled torch, transformers, Ray, pyspark ... from
# source (`import torch, transformers` took 14 s on 2 cores, 6.5 s once compiled). A module
# whose source changes later is recompiled on import as usual (the .pyc records the source's
# mtime and size). A few files in packages' test data do not compile on 3.11: ignored.
bytecode_stamp=.venv/.codemill-bytecode
if [ "$(cat "$bytecode_stamp" 2>/dev/null)" != "$want" ]; then
  say "compiling the installed packages to bytecode (once per install, ~1 min)"
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  .venv/bin/python -m compileall -q -j 0 "$site" codemill data_platform training serving jobs >/dev/null 2>&1 || true
  echo "$want" > "$bytecode_stamp"
fi

# Resolve the Delta Lake jars from Maven Central into the Ivy cache (delta-spark's own
# mechanism) once, so the first real job does not pay for it.
if ! .venv/bin/python -c 'import sys; from data_platform.spark import delta_jars_cached; sys.exit(0 if delta_jars_cached() else 1)'; then
  say "resolving Delta Lake jars from Maven Central"
  CODEMILL_LAKE="$(mktemp -d)" .venv/bin/python -c '
from data_platform.config import load_config
from data_platform.spark import get_spark
get_spark(load_config()).stop()' || die "could not start Spark with the Delta Lake jars"
fi
# hadoop-aws (at pyspark's Hadoop version) and its AWS SDK bundle, for lakes on s3:// (~700 MB,
# once). CODEMILL_SKIP_S3_JARS=1 skips it; a session for an s3 lake resolves them on first use.
if [ "${CODEMILL_SKIP_S3_JARS:-0}" != 1 ] && ! .venv/bin/python -c 'import sys; from data_platform.spark import s3_jars_cached; sys.exit(0 if s3_jars_cached() else 1)'; then
  say "resolving hadoop-aws and the AWS SDK bundle from Maven Central (for s3:// lakes)"
  .venv/bin/python -c 'from data_platform.spark import resolve_s3_jars; resolve_s3_jars()' >/dev/null 2>&1 \
    || die "could not resolve hadoop-aws from Maven Central (CODEMILL_SKIP_S3_JARS=1 skips it)"
fi
# One-time builds a first training run would otherwise pay on its own clock (training.machine_caches):
# DeepSpeed's CPU shared-memory op (~30 s) and SmolLM2 dequantised from its wheel (~25 s). Quick when done.
.venv/bin/python -m training.machine_caches 2>&1 | while IFS= read -r line; do say "$line"; done \
  || die "could not prepare the training caches (python -m training.machine_caches says why)"
# The VS Code extension's Node packages (ide/vscode), keyed on its lockfile like the Python
# stamp. Without Node the extension's tests skip; a Node older than 20 is an error.
node_version=none
if command -v node >/dev/null && command -v npm >/dev/null; then
  node_version=$(node --version)
  [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] \
    || die "Node.js 20 or newer is required for the VS Code extension in ide/vscode (found $node_version). \
Install it from https://nodejs.org or your distribution's Node.js 20 packages, or put it first on PATH."
  npm_stamp=ide/vscode/node_modules/.codemill-installed
  npm_want=$(sha256sum ide/vscode/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
    say "installing the VS Code extension's Node packages (npm ci in ide/vscode)"
    # Install scripts stay off: none is needed (esbuild finds its platform package itself).
    (cd ide/vscode && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) \
      || die "npm ci failed in ide/vscode (is the npm registry reachable?)"
    echo "$npm_want" > "$npm_stamp"
  fi
else
  say "Node.js/npm not found: skipping the VS Code extension (ide/vscode); its tests will be skipped"
fi
say "ready: $(.venv/bin/codemill --version), java $(java_major), $(.venv/bin/python --version), node $node_version"

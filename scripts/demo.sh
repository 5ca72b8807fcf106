#!/usr/bin/env bash
# The main job end to end on the embedded local default: create the lake, then show it.
# Uses its own lake (./lake-demo unless CODEMILL_LAKE is set) so it never touches yours.
set -euo pipefail
cd "$(dirname "$0")/.."
export CODEMILL_LAKE=${CODEMILL_LAKE:-$PWD/lake-demo}
CM=.venv/bin/codemill
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create the lake's tables from schemas/ (lake: $CODEMILL_LAKE)"
$CM tables init
step "2. tables"
$CM tables list
step "3. SQL by name, with Delta time travel"
$CM sql "SELECT table_name, count(*) AS validations FROM ops.quality_results GROUP BY 1"

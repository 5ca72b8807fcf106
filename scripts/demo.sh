#!/usr/bin/env bash
# The main job end to end on the embedded local default:
#   crawl + curate real code → dedup, redact, decontaminate, filter → gold → quality gate
#   → fine-tune SmolLM2-135M with Ray Train + DeepSpeed ZeRO-2 on 2 workers → export
#   → evaluate base vs fine-tuned side by side → promote and serve it (one FIM completion).
# Uses its own lake (./lake-demo unless CODEMILL_LAKE is set) so it never touches yours.
set -euo pipefail
cd "$(dirname "$0")/.."
export CODEMILL_LAKE=${CODEMILL_LAKE:-$PWD/lake-demo}
CM=.venv/bin/codemill
RUN=${DEMO_RUN:-demo-$(date +%Y%m%d-%H%M%S)}
# Each stage's wall time, printed at the end: the demo's own measure of where its minutes go.
STAGE_TIMES=() STAGE="" STAGE_START=$SECONDS
stage_done() {
  [ -z "$STAGE" ] || STAGE_TIMES+=("$(printf '%5d s  %s' $((SECONDS - STAGE_START)) "$STAGE")")
}
step() {
  stage_done
  STAGE=${1%%[:(]*} STAGE_START=$SECONDS
  STAGE=${STAGE% }
  printf '\n\033[1m== %s\033[0m\n' "$*"
}
# The demo corpus has ~20 repositories: wider valid/test shares than the default 90/5/5
# keep both held-out splits non-empty.
SPLIT='gold.split_ratios={train: 0.7, valid: 0.15, test: 0.15}'

step "1. tables from schemas/ (lake: $CODEMILL_LAKE)"
$CM tables init

step "2. ingest: crawl, curate, dedup, redact, decontaminate, filter, publish gold (quality-gated)"
$CM ingest --demo "$SPLIT"

step "3. SQL answers"
$CM sql "SELECT language, count(*) AS files, sum(function_count) AS functions FROM silver.files GROUP BY language ORDER BY files DESC LIMIT 6"
$CM sql "SELECT coalesce(drop_reason, '(kept)') AS decision, count(*) AS files FROM silver.files GROUP BY 1 ORDER BY 2 DESC"
$CM sql "SELECT name, kind, path FROM silver.functions WHERE language = 'python' AND docstring IS NOT NULL ORDER BY path, start_line LIMIT 5"
$CM sql "SELECT split, count(DISTINCT repo_id) AS repos, count(*) AS docs, sum(token_count) AS tokens FROM gold.training_corpus GROUP BY split ORDER BY split"

step "4. data quality"
# The ingest already wrote the report with the data-profile plots (its path is printed above);
# --no-profile summarises the same results without starting Spark a second time.
$CM quality report --no-profile

step "5. fine-tune SmolLM2-135M on the published gold version (Ray Train, 2 workers, DeepSpeed ZeRO-2)"
$CM train --model smollm2 --max-steps "${DEMO_STEPS:-16}" --workers 2 --zero-stage 2 --run-name "$RUN" \
  train.seq_len=128 train.micro_batch_size=1 train.lr=5e-5 train.warmup_steps=3 train.eval_every=8 \
  train.checkpoint_every="${DEMO_STEPS:-16}"
$CM lineage "$RUN"

step "6. evaluate base vs fine-tuned, each model loaded once: held-out loss, HumanEval pass@1 and single-line infilling (sandboxed), test-split line completion"
$CM eval --model smollm2 --compare "$RUN" -b humaneval -b humaneval-infill-single -b line-completion \
  --limit "${DEMO_EVAL_PROBLEMS:-3}" eval.max_new_tokens=96 eval.heldout_max_documents=16 \
  eval.line_documents="${DEMO_LINE_DOCUMENTS:-8}" eval.line_max_new_tokens=32 eval.span_max_new_tokens=64

step "7. serve the fine-tuned model: promote it, start codemill serve, one FIM completion through the openai client"
$CM promote "$RUN" --note "demo: evaluated in step 6"
PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$CM serve --port "$PORT" > "$CODEMILL_LAKE/serve-demo.log" 2>&1 &   # no --model: the newest promoted run
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$CODEMILL_LAKE/serve-demo.log"; exit 1; }
  sleep 1
done
.venv/bin/python - "$PORT" "$RUN" <<'PY'
import sys
from openai import OpenAI

port, run = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="local-demo", max_retries=0, timeout=300)
card = client.models.retrieve("default").model_extra["codemill"]
print(f"serving {card['run_id']} (gold v{card['gold_table_version']}), FIM {card['fim']['order'] if card['fim'] else 'off'}")
prefix = "def mean(values):\n    \"\"\"Arithmetic mean of a non-empty list.\"\"\"\n    return "
suffix = "\n\n\nprint(mean([1, 2, 3]))\n"
done = client.completions.create(model=run, prompt=prefix, suffix=suffix, max_tokens=24, temperature=0,
                                 extra_body={"mode": "line", "language": "python"})
print(prefix + "\033[1m" + done.choices[0].text + "\033[0m" + suffix)
print(f"{done.id}: {done.usage.completion_tokens} tokens, fim={done.model_extra['codemill']['fim']}")
PY
kill "$SERVER"; wait "$SERVER" || true
trap - EXIT
stage_done
printf '\n\033[1m== stage times (%d s in all)\033[0m\n' "$SECONDS"
printf '%s\n' "${STAGE_TIMES[@]}"

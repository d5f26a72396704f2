#!/usr/bin/env bash
# Classifier throughput on generated CFPB-like complaints (../shared/bench/gen_corpus.py,
# real narratives resampled, seeded): rules on ROWS (default 1,000,000), the model on
# BERT_ROWS (default 10,000; needs the `bert` build and scripts/setup-model.sh), with
# all-MiniLM-L6-v2, multilingual-e5-small, and `auto` as models/bert/models.toml sets it.
# Usage: bench/classify.sh [ROWS] [BERT_ROWS] [BINARY]
set -euo pipefail
N=${1:-1000000}
NB=${2:-10000}
BIN=${3:-${CARGO_TARGET_DIR:-target}/release/walletwatch}
HERE=$(cd "$(dirname "$0")" && pwd)
GEN="$HERE/../../shared/bench/gen_corpus.py"
run() {  # label rows command…
  local label=$1 rows=$2; shift 2
  local s e; s=$(date +%s.%N)
  /usr/bin/time -f "%M" -o /tmp/ww-bench-rss "$@" >/dev/null
  e=$(date +%s.%N)
  python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[4]:<40} {w:8.1f} s {int(sys.argv[3])//1024:6d} MiB {int(sys.argv[5])/w:10,.0f} rows/s')" "$s" "$e" "$(cat /tmp/ww-bench-rss)" "$label" "$rows"
}
for rows in "$N" "$NB"; do
  C=/tmp/walletwatch_corpus_$rows.csv
  [ -s "$C" ] || python3 "$GEN" "$rows" "$C"
done
S=$(mktemp -d)
"$BIN" -q --store "$S/rules" ingest cfpb "/tmp/walletwatch_corpus_$N.csv" >/dev/null
run "classify --classifier rules ($N rows)" "$N" "$BIN" -q --store "$S/rules" classify
if "$BIN" classify --classifier bert --input /dev/null 2>/dev/null; then
  "$BIN" -q --store "$S/bert" ingest cfpb "/tmp/walletwatch_corpus_$NB.csv" >/dev/null
  run "classify --classifier bert ($NB rows, batch 32, 128 tokens)" "$NB" "$BIN" -q --store "$S/bert" classify --classifier bert --model minilm
  run "  the same, --model e5 (multilingual-e5-small)" "$NB" "$BIN" -q --store "$S/bert" classify --classifier bert --model e5
  run "  the same, --classifier auto (models.toml)" "$NB" "$BIN" -q --store "$S/bert" classify --classifier auto
else
  echo "bert: not in this build (cargo build --release --features bert)"
fi
rm -rf "$S"

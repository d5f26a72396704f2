#!/usr/bin/env bash
# The stages after classify, on generated CFPB-like complaints (../shared/bench/gen_corpus.py,
# real narratives resampled, seeded): fraud patterns (`detect`: indicator extraction, MinHash
# signatures, LSH near-duplicate linking, campaigns, spikes and emerging terms) over ROWS
# (default 1,000,000), then provider ratings (`score`), the HTML report (`report`) and the
# journalists' CSV of every complaint (`export --format csv`) on the same store.
# Usage: bench/detect.sh [ROWS] [BINARY]
set -euo pipefail
N=${1:-1000000}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/walletwatch}
HERE=$(cd "$(dirname "$0")" && pwd)
GEN="$HERE/../../shared/bench/gen_corpus.py"
C=/tmp/walletwatch_corpus_$N.csv
[ -s "$C" ] || python3 "$GEN" "$N" "$C"
S=$(mktemp -d)
trap 'rm -rf "$S"' EXIT
"$BIN" -q --store "$S" ingest cfpb "$C" >/dev/null
"$BIN" -q --store "$S" classify >/dev/null
# Times one command: prints "JOB (N rows) wall s, peak MiB, rows/s"; stderr kept in $S/err.
timed() {
  local job=$1; shift
  local s e
  s=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$S/rss" "$@" >/dev/null 2>"$S/err"
  e=$(date +%s.%N)
  python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[5]:<7} ({int(sys.argv[4]):,} rows) {w:8.1f} s {int(sys.argv[3])//1024:6d} MiB {int(sys.argv[4])/w:10,.0f} rows/s')" "$s" "$e" "$(cat "$S/rss")" "$N" "$job"
}
timed detect "$BIN" --store "$S" detect
grep '^time:' "$S/err" || true
timed score "$BIN" -q --store "$S" score
timed report "$BIN" -q --store "$S" report -o "$S/report"
timed export "$BIN" -q --store "$S" export --format csv -o "$S/all.csv"
echo "export: $(du -h "$S/all.csv" | cut -f1) of CSV"

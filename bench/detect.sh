#!/usr/bin/env bash
# Fraud-pattern throughput on generated CFPB-like complaints (../shared/bench/gen_corpus.py,
# real narratives resampled, seeded): indicator extraction, MinHash signatures, LSH
# near-duplicate linking, campaigns, spikes and emerging terms over ROWS (default 1,000,000),
# then provider ratings (`score`) on the same store.
# Usage: bench/detect.sh [ROWS] [BINARY]
set -euo pipefail
N=${1:-1000000}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/walletwatch}
HERE=$(cd "$(dirname "$0")" && pwd)
GEN="$HERE/../../shared/bench/gen_corpus.py"
C=/tmp/walletwatch_corpus_$N.csv
[ -s "$C" ] || python3 "$GEN" "$N" "$C"
S=$(mktemp -d)
"$BIN" -q --store "$S" ingest cfpb "$C" >/dev/null
"$BIN" -q --store "$S" classify >/dev/null
s=$(date +%s.%N)
/usr/bin/time -f "%M" -o /tmp/ww-bench-rss "$BIN" --store "$S" detect 2>/tmp/ww-bench-detect.err
e=$(date +%s.%N)
grep '^time:' /tmp/ww-bench-detect.err || true
python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'detect ({int(sys.argv[4]):,} rows) {w:8.1f} s {int(sys.argv[3])//1024:6d} MiB {int(sys.argv[4])/w:10,.0f} rows/s')" "$s" "$e" "$(cat /tmp/ww-bench-rss)" "$N"
s=$(date +%s.%N)
/usr/bin/time -f "%M" -o /tmp/ww-bench-rss "$BIN" -q --store "$S" score >/dev/null
e=$(date +%s.%N)
python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'score ({int(sys.argv[4]):,} rows) {w:8.1f} s {int(sys.argv[3])//1024:6d} MiB {int(sys.argv[4])/w:10,.0f} rows/s')" "$s" "$e" "$(cat /tmp/ww-bench-rss)" "$N"
rm -rf "$S"

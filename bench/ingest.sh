#!/usr/bin/env bash
# Ingest benchmark: walletwatch `ingest cfpb` beside the peers of ../shared/bench on the same
# generated corpus (real CFPB narratives resampled, seeded), in one run.
# (../shared/bench/compare.sh also runs `walletwatch classify`, which arrives with the
# classification issue; until then this script runs the ingest half of that table.)
# Usage: bench/ingest.sh [ROWS] [BINARY]      needs python3 with duckdb, polars, pandas, pyarrow
set -euo pipefail
N=${1:-1000000}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/walletwatch}
HERE=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
C=${CORPUS:-/tmp/walletwatch_corpus_$N.csv}
[ -s "$C" ] || python3 "$HERE/gen_corpus.py" "$N" "$C"
S=$(mktemp -d); P=$(mktemp -d)
t() {  # prints "wall_seconds peak_MiB" of one command
  local s e; s=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$P/rss" "$@" >/dev/null 2>"$P/err" || { echo "failed: $*" >&2; tail -n 3 "$P/err" >&2; exit 1; }
  e=$(date +%s.%N)
  python3 -c "import sys; print(round(float(sys.argv[2])-float(sys.argv[1]),2), int(sys.argv[3])//1024)" "$s" "$e" "$(cat "$P/rss")"
}
read w1 r1 < <(t "$BIN" -q --store "$S" ingest cfpb "$C")
read pf rf < <(t python3 "$HERE/peer_polars_full.py" "$C" "$P/pf.parquet")
read dk rd < <(t python3 "$HERE/peer_duckdb.py" "$C" "$P/duck.parquet")
read pl rl < <(t python3 "$HERE/peer_polars.py" "$C" "$P/pl.parquet")
read pd rp < <(t python3 "$HERE/peer_pandas.py" "$C" "$P/pd.parquet")
python3 - "$N" "$w1" "$r1" "$pf" "$rf" "$dk" "$rd" "$pl" "$rl" "$pd" "$rp" <<'PY'
import sys
n=int(sys.argv[1]); w1,r1,pf,rf,dk,rd,pl,rl,pd,rp=map(float,sys.argv[2:])
rows=[("walletwatch ingest (normalise, mask, dedupe, raw copy, store)",w1,r1),
      ("polars (python): same work + 6 regex flags",pf,rf),
      ("duckdb: csv -> 6 regex flags -> parquet",dk,rd),("polars (python): 6 regex flags only",pl,rl),
      ("pandas: 6 regex flags + monthly counts",pd,rp)]
print(f"{'job ('+format(n,',')+' rows)':<62} {'wall s':>8} {'peak MiB':>9} {'rows/s':>10}")
for name,w,r in rows: print(f"{name:<62} {w:>8.1f} {int(r):>9} {n/w:>10,.0f}")
print(f"walletwatch ingest vs duckdb: {dk/w1:.2f}x (goal >= 2.0); vs polars same work: {pf/w1:.2f}x; peak {int(r1)} MiB (goal <= 1024)")
PY
rm -rf "$S" "$P"

#!/usr/bin/env bash
# Parse throughput of `ingest forum` on the fixture pages, beside parsel (Scrapy's
# selector library) parsing the same pages with the same selectors.
#   bench/forum.sh [PAGES]      (default 20000; needs ../shared/ and `pip install parsel`)
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${1:-20000}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cargo bench --bench forum_parse -- "$PAGES" --dump "$DIR"
python3 bench/forum_peer.py "$DIR" "$PAGES"

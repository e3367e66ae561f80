#!/usr/bin/env bash
# Fuzzes what the short connection reads from the network (decrypt + parse of a webhook call,
# see fuzz/fuzz_targets/) for a bounded time. cargo-fuzz runs on the stable toolchain here with
# `--sanitizer none` (no nightly-only sanitizer flags); libFuzzer still guides it by coverage,
# and any panic fails the run and leaves its input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
seconds="${FUZZ_SECONDS:-60}"
cd fuzz
cargo fuzz run webhook_decrypt --sanitizer none -- -max_total_time="$seconds" -print_final_stats=1

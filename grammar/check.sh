#!/bin/sh
# fmt, clippy and tests for this crate; stops at the first failure.
set -e
cd "$(dirname "$0")/.."
cargo fmt -p journey-grammar
cargo clippy -q -p journey-grammar --all-targets -- -D warnings
cargo test -q -p journey-grammar 2>&1 | grep -E "test result|panicked|error" | sort | uniq -c
! cargo test -q -p journey-grammar 2>&1 | grep -q "FAILED"

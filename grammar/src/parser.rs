//! The pest parser generated from `journey.pest`, and the call-limit guard.

use std::num::NonZeroUsize;
use std::sync::Mutex;

/// The generated parser; its `Rule` enum stays inside the crate.
#[derive(pest_derive::Parser)]
#[grammar = "journey.pest"]
pub(crate) struct JourneyParser;

/// Pest's call budget is process-wide and captured when a parse starts, so it is only ever
/// raised: a parse of a small input must not shrink the budget of a large one running
/// concurrently. The grammar is linear; the budget only stops runaway backtracking.
pub(crate) fn ensure_call_limit(input_len: usize) {
    static LIMIT: Mutex<usize> = Mutex::new(0);
    // Valid input takes about 5-10 calls per byte.
    let want = 20_000_000usize.saturating_add(input_len.saturating_mul(200));
    let mut current = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    if want > *current {
        pest::set_call_limit(NonZeroUsize::new(want));
        *current = want;
    }
}

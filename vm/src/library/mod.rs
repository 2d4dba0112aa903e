//! The expression library: every function of `journey_compiler::functions` with AJO's meaning,
//! and the operators as functions (see [`ops`]). Failures give null, never a panic.
//!
//! The VM resolves names once with [`lookup`] and calls [`call_id`]; [`call`] does both.
//! Unless a function is null-aware (counting, joining, `in`, `toString`, `isEmpty`, ...), a null
//! argument gives a null result. `all`, `first` and `last` take lambdas: the VM evaluates them.

pub mod aggregation;
pub mod audience;
pub mod conversion;
pub mod date;
pub mod list;
pub mod math;
pub mod ops;
pub mod string;

use crate::value::Value;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::cell::Cell;

/// What a library call may read besides its arguments: the clock, the journey's time zone, a
/// seeded random source, and the profile's audience membership.
pub struct EvalContext<'a> {
    /// The current instant.
    pub now: Timestamp,
    /// The journey's time zone.
    pub timezone: TimeZone,
    /// The random source's state (SplitMix64): the same seed gives the same `random()`/`uuid()`.
    pub rng: Cell<u64>,
    /// Whether the profile is in the named audience.
    pub audiences: &'a dyn Fn(&str) -> bool,
}

fn no_audiences(_: &str) -> bool {
    false
}

impl EvalContext<'static> {
    /// A context at `now` in `timezone`, with random seed 0 and no audiences.
    pub fn new(now: Timestamp, timezone: TimeZone) -> Self {
        EvalContext { now, timezone, rng: Cell::new(0), audiences: &no_audiences }
    }
}

impl<'a> EvalContext<'a> {
    /// The same context with another random seed.
    pub fn with_seed(self, seed: u64) -> Self {
        self.rng.set(seed);
        self
    }

    /// The same context with an audience membership test.
    pub fn with_audiences<'b>(self, audiences: &'b dyn Fn(&str) -> bool) -> EvalContext<'b> {
        EvalContext { now: self.now, timezone: self.timezone, rng: self.rng, audiences }
    }

    /// The next 64 random bits (SplitMix64).
    pub fn next_u64(&self) -> u64 {
        let s = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A library function's implementation.
pub type Native = fn(&[Value], &EvalContext) -> Value;

/// A resolved library function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FnId(u16);

struct Entry {
    name: &'static str,
    f: Native,
    null_aware: bool,
}

macro_rules! table {
    ($($name:literal => $f:path $(, $aware:ident)?;)*) => {
        &[$(Entry { name: $name, f: $f, null_aware: table!(@aware $($aware)?) }),*]
    };
    (@aware) => { false };
    (@aware null_aware) => { true };
}

static TABLE: &[Entry] = table! {
    "avg" => aggregation::avg, null_aware;
    "count" => aggregation::count, null_aware;
    "countOnlyNull" => aggregation::count_only_null, null_aware;
    "countWithNull" => aggregation::count_with_null, null_aware;
    "distinctCount" => aggregation::distinct_count, null_aware;
    "distinctCountWithNull" => aggregation::distinct_count_with_null, null_aware;
    "max" => aggregation::max, null_aware;
    "min" => aggregation::min, null_aware;
    "sum" => aggregation::sum, null_aware;
    "toBool" => conversion::to_bool;
    "toDateOnly" => conversion::to_date_only;
    "toDateTime" => conversion::to_date_time;
    "toDateTimeOnly" => conversion::to_date_time_only;
    "toDecimal" => conversion::to_decimal;
    "toDuration" => conversion::to_duration;
    "toInteger" => conversion::to_integer;
    "toString" => conversion::to_string, null_aware;
    "currentTimeInMillis" => date::current_time_in_millis;
    "inLastDays" => date::in_last_days;
    "inLastHours" => date::in_last_hours;
    "inLastMonths" => date::in_last_months;
    "inLastYears" => date::in_last_years;
    "inNextDays" => date::in_next_days;
    "inNextHours" => date::in_next_hours;
    "inNextMonths" => date::in_next_months;
    "inNextYears" => date::in_next_years;
    "now" => date::now;
    "nowWithDelta" => date::now_with_delta;
    "setDays" => date::set_days;
    "setHours" => date::set_hours;
    "updateTimeZone" => date::update_time_zone;
    "dayOfWeek" => date::day_of_week;
    "timeOf" => date::time_of;
    "distinct" => list::distinct;
    "distinctWithNull" => list::distinct_with_null;
    "filter" => list::filter;
    "getListItem" => list::get_list_item;
    "at" => list::get_list_item;
    "in" => list::in_list, null_aware;
    "intersect" => list::intersect, null_aware;
    "limit" => list::limit;
    "listSize" => list::list_size, null_aware;
    "serializeList" => list::serialize_list, null_aware;
    "sort" => list::sort;
    "random" => math::random;
    "round" => math::round;
    "abs" => math::abs;
    "floor" => math::floor;
    "ceil" => math::ceil;
    "concat" => string::concat, null_aware;
    "contain" => string::contain;
    "containIgnoreCase" => string::contain_ignore_case;
    "endWith" => string::end_with;
    "endWithIgnoreCase" => string::end_with_ignore_case;
    "equalIgnoreCase" => string::equal_ignore_case;
    "indexOf" => string::index_of;
    "isEmpty" => string::is_empty, null_aware;
    "isNotEmpty" => string::is_not_empty, null_aware;
    "lastIndexOf" => string::last_index_of;
    "length" => string::length;
    "lower" => string::lower;
    "matchRegExp" => string::match_reg_exp;
    "notEqualIgnoreCase" => string::not_equal_ignore_case;
    "replace" => string::replace;
    "replaceAll" => string::replace_all;
    "split" => string::split;
    "startWith" => string::start_with;
    "startWithIgnoreCase" => string::start_with_ignore_case;
    "substr" => string::substr;
    "trim" => string::trim;
    "upper" => string::upper;
    "uuid" => string::uuid;
    "isEmailValid" => string::is_email_valid;
    "inAudience" => audience::in_audience;
    "inSegment" => audience::in_audience;
};

/// Resolves a library function by name (`None` for unknown names and for the lambda functions
/// `all`, `first`, `last`, which the VM evaluates, and `date`/`secret`, which the compiler does).
pub fn lookup(name: &str) -> Option<FnId> {
    TABLE.iter().position(|e| e.name == name).map(|i| FnId(i as u16))
}

/// The name of a resolved function.
pub fn name(id: FnId) -> &'static str {
    TABLE[id.0 as usize].name
}

/// Calls a resolved function.
pub fn call_id(id: FnId, args: &[Value], ctx: &EvalContext) -> Value {
    let e = &TABLE[id.0 as usize];
    if !e.null_aware && args.iter().any(Value::is_null) {
        return Value::Null;
    }
    (e.f)(args, ctx)
}

/// Calls a function by name; null for an unknown name.
pub fn call(name: &str, args: &[Value], ctx: &EvalContext) -> Value {
    match lookup(name) {
        Some(id) => call_id(id, args, ctx),
        None => Value::Null,
    }
}

/// The names of every function [`lookup`] resolves.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|e| e.name)
}

/// The argument at `i`, or null.
fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Null)
}

/// The items of a list argument, or of the arguments themselves when there are several
/// (for the `f(list)` / `f(a, b, ...)` overloads).
fn items(args: &[Value]) -> &[Value] {
    match args {
        [Value::List(l)] => l,
        [Value::Null] => &[],
        _ => args,
    }
}

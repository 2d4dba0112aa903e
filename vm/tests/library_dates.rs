//! Date functions and date arithmetic: offsets kept, zones, DST, windows, weekday and time of day.

mod common;
use common::*;
use journey_vm::library::{call, ops};
use journey_vm::value::Value;

fn dt(text: &str) -> Value {
    f("toDateTime", &[s(text)])
}

#[test]
fn conversions() {
    assert_eq!(j(&f("toDateTime", &[i(1_560_762_190_189)])), r#""2019-06-17T09:03:10.189Z""#);
    assert_eq!(
        j(&f("toDateTime", &[s("Europe/Paris"), f("toDateOnly", &[s("2023-08-18")])])),
        r#""2023-08-18T00:00:00.000+02:00""#
    );
    // Without an offset, text is read in the journey's time zone.
    let v = call("toDateTime", &[s("2023-08-18T10:00:00")], &ctx("Europe/Paris"));
    assert_eq!(j(&v), r#""2023-08-18T10:00:00.000+02:00""#);
    assert_eq!(j(&f("toDateTimeOnly", &[dt("2023-08-28T08:15:30.123-07:00")])), r#""2023-08-28T08:15:30.123""#);
    assert_eq!(j(&f("toDateOnly", &[dt("2023-12-12T01:30:00+02:00")])), r#""2023-12-12""#);
    assert_eq!(j(&f("toDateOnly", &[i(2023), i(2), i(28)])), r#""2023-02-28""#);
    assert_eq!(f("toDateOnly", &[i(2023), i(2), i(30)]), NULL);
    assert_eq!(f("toInteger", &[dt("1970-01-01T00:00:01Z")]), i(1000));
    assert_eq!(f("toDateTime", &[s("Mars/Olympus"), f("toDateOnly", &[s("2023-08-18")])]), NULL);
    assert_eq!(
        j(&f("toDateTime", &[s("+05:30"), f("toDateOnly", &[s("2023-08-18")])])),
        r#""2023-08-18T00:00:00.000+05:30""#
    );
}

#[test]
fn arithmetic_keeps_the_offset() {
    let v = ops::add(&dt("2023-12-03T15:15:30+02:00"), &Value::Duration(15 * 60_000));
    assert_eq!(j(&v), r#""2023-12-03T15:30:30.000+02:00""#);
    let d = ops::sub(&dt("2023-12-03T16:00:00Z"), &dt("2023-12-03T15:15:30+00:00"));
    assert_eq!(j(&d), r#""PT44M30S""#);
    let d = ops::sub(&dt("2023-12-03T15:00:00Z"), &dt("2023-12-03T16:00:00+01:00"));
    assert_eq!(j(&d), r#""PT0S""#);
    let date = ops::add(&f("toDateOnly", &[s("2024-02-28")]), &Value::Duration(86_400_000));
    assert_eq!(j(&date), r#""2024-02-29""#);
}

#[test]
fn now_and_deltas() {
    assert_eq!(j(&f("now", &[])), r#""2026-06-15T12:00:00.000Z""#);
    assert_eq!(f("now", &[s("Nowhere/City")]), NULL);
    assert_eq!(f("currentTimeInMillis", &[]), i(1_781_524_800_000));
    assert_eq!(j(&f("nowWithDelta", &[i(1), s("weeks")])), r#""2026-06-22T12:00:00.000Z""#);
    assert_eq!(j(&f("nowWithDelta", &[i(-1), s("Day")])), r#""2026-06-14T12:00:00.000Z""#);
    assert_eq!(f("nowWithDelta", &[i(1), s("fortnights")]), NULL);
}

#[test]
fn set_parts() {
    assert_eq!(f("setDays", &[dt("2026-02-10T08:00:00Z"), i(30)]), NULL);
    assert_eq!(f("setHours", &[dt("2026-02-10T08:00:00Z"), i(24)]), NULL);
    assert_eq!(j(&f("setDays", &[f("toDateOnly", &[s("2024-02-10")]), i(29)])), r#""2024-02-29""#);
    assert_eq!(f("setHours", &[f("toDateOnly", &[s("2024-02-10")]), i(3)]), NULL);
}

#[test]
fn time_zone_changes_across_dst() {
    let v = f("updateTimeZone", &[dt("2026-03-29T01:00:00Z"), s("Europe/Paris")]);
    assert_eq!(j(&v), r#""2026-03-29T03:00:00.000+02:00""#);
    // 02:30 does not exist in Paris that night: the first instant after the gap.
    let v = f("toDateTime", &[s("Europe/Paris"), f("toDateTimeOnly", &[s("2026-03-29T02:30:00")])]);
    assert_eq!(j(&v), r#""2026-03-29T03:30:00.000+02:00""#);
    // 02:30 happens twice on 2026-10-25: the earlier one.
    let v = f("toDateTime", &[s("Europe/Paris"), f("toDateTimeOnly", &[s("2026-10-25T02:30:00")])]);
    assert_eq!(j(&v), r#""2026-10-25T02:30:00.000+02:00""#);
}

#[test]
fn windows() {
    assert_eq!(f("inLastDays", &[dt("2026-06-12T12:00:00Z"), i(3)]), b(true));
    assert_eq!(f("inLastDays", &[dt("2026-06-15T12:00:00Z"), i(3)]), b(true));
    assert_eq!(f("inNextHours", &[dt("2026-06-15T16:00:00Z"), i(4)]), b(true));
    // Dates compare by day; local date-times are read in the journey's zone.
    assert_eq!(f("inLastDays", &[f("toDateOnly", &[s("2026-06-12")]), i(3)]), b(true));
    assert_eq!(f("inLastDays", &[f("toDateOnly", &[s("2026-06-11")]), i(3)]), b(false));
    let local = f("toDateTimeOnly", &[s("2026-06-15T13:30:00")]);
    assert_eq!(call("inLastHours", &[local.clone(), i(1)], &ctx("Europe/Paris")), b(true));
    assert_eq!(call("inLastHours", &[local, i(1)], &ctx("UTC")), b(false));
    assert_eq!(f("inLastDays", &[NULL, i(3)]), NULL);
}

#[test]
fn weekday_and_time_of_day_in_the_journey_zone() {
    // 2026-06-14T23:30Z is Sunday in UTC, Monday in Paris.
    let v = dt("2026-06-14T23:30:00Z");
    assert_eq!(call("dayOfWeek", std::slice::from_ref(&v), &ctx("UTC")), i(7));
    assert_eq!(call("dayOfWeek", std::slice::from_ref(&v), &ctx("Europe/Paris")), i(1));
    assert_eq!(j(&call("timeOf", std::slice::from_ref(&v), &ctx("Europe/Paris"))), r#""01:30:00""#);
    let t = call("timeOf", &[v], &ctx("UTC"));
    let lo = journey_vm::value::const_value(&journey_compiler::bytecode::Const::Time("09:00".into()));
    let hi = journey_vm::value::const_value(&journey_compiler::bytecode::Const::Time("18:00".into()));
    assert_eq!(ops::in_range(&t, &lo, &hi), b(false));
    assert_eq!(f("dayOfWeek", &[f("toDateOnly", &[s("2026-06-20")])]), i(6));
}

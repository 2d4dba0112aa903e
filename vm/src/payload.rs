//! The one check of an event's payload against its declared type, made by `journey run` (each
//! line of the events file) and `journey serve` (each event posted), with the same messages.
//!
//! It reads the payload's JSON text once, keeping nothing (no `serde_json::Value` is built), so
//! `journey run` can check every line at little cost before it converts what the program reads.

use crate::json::{PayloadSeed, ALL, ANY};
use crate::projection::Projection;
use crate::value::{self, Record, Value};
use journey_bytecode::types::RecordTy;
use journey_bytecode::Ty;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;

/// Checks event `name`'s payload (JSON text) against its type `ty`; the error names the field
/// that does not fit and how: "payload does not match `Ping`'s schema: field n: expected int,
/// found string".
pub fn check_payload(name: &str, ty: &Ty, payload: &str) -> Result<(), String> {
    match mismatch(ty, payload) {
        None => Ok(()),
        Some(why) => Err(format!("payload does not match `{name}`'s schema: {why}")),
    }
}

/// Where the JSON text `payload` does not fit `ty` (the first mismatch in the text; a missing
/// field when its record closes), or `None` when it fits. Fields the type does not declare are
/// allowed.
pub fn mismatch(ty: &Ty, payload: &str) -> Option<String> {
    let (trail, found) = (RefCell::new(Vec::new()), RefCell::new(None));
    let mut de = serde_json::Deserializer::from_str(payload);
    let check = Check { ty, trail: &trail, found: &found };
    match check.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => None,
        Err(e) => Some(explain(&e, trail, found)),
    }
}

/// Checks event `name`'s payload (JSON text) against the seed's type, as [`check_payload`]
/// does with the same messages, and converts what the program reads of it, as the seed does:
/// both in one reading of the text (`journey run` reads every line this way).
pub fn read_payload(name: &str, seed: PayloadSeed<'_>, payload: &str) -> Result<Value, String> {
    let (trail, found) = (RefCell::new(Vec::new()), RefCell::new(None));
    let mut de = serde_json::Deserializer::from_str(payload);
    let both = Both { check: Check { ty: seed.ty, trail: &trail, found: &found }, conv: seed };
    match both.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => Err(format!("payload does not match `{name}`'s schema: {}", explain(&e, trail, found))),
    }
}

/// [`read_payload`] as a seed, for a payload read where it stands in a larger document (an
/// event line of `journey run`). A payload that does not fit fails the whole reading with no
/// message: read it again with [`read_payload`] for the message.
#[derive(Clone, Copy)]
pub struct CheckedPayload<'a>(pub PayloadSeed<'a>);

impl<'de> DeserializeSeed<'de> for CheckedPayload<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let (trail, found) = (RefCell::new(Vec::new()), RefCell::new(None));
        Both { check: Check { ty: self.0.ty, trail: &trail, found: &found }, conv: self.0 }.deserialize(d)
    }
}

/// The message for a failed reading: the mismatch found, with the way to it, or the JSON error.
fn explain(e: &serde_json::Error, trail: RefCell<Vec<Trail>>, found: RefCell<Option<String>>) -> String {
    let Some(what) = found.take() else { return format!("not valid JSON ({e})") };
    // The trail was gathered innermost first, as the reading unwound.
    let mut path = String::new();
    for step in trail.take().iter().rev() {
        match step {
            Trail::Field(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
            }
            Trail::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    if path.is_empty() {
        what
    } else {
        format!("field {path}: {what}")
    }
}

/// One step of the way to a mismatch, kept only once one is found (so a payload that fits
/// builds no path at all).
enum Trail {
    Field(String),
    Index(usize),
}

/// Checks one value against `ty`; on a mismatch, `found` holds the message and the error
/// unwinds the reading.
#[derive(Clone, Copy)]
struct Check<'a> {
    ty: &'a Ty,
    /// The way to a mismatch, innermost step first (empty until one is found).
    trail: &'a RefCell<Vec<Trail>>,
    found: &'a RefCell<Option<String>>,
}

impl<'a> Check<'a> {
    fn at(self, ty: &'a Ty) -> Check<'a> {
        Check { ty, ..self }
    }

    /// The type with its `?` taken off (a null was handled before).
    fn bare(&self) -> &'a Ty {
        self.ty.non_null()
    }

    fn fail<E: serde::de::Error>(&self, expected: &Ty, found: &str) -> E {
        *self.found.borrow_mut() = Some(format!("expected {expected}, found {found}"));
        E::custom("the payload does not match its type")
    }

    fn fits<E: serde::de::Error>(&self, ok: bool, found: &str) -> Result<(), E> {
        if ok {
            Ok(())
        } else {
            Err(self.fail(self.bare(), found))
        }
    }

    /// Fails on the first field of `rt` that must be present and was not `seen`.
    fn missing<E: serde::de::Error>(&self, rt: &RecordTy, seen: &Seen) -> Result<(), E> {
        for (i, (name, field)) in rt.fields.iter().enumerate() {
            if !seen.has(i) && (field.required || !field.ty.is_nullable()) {
                self.trail.borrow_mut().push(Trail::Field(name.clone()));
                *self.found.borrow_mut() = Some(format!("missing, expected {}", field.ty));
                return Err(E::custom("a required field is missing"));
            }
        }
        Ok(())
    }

    /// Reads a value one `step` (a field name, or `[i]`) further in; on a mismatch inside it,
    /// adds the step to the trail as the reading unwinds.
    fn nested<T, E>(&self, step: Step<'_>, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let out = read();
        if out.is_err() && self.found.borrow().is_some() {
            self.trail.borrow_mut().push(match step {
                Step::Field(name) => Trail::Field(name.to_string()),
                Step::Index(i) => Trail::Index(i),
            });
        }
        out
    }
}

enum Step<'s> {
    Field(&'s str),
    Index(usize),
}

/// Fields of a record seen so far.
enum Seen {
    Few(u64),
    Many(Vec<bool>),
}

impl Seen {
    fn new(n: usize) -> Seen {
        if n <= 64 {
            Seen::Few(0)
        } else {
            Seen::Many(vec![false; n])
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Seen::Few(bits) => *bits |= 1 << i,
            Seen::Many(v) => v[i] = true,
        }
    }

    fn has(&self, i: usize) -> bool {
        match self {
            Seen::Few(bits) => bits & (1 << i) != 0,
            Seen::Many(v) => v[i],
        }
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if matches!(self.ty, Ty::Any) {
            d.deserialize_ignored_any(IgnoredAny).map(|_| ())
        } else {
            d.deserialize_any(self)
        }
    }
}

fn is_integral(f: f64) -> bool {
    f.fract() == 0.0 && f.abs() < 9.2e18
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value of type {}", self.ty)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if self.ty.is_nullable() {
            Ok(())
        } else {
            Err(self.fail(self.ty, "null"))
        }
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.fits(*self.bare() == Ty::Bool, "bool")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.fits(matches!(self.bare(), Ty::Number | Ty::Int | Ty::Duration), "number")
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<(), E> {
        let ok = match self.bare() {
            Ty::Number => true,
            Ty::Int | Ty::Duration => i64::try_from(n).is_ok(),
            _ => false,
        };
        self.fits(ok, "number")
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<(), E> {
        let ok = match self.bare() {
            Ty::Number => true,
            Ty::Int => is_integral(f),
            _ => false,
        };
        self.fits(ok, "number")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        let ty = self.bare();
        let ok = match ty {
            Ty::String => true,
            Ty::Date => value::parse_date(s).is_some(),
            Ty::DateTime => value::parse_datetime(s).is_some(),
            Ty::LocalDateTime => value::parse_local_datetime(s).is_some(),
            Ty::Time => value::parse_time(s).is_some(),
            Ty::Duration => value::parse_duration(s).is_some(),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        match ty {
            Ty::Date | Ty::DateTime | Ty::LocalDateTime | Ty::Time | Ty::Duration => {
                Err(self.fail(ty, &format!("a string that is not a {ty}")))
            }
            _ => Err(self.fail(ty, "string")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Ty::List(item) = self.bare() else { return Err(self.fail(self.bare(), "list")) };
        let mut i = 0;
        loop {
            let next = self.nested(Step::Index(i), || seq.next_element_seed(self.at(item)))?;
            if next.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match self.bare() {
            Ty::Map(item) => {
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    self.nested(Step::Field(&k), || map.next_value_seed(self.at(item)))?;
                }
                Ok(())
            }
            Ty::Record(rt) => {
                let mut seen = Seen::new(rt.fields.len());
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match rt.fields.get_full(k.as_ref()) {
                        Some((i, _, field)) => {
                            seen.set(i);
                            self.nested(Step::Field(&k), || map.next_value_seed(self.at(&field.ty)))?;
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                self.missing::<A::Error>(rt, &seen)
            }
            other => Err(self.fail(other, "record")),
        }
    }
}

/// A value checked against its type and converted in the same reading: what [`Check`] checks,
/// what [`PayloadSeed`] converts (a field the program does not read is only checked).
#[derive(Clone, Copy)]
struct Both<'a> {
    check: Check<'a>,
    conv: PayloadSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for Both<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if matches!(self.check.ty, Ty::Any) {
            self.conv.deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Both<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.check.expecting(f)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.check.visit_unit::<E>()?;
        self.conv.visit_unit()
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Value, E> {
        self.check.visit_bool::<E>(b)?;
        self.conv.visit_bool(b)
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Value, E> {
        self.check.visit_i64::<E>(n)?;
        self.conv.visit_i64(n)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Value, E> {
        self.check.visit_u64::<E>(n)?;
        self.conv.visit_u64(n)
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value, E> {
        self.check.visit_f64::<E>(n)?;
        self.conv.visit_f64(n)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        self.check.visit_str::<E>(s)?;
        self.conv.visit_str(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let check = self.check;
        let Ty::List(item) = check.bare() else { return Err(check.fail(check.bare(), "list")) };
        let both = Both { check: check.at(item), conv: PayloadSeed { ty: item, part: &ALL } };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match check.nested(Step::Index(items.len()), || seq.next_element_seed(both))? {
                Some(v) => items.push(v),
                None => return Ok(Value::list(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let check = self.check;
        // The part of each value the program reads, if any (then the name it reads it by).
        let part = |k: &str| match self.conv.part {
            Projection::All => Some((&ALL, None)),
            Projection::Fields(fields) => fields.iter().find(|(f, _)| f.as_str() == k).map(|(f, sub)| (sub, Some(f))),
        };
        let mut r = Record::new();
        let keep = |r: &mut Record, k: &str, name: Option<&arcstr::ArcStr>, v: Value| match name {
            // A repeated key keeps its first place and its last value, as serde_json's map does.
            Some(name) => r.insert(name.clone(), v),
            None => r.insert(k, v),
        };
        match check.bare() {
            Ty::Map(item) => {
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let at = check.at(item);
                    match part(&k) {
                        Some((sub, name)) => {
                            let both = Both { check: at, conv: PayloadSeed { ty: item, part: sub } };
                            let v = check.nested(Step::Field(&k), || map.next_value_seed(both))?;
                            keep(&mut r, &k, name, v);
                        }
                        None => check.nested(Step::Field(&k), || map.next_value_seed(at))?,
                    }
                }
            }
            Ty::Record(rt) => {
                let mut seen = Seen::new(rt.fields.len());
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let field = rt.fields.get_full(k.as_ref());
                    if let Some((i, _, _)) = field {
                        seen.set(i);
                    }
                    match (field, part(&k)) {
                        (Some((_, _, field)), Some((sub, name))) => {
                            let both =
                                Both { check: check.at(&field.ty), conv: PayloadSeed { ty: &field.ty, part: sub } };
                            let v = check.nested(Step::Field(&k), || map.next_value_seed(both))?;
                            keep(&mut r, &k, name, v);
                        }
                        (Some((_, _, field)), None) => {
                            check.nested(Step::Field(&k), || map.next_value_seed(check.at(&field.ty)))?
                        }
                        // A field the type does not declare is allowed, and read as untyped JSON.
                        (None, Some((sub, name))) => {
                            let v = map.next_value_seed(PayloadSeed { ty: &ANY, part: sub })?;
                            keep(&mut r, &k, name, v);
                        }
                        (None, None) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                check.missing::<A::Error>(rt, &seen)?;
            }
            other => return Err(check.fail(other, "record")),
        }
        Ok(Value::record(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey_bytecode::types::FieldTy;
    use serde_json::json;

    fn ping() -> Ty {
        let tags = Ty::List(Box::new(Ty::record([("id".to_string(), FieldTy::plain(Ty::String, true))])));
        Ty::record([
            ("user".to_string(), FieldTy::plain(Ty::String, true)),
            ("n".to_string(), FieldTy::plain(Ty::Int, true)),
            ("at".to_string(), FieldTy::plain(Ty::DateTime, false)),
            ("tags".to_string(), FieldTy::plain(tags, false)),
            ("score".to_string(), FieldTy::plain(Ty::Number, false)),
        ])
    }

    fn check(payload: serde_json::Value) -> Result<(), String> {
        check_payload("Ping", &ping(), &payload.to_string())
    }

    #[test]
    fn a_fitting_payload_passes_with_extra_fields_and_nulls() {
        assert_eq!(check(json!({"user": "ann", "n": 1, "extra": [1, {"x": null}]})), Ok(()));
        assert_eq!(check(json!({"user": "ann", "n": 2.0, "at": null, "score": 3, "tags": [{"id": "a"}]})), Ok(()));
    }

    #[test]
    fn each_mismatch_names_its_field_and_what_was_expected() {
        let cases = [
            (json!({"user": "cy", "n": "two"}), "field n: expected int, found string"),
            (json!({"user": 5, "n": 1}), "field user: expected string, found number"),
            (json!({"n": 1}), "field user: missing, expected string"),
            (json!({"user": null, "n": 1}), "field user: expected string, found null"),
            (json!({"user": "a", "n": 1.5}), "field n: expected int, found number"),
            (
                json!({"user": "a", "n": 1, "at": "monday"}),
                "field at: expected datetime, found a string that is not a datetime",
            ),
            (
                json!({"user": "a", "n": 1, "tags": [{"id": "a"}, {"id": 7}]}),
                "field tags[1].id: expected string, found number",
            ),
            (
                json!({"user": "a", "n": 1, "tags": {"id": "a"}}),
                "field tags: expected list<{ id: string }>, found record",
            ),
            (
                json!([1]),
                "expected { user: string, n: int, at: datetime?, tags: list<{ id: string }>?, ... }, found list",
            ),
        ];
        for (payload, want) in cases {
            let got = check(payload.clone());
            let want = format!("payload does not match `Ping`'s schema: {want}");
            assert_eq!(got, Err(want), "{payload}");
        }
    }

    /// The messages are those of the response check (`http::validate`) wherever one field is
    /// wrong, so a reason reads alike whichever side reports it.
    #[test]
    fn messages_agree_with_the_response_check() {
        for payload in [
            json!({"user": "cy", "n": "two"}),
            json!({"n": 1}),
            json!({"user": "a", "n": 1, "tags": [{"id": "a"}, {"id": 7}]}),
            json!({"user": "a", "n": 1, "at": "monday"}),
            json!(3),
        ] {
            let mut path = String::new();
            let want = crate::http::validate(&payload, &ping(), &mut path).err();
            assert_eq!(mismatch(&ping(), &payload.to_string()), want, "{payload}");
        }
    }

    /// What `journey run` reads in one pass: the check then the seed's conversion, each alone.
    /// (Values compared as their JSON: the language's `==` would hide an offset or a type.)
    fn two_passes(payload: &str, part: &Projection) -> Result<serde_json::Value, String> {
        let ty = ping();
        check_payload("Ping", &ty, payload)?;
        let seed = PayloadSeed { ty: &ty, part };
        Ok(seed.deserialize(&mut serde_json::Deserializer::from_str(payload)).expect("checked").to_json())
    }

    fn one_pass(payload: &str, part: &Projection) -> Result<serde_json::Value, String> {
        let ty = ping();
        read_payload("Ping", PayloadSeed { ty: &ty, part }, payload).map(|v| v.to_json())
    }

    fn parts() -> Vec<Projection> {
        let mut some = Projection::none();
        some.add(&["user".to_string()]);
        some.add(&["tags".to_string()]);
        some.add(&["extra".to_string(), "x".to_string()]);
        vec![Projection::All, Projection::none(), some]
    }

    #[test]
    fn one_pass_agrees_with_check_then_convert() {
        let payloads = [
            json!({"user": "ann", "n": 1, "extra": [1, {"x": null}], "at": "2026-01-02T03:04:05Z"}),
            json!({"user": "ann", "n": 2.0, "at": null, "score": 3, "tags": [{"id": "a"}]}),
            json!({"user": "cy", "n": "two"}),
            json!({"n": 1, "user": "b", "user": 3}),
            json!({"user": "a", "n": 1, "tags": [{"id": "a"}, {"id": 7}]}),
            json!({"user": "a", "n": 1, "extra": {"x": [1, 2]}}),
            json!([1]),
            json!(null),
        ];
        for part in parts() {
            for payload in &payloads {
                let text = payload.to_string();
                assert_eq!(one_pass(&text, &part), two_passes(&text, &part), "{text}");
            }
            assert!(one_pass("{\"user\": ", &part).unwrap_err().contains("not valid JSON"));
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            prop_oneof![Just("ann"), Just("2026-03-04T05:06:07Z"), Just("x")].prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let key = prop_oneof![
                Just("user"),
                Just("n"),
                Just("at"),
                Just("tags"),
                Just("score"),
                Just("id"),
                Just("extra")
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::vec((key, inner), 0..6).prop_map(|kv| serde_json::Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    proptest::proptest! {
        /// Any payload: the same verdict, message and value whichever way it is read.
        #[test]
        fn one_pass_agrees_on_any_payload(payload in json_value(), which in 0usize..3) {
            let part = &parts()[which];
            let text = payload.to_string();
            proptest::prop_assert_eq!(one_pass(&text, part), two_passes(&text, part));
        }
    }
}

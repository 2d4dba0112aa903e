//! Random JSON and one-field mutations of real payloads, for the fuzz tests of the engine's input
//! path (`vm/tests/oracle.rs`) and of `journey run` (`tests/run_fuzz.rs`, which includes this file).

use proptest::prelude::*;
use serde_json::Value as Json;

/// Any JSON value, biased toward the names and values the examples' events use (so that a
/// mutation often keeps a payload nearly valid and reaches deep into the engine).
pub fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Json::from),
        prop_oneof![
            Just("".to_string()),
            Just("ann@example.com".to_string()),
            Just("2026-05-12T18:00:00Z".to_string()),
            Just("2026-02-30".to_string()),
            Just("commerce.purchases".to_string()),
            Just("web.formFilledOut".to_string()),
            "\\PC{0,12}",
        ]
        .prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("eventType".to_string()),
                    Just("identityMap".to_string()),
                    Just("Email".to_string()),
                    Just("id".to_string()),
                    Just("customer".to_string()),
                    Just("email".to_string()),
                    Just("status".to_string()),
                    Just("productListItems".to_string()),
                    Just("commerce".to_string()),
                    "[a-zA-Z@_]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a path chosen by `choice` with `with`.
pub fn mutate(at: &mut Json, choice: u32, with: Json) {
    let len = match at {
        Json::Object(m) => m.len(),
        Json::Array(a) => a.len(),
        _ => 0,
    };
    if choice.is_multiple_of(3) || len == 0 {
        *at = with;
        return;
    }
    let i = (choice as usize / 3) % len;
    let inner = match at {
        Json::Object(m) => m.values_mut().nth(i),
        Json::Array(a) => a.get_mut(i),
        _ => None,
    };
    if let Some(inner) = inner {
        mutate(inner, choice / 7, with);
    }
}

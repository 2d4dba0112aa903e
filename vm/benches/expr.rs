//! Condition evaluation, side by side in one run: the bytecode VM, hand-written Rust (over typed
//! serde structs, and over `serde_json::Value` lookups), rhai and CEL, on real XDM payloads.
//!
//! Run: `cargo bench -p journey-vm --bench expr` (prints a table of medians and ratios at the end;
//! `-- --quick` for a shorter run). See `BENCHMARKS.md`.
//!
//! - VM: the conditions are compiled by the real compiler (parse, check against the XDM schemas,
//!   codegen) as event `when` chunks and journey `await ... where` chunks, and evaluated with
//!   `machine::eval_chunk` over values converted once from the JSON payload with
//!   `Value::from_json_typed`, as the engine does.
//! - Rust (typed): serde structs deserialized once.
//! - Rust (json): lookups in a `serde_json::Value` parsed once.
//! - rhai: one compiled `AST`, the payload converted once to a rhai object map in a `Scope`.
//! - CEL (`cel` crate): one compiled `Program`, the payload converted once to a CEL map.
//!
//! Every side gets its input in the same form: converted once, outside the timing, as the engine
//! converts an event's payload once when it arrives. The event's `timestamp` (a date-time in the
//! schema) is parsed in that conversion on every side: a `jiff::Timestamp` for Rust typed and for
//! rhai (a custom type), a CEL timestamp, and for Rust json, whose `serde_json::Value` has no
//! date-time, a `jiff::Timestamp` kept beside the `Value` (`Untyped::timestamp`).

use criterion::{BenchmarkId, Criterion};
use journey_compiler::bytecode::Code;
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::library::EvalContext;
use journey_vm::machine::{self, Frame, Image, DEFAULT_BUDGET};
use journey_vm::value::Value;
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

// ------------------------------------------------------------------------------------------
// Payloads
// ------------------------------------------------------------------------------------------

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../compiler/schema/xdm/components/classes/");

/// The XDM examples write field names with the `xdm:` prefix (the schema's own notation); payloads
/// as sent to Platform (Web SDK, streaming ingestion) use the bare names, as the compiler does.
fn strip_xdm(j: Json) -> Json {
    match j {
        Json::Object(m) => Json::Object(
            m.into_iter().map(|(k, v)| (k.strip_prefix("xdm:").unwrap_or(&k).to_string(), strip_xdm(v))).collect(),
        ),
        Json::Array(a) => Json::Array(a.into_iter().map(strip_xdm).collect()),
        other => other,
    }
}

fn example(name: &str) -> Json {
    let path = format!("{EXAMPLES}{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    strip_xdm(serde_json::from_str(&text).expect("example JSON"))
}

struct Payloads {
    /// experienceevent.example.1 (a purchase confirmation with a product list and an order),
    /// plus the `eventType` and `Email` identity the example leaves out.
    purchase: Json,
    /// experienceevent.example.3 (a mobile app session in a hotel lobby: place context).
    place: Json,
    /// experienceevent.example.7 (a push notification's custom action).
    push: Json,
    /// profile.example.1.
    profile: Json,
}

fn payloads() -> Payloads {
    let mut purchase = example("experienceevent.example.1.json");
    purchase["eventType"] = "commerce.purchases".into();
    purchase["identityMap"]["Email"] = serde_json::json!([{ "id": "jane@doe.com", "primary": true }]);
    Payloads {
        purchase,
        place: example("experienceevent.example.3.json"),
        push: example("experienceevent.example.7.json"),
        profile: example("profile.example.1.json"),
    }
}

/// The clock for date conditions: two days after the purchase example's timestamp.
const NOW: &str = "2017-09-28T12:00:00Z";

// ------------------------------------------------------------------------------------------
// Hand-written Rust over typed structs (only the fields the conditions read)
// ------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct XEvent {
    event_type: Option<String>,
    #[serde(deserialize_with = "de_ts")]
    timestamp: Option<jiff::Timestamp>,
    identity_map: HashMap<String, Vec<Identity>>,
    commerce: Option<Commerce>,
    product_list_items: Vec<Product>,
    web: Option<Web>,
    push_notification_tracking: Option<Push>,
    place_context: Option<PlaceContext>,
}

fn de_ts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<jiff::Timestamp>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.and_then(|s| s.parse().ok()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identity {
    id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Commerce {
    order: Option<Order>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Order {
    price_total: Option<f64>,
    currency_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Product {
    #[serde(rename = "SKU")]
    sku: Option<String>,
    quantity: Option<i64>,
    price_total: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Web {
    web_page_details: Option<PageDetails>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageDetails {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Push {
    custom_action: Option<CustomAction>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CustomAction {
    #[serde(rename = "actionID")]
    action_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlaceContext {
    geo: Option<Geo>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Geo {
    country_code: Option<String>,
    postal_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct XProfile {
    person: Option<Person>,
    work_address: Option<Address>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Person {
    name: Option<Name>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Name {
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Address {
    country_code: Option<String>,
}

struct Typed<'a> {
    e: &'a XEvent,
    p: &'a XProfile,
    now: jiff::Timestamp,
}

struct Untyped<'a> {
    e: &'a Json,
    p: &'a Json,
    now: jiff::Timestamp,
    /// The event's `timestamp`, parsed once with the payload (a `Value` holds no date-time).
    timestamp: Option<jiff::Timestamp>,
}

fn order_total(e: &XEvent) -> Option<f64> {
    e.commerce.as_ref()?.order.as_ref()?.price_total
}

fn within_last(t: jiff::Timestamp, now: jiff::Timestamp, days: i64) -> bool {
    let lo = now.as_millisecond() - days * 86_400_000;
    lo <= t.as_millisecond() && t <= now
}

// ------------------------------------------------------------------------------------------
// The conditions
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum On {
    Purchase,
    Place,
    Push,
}

/// Where the VM's chunk lives: an event's `when` (fields by bare name) or a journey's
/// `await ... on X as p where` (the payload in local `p`, plus `profile`).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    When,
    Await,
}

struct Case {
    name: &'static str,
    on: On,
    kind: Kind,
    journey: &'static str,
    rhai: &'static str,
    cel: &'static str,
    typed: fn(&Typed) -> bool,
    json: fn(&Untyped) -> bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "C1 eventType ==",
            on: On::Purchase,
            kind: Kind::When,
            journey: r#"eventType == "commerce.purchases""#,
            rhai: r#"event.eventType == "commerce.purchases""#,
            cel: r#"event.eventType == "commerce.purchases""#,
            typed: |t| t.e.event_type.as_deref() == Some("commerce.purchases"),
            json: |u| u.e["eventType"].as_str() == Some("commerce.purchases"),
        },
        Case {
            name: "C2 order.priceTotal > 100",
            on: On::Purchase,
            kind: Kind::When,
            journey: "commerce.order.priceTotal > 100",
            rhai: "event.commerce.order.priceTotal > 100.0",
            cel: "event.commerce.order.priceTotal > 100.0",
            typed: |t| order_total(t.e).is_some_and(|p| p > 100.0),
            json: |u| u.e["commerce"]["order"]["priceTotal"].as_f64().is_some_and(|p| p > 100.0),
        },
        Case {
            name: "C3 Email[0].id not empty",
            on: On::Purchase,
            kind: Kind::When,
            journey: "isNotEmpty(identityMap.Email[0].id)",
            rhai: r#"(event.identityMap.Email?[0]?.id ?? "") != """#,
            cel: r#"has(event.identityMap.Email) && size(event.identityMap.Email) > 0 && event.identityMap.Email[0].id != """#,
            typed: |t| {
                t.e.identity_map.get("Email").and_then(|l| l.first()).and_then(|i| i.id.as_deref()).is_some_and(|s| !s.is_empty())
            },
            json: |u| u.e["identityMap"]["Email"][0]["id"].as_str().is_some_and(|s| !s.is_empty()),
        },
        Case {
            name: "C4 items count + sum",
            on: On::Purchase,
            kind: Kind::When,
            journey: "count(productListItems) >= 1 and sum(productListItems[0].priceTotal, productListItems[1].priceTotal) > 100",
            rhai: "event.productListItems.len() >= 1 && ((event.productListItems.get(0)?.priceTotal ?? 0.0) + (event.productListItems.get(1)?.priceTotal ?? 0.0)) > 100.0",
            cel: "size(event.productListItems) >= 1 && event.productListItems[0].priceTotal + (size(event.productListItems) > 1 ? event.productListItems[1].priceTotal : 0.0) > 100.0",
            typed: |t| {
                let items = &t.e.product_list_items;
                !items.is_empty() && items.iter().take(2).filter_map(|i| i.price_total).sum::<f64>() > 100.0
            },
            json: |u| {
                let Some(items) = u.e["productListItems"].as_array() else { return false };
                items.iter().filter(|i| !i.is_null()).count() >= 1
                    && items.iter().take(2).filter_map(|i| i["priceTotal"].as_f64()).sum::<f64>() > 100.0
            },
        },
        Case {
            name: "C5 contain(lower(page name))",
            on: On::Purchase,
            kind: Kind::When,
            journey: r#"contain(lower(web.webPageDetails.name), "purchase")"#,
            rhai: r#"event.web.webPageDetails.name.to_lower().contains("purchase")"#,
            cel: r#"event.web.webPageDetails.name.lowerAscii().contains("purchase")"#,
            typed: |t| {
                let name = t.e.web.as_ref().and_then(|w| w.web_page_details.as_ref()).and_then(|d| d.name.as_deref());
                name.is_some_and(|n| n.to_lowercase().contains("purchase"))
            },
            json: |u| {
                u.e["web"]["webPageDetails"]["name"].as_str().is_some_and(|n| n.to_lowercase().contains("purchase"))
            },
        },
        Case {
            name: "C6 inLastDays(timestamp, 7)",
            on: On::Purchase,
            kind: Kind::When,
            journey: "inLastDays(timestamp, 7)",
            rhai: "in_last_days(event.timestamp, 7)",
            cel: r#"event.timestamp >= now - duration("168h") && event.timestamp <= now"#,
            typed: |t| t.e.timestamp.is_some_and(|ts| within_last(ts, t.now, 7)),
            json: |u| u.timestamp.is_some_and(|ts| within_last(ts, u.now, 7)),
        },
        Case {
            name: "C7 ?? default in [list]",
            on: On::Purchase,
            kind: Kind::When,
            journey: r#"(commerce.order.currencyCode ?? "USD") in ["USD", "EUR", "GBP"]"#,
            rhai: r#"(event.commerce.order.currencyCode ?? "USD") in ["USD", "EUR", "GBP"]"#,
            cel: r#"(has(event.commerce.order.currencyCode) ? event.commerce.order.currencyCode : "USD") in ["USD", "EUR", "GBP"]"#,
            typed: |t| {
                let c = t.e.commerce.as_ref().and_then(|c| c.order.as_ref()).and_then(|o| o.currency_code.as_deref());
                ["USD", "EUR", "GBP"].contains(&c.unwrap_or("USD"))
            },
            json: |u| {
                let c = u.e["commerce"]["order"]["currencyCode"].as_str().unwrap_or("USD");
                ["USD", "EUR", "GBP"].contains(&c)
            },
        },
        Case {
            name: "C8 nested if tiers",
            on: On::Purchase,
            kind: Kind::When,
            journey: r#"(if commerce.order.priceTotal >= 500 then "gold" else if commerce.order.priceTotal >= 100 then "silver" else "bronze") == "silver""#,
            rhai: r#"(if event.commerce.order.priceTotal >= 500.0 { "gold" } else if event.commerce.order.priceTotal >= 100.0 { "silver" } else { "bronze" }) == "silver""#,
            cel: r#"(event.commerce.order.priceTotal >= 500.0 ? "gold" : event.commerce.order.priceTotal >= 100.0 ? "silver" : "bronze") == "silver""#,
            typed: |t| {
                let p = order_total(t.e);
                let tier = match p {
                    Some(p) if p >= 500.0 => "gold",
                    Some(p) if p >= 100.0 => "silver",
                    _ => "bronze",
                };
                tier == "silver"
            },
            json: |u| {
                let p = u.e["commerce"]["order"]["priceTotal"].as_f64();
                let tier = match p {
                    Some(p) if p >= 500.0 => "gold",
                    Some(p) if p >= 100.0 => "silver",
                    _ => "bronze",
                };
                tier == "silver"
            },
        },
        Case {
            name: "C9 push eventType and actionID",
            on: On::Push,
            kind: Kind::When,
            journey: r#"eventType == "pushTracking.customAction" and pushNotificationTracking.customAction.actionID == "GAME_INVITATION""#,
            rhai: r#"event.eventType == "pushTracking.customAction" && event.pushNotificationTracking.customAction.actionID == "GAME_INVITATION""#,
            cel: r#"event.eventType == "pushTracking.customAction" && event.pushNotificationTracking.customAction.actionID == "GAME_INVITATION""#,
            typed: |t| {
                t.e.event_type.as_deref() == Some("pushTracking.customAction")
                    && t.e
                        .push_notification_tracking
                        .as_ref()
                        .and_then(|p| p.custom_action.as_ref())
                        .and_then(|a| a.action_id.as_deref())
                        == Some("GAME_INVITATION")
            },
            json: |u| {
                u.e["eventType"].as_str() == Some("pushTracking.customAction")
                    && u.e["pushNotificationTracking"]["customAction"]["actionID"].as_str() == Some("GAME_INVITATION")
            },
        },
        Case {
            name: "C10 first(items, lambda)",
            on: On::Purchase,
            kind: Kind::When,
            journey: r#"first(productListItems, i -> i.SKU == "1002352692" and i.quantity > 0) is not null"#,
            rhai: r#"event.productListItems.some(|i| i.SKU == "1002352692" && i.quantity > 0)"#,
            cel: r#"event.productListItems.exists(i, i.SKU == "1002352692" && i.quantity > 0)"#,
            typed: |t| {
                t.e.product_list_items.iter().any(|i| i.sku.as_deref() == Some("1002352692") && i.quantity.is_some_and(|q| q > 0))
            },
            json: |u| {
                u.e["productListItems"].as_array().is_some_and(|items| {
                    items.iter().any(|i| i["SKU"].as_str() == Some("1002352692") && i["quantity"].as_i64().is_some_and(|q| q > 0))
                })
            },
        },
        Case {
            name: "C11 geo in list, startWith",
            on: On::Place,
            kind: Kind::When,
            journey: r#"placeContext.geo.countryCode in ["JP", "KR"] and startWith(placeContext.geo.postalCode ?? "", "141")"#,
            rhai: r#"event.placeContext.geo.countryCode in ["JP", "KR"] && (event.placeContext.geo.postalCode ?? "").starts_with("141")"#,
            cel: r#"event.placeContext.geo.countryCode in ["JP", "KR"] && event.placeContext.geo.postalCode.startsWith("141")"#,
            typed: |t| {
                let geo = t.e.place_context.as_ref().and_then(|p| p.geo.as_ref());
                geo.and_then(|g| g.country_code.as_deref()).is_some_and(|c| ["JP", "KR"].contains(&c))
                    && geo.and_then(|g| g.postal_code.as_deref()).unwrap_or("").starts_with("141")
            },
            json: |u| {
                let geo = &u.e["placeContext"]["geo"];
                geo["countryCode"].as_str().is_some_and(|c| ["JP", "KR"].contains(&c))
                    && geo["postalCode"].as_str().unwrap_or("").starts_with("141")
            },
        },
        Case {
            name: "C12 await: order and profile",
            on: On::Purchase,
            kind: Kind::Await,
            journey: r#"p.commerce.order.priceTotal > 100 and profile.workAddress.countryCode == "US" and (profile.person.name.firstName ?? "") != """#,
            rhai: r#"p.commerce.order.priceTotal > 100.0 && profile.workAddress.countryCode == "US" && (profile.person.name.firstName ?? "") != """#,
            cel: r#"p.commerce.order.priceTotal > 100.0 && profile.workAddress.countryCode == "US" && profile.person.name.firstName != """#,
            typed: |t| {
                order_total(t.e).is_some_and(|p| p > 100.0)
                    && t.p.work_address.as_ref().and_then(|a| a.country_code.as_deref()) == Some("US")
                    && t.p.person.as_ref().and_then(|p| p.name.as_ref()).and_then(|n| n.first_name.as_deref()).is_some_and(|n| !n.is_empty())
            },
            json: |u| {
                u.e["commerce"]["order"]["priceTotal"].as_f64().is_some_and(|p| p > 100.0)
                    && u.p["workAddress"]["countryCode"].as_str() == Some("US")
                    && !u.p["person"]["name"]["firstName"].as_str().unwrap_or("").is_empty()
            },
        },
        Case {
            name: "C13 await: interpolated name",
            on: On::Purchase,
            kind: Kind::Await,
            journey: r#""${profile.person.name.firstName} ${profile.person.name.lastName}" == "Jane Doe""#,
            rhai: r#"`${profile.person.name.firstName} ${profile.person.name.lastName}` == "Jane Doe""#,
            cel: r#"profile.person.name.firstName + " " + profile.person.name.lastName == "Jane Doe""#,
            typed: |t| {
                let n = t.p.person.as_ref().and_then(|p| p.name.as_ref());
                let first = n.and_then(|n| n.first_name.as_deref()).unwrap_or("");
                let last = n.and_then(|n| n.last_name.as_deref()).unwrap_or("");
                format!("{first} {last}") == "Jane Doe"
            },
            json: |u| {
                let n = &u.p["person"]["name"];
                format!("{} {}", n["firstName"].as_str().unwrap_or(""), n["lastName"].as_str().unwrap_or("")) == "Jane Doe"
            },
        },
    ]
}

// ------------------------------------------------------------------------------------------
// The VM side: one generated project with every condition
// ------------------------------------------------------------------------------------------

const HEADER: &str = r#"
profile = xdm "https://ns.adobe.com/xdm/context/profile"
    with "https://ns.adobe.com/xdm/context/identitymap",
         "https://ns.adobe.com/xdm/context/profile-person-details",
         "https://ns.adobe.com/xdm/context/profile-personal-details",
         "https://ns.adobe.com/xdm/context/profile-work-details"

schema Ev = xdm "https://ns.adobe.com/xdm/context/experienceevent"
    with "https://ns.adobe.com/xdm/context/experienceevent-commerce",
         "https://ns.adobe.com/xdm/context/experienceevent-web",
         "https://ns.adobe.com/xdm/context/experienceevent-environment-details",
         "https://ns.adobe.com/xdm/context/experienceevent-pushtracking"

event Start: Ev { key identityMap.Email[0].id }
"#;

/// Where each case's chunk is.
enum Chunk {
    When { event: usize, addr: u32 },
    Await { journey: usize, slot: u16, addr: u32 },
}

fn compile(cases: &[Case]) -> (Arc<Image>, Vec<Chunk>) {
    let mut src = HEADER.to_string();
    for (i, c) in cases.iter().enumerate().filter(|(_, c)| c.kind == Kind::When) {
        src.push_str(&format!("event W{i}: Ev {{ key identityMap.Email[0].id when {} }}\n", c.journey));
    }
    src.push_str("journey Bench {\n  start on Start\n  await {\n");
    for (i, c) in cases.iter().enumerate().filter(|(_, c)| c.kind == Kind::Await) {
        src.push_str(&format!("    on Start as p where {} -> {{ end \"a{i}\" }}\n", c.journey));
    }
    src.push_str("    after 1d -> { end }\n  }\n}\n");
    let mut sources = Sources::default();
    let id = sources.add("bench.journey", "bench.journey".into(), src);
    let registry = SchemaRegistry::new(&[]).expect("built-in schemas");
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "bench conditions must check: {:#?}", checked.diagnostics);
    let program = journey_compiler::codegen::compile(&checked.program, &sources);
    let mut arm = 0;
    let chunks = cases
        .iter()
        .enumerate()
        .map(|(i, c)| match c.kind {
            Kind::When => {
                let event = program.events.iter().position(|e| e.name == format!("W{i}")).expect("event");
                Chunk::When { event, addr: program.events[event].when.expect("when") }
            }
            Kind::Await => {
                let a = &program.journeys[0].awaits[0].arms[arm];
                arm += 1;
                Chunk::Await { journey: 0, slot: a.slot.expect("as p"), addr: a.condition.expect("where") }
            }
        })
        .collect();
    (Arc::new(Image::load(program).expect("loads")), chunks)
}

fn no_secret(_: &str) -> Option<String> {
    None
}

/// Evaluates a case's chunk as the engine does (the same `Frame`, stack and budget).
struct VmCase<'a> {
    image: &'a Image,
    code: &'a Code,
    addr: u32,
    locals: Vec<Value>,
    event: Value,
    profile: &'a Value,
}

impl VmCase<'_> {
    fn eval(&mut self, ctx: &EvalContext, stack: &mut Vec<Value>) -> Value {
        let mut frame = Frame {
            locals: &mut self.locals,
            event_paths: &[],
            event: &self.event,
            profile: self.profile,
            ctx,
            secret: &no_secret,
        };
        let mut budget = DEFAULT_BUDGET;
        machine::eval_chunk(self.image, self.code, self.addr, &mut frame, stack, &mut budget).unwrap_or_default()
    }
}

// ------------------------------------------------------------------------------------------
// rhai and CEL
// ------------------------------------------------------------------------------------------

/// The event's `timestamp`, parsed as every side's payload conversion parses it.
fn timestamp_of(j: &Json) -> Option<jiff::Timestamp> {
    j.get("timestamp")?.as_str()?.parse().ok()
}

/// A payload as a rhai value, its `timestamp` parsed (a `jiff::Timestamp`, a rhai custom type).
fn to_rhai_event(j: &Json) -> rhai::Dynamic {
    let mut v = to_rhai(j);
    if let (Some(ts), Some(mut map)) = (timestamp_of(j), v.write_lock::<rhai::Map>()) {
        map.insert("timestamp".into(), rhai::Dynamic::from(ts));
    }
    v
}

/// A payload as a CEL value, its `timestamp` parsed (a CEL timestamp).
fn to_cel_event(j: &Json) -> cel::Value {
    let mut v = cel::to_value(j).expect("cel payload");
    if let (Some(ts), cel::Value::Map(map)) = (j.get("timestamp").and_then(Json::as_str), &mut v) {
        let ts = cel::Value::Timestamp(ts.parse().expect("chrono timestamp"));
        Arc::make_mut(&mut map.map).insert(cel::objects::Key::String(Arc::new("timestamp".into())), ts);
    }
    v
}

fn to_rhai(j: &Json) -> rhai::Dynamic {
    match j {
        Json::Null => rhai::Dynamic::UNIT,
        Json::Bool(b) => (*b).into(),
        Json::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Json::String(s) => s.as_str().into(),
        Json::Array(a) => rhai::Dynamic::from_array(a.iter().map(to_rhai).collect()),
        Json::Object(m) => {
            let mut map = rhai::Map::new();
            for (k, v) in m {
                map.insert(k.as_str().into(), to_rhai(v));
            }
            rhai::Dynamic::from_map(map)
        }
    }
}

fn rhai_engine(now: jiff::Timestamp) -> rhai::Engine {
    let mut engine = rhai::Engine::new();
    // AJO's inLastDays, as a native function (rhai has no date type).
    engine.register_type_with_name::<jiff::Timestamp>("Timestamp");
    engine.register_fn("in_last_days", move |ts: jiff::Timestamp, days: i64| -> bool { within_last(ts, now, days) });
    engine
}

// ------------------------------------------------------------------------------------------
// The bench
// ------------------------------------------------------------------------------------------

const SIDES: [&str; 5] = ["vm", "rust-typed", "rust-json", "rhai", "cel"];

fn bench(c: &mut Criterion) {
    let p = payloads();
    let cases = cases();
    let now: jiff::Timestamp = NOW.parse().expect("now");
    let (image, chunks) = compile(&cases);
    let program = &image.program;
    let ctx = EvalContext::new(now, jiff::tz::TimeZone::UTC);

    let json_of = |on: On| match on {
        On::Purchase => &p.purchase,
        On::Place => &p.place,
        On::Push => &p.push,
    };
    // Converted once, as the engine converts an incoming payload and a profile.
    let start_ty = &program.events.iter().find(|e| e.name == "Start").expect("Start").payload;
    let profile_value = Value::from_json_typed(&p.profile, program.profile.as_ref().expect("profile type"));
    let typed_profile: XProfile = serde_json::from_value(p.profile.clone()).expect("typed profile");
    let typed_events: HashMap<u8, XEvent> = [On::Purchase, On::Place, On::Push]
        .into_iter()
        .map(|on| (on as u8, serde_json::from_value(json_of(on).clone()).expect("typed event")))
        .collect();
    let rhai = rhai_engine(now);
    let rhai_profile = to_rhai(&p.profile);
    let cel_env = {
        let mut env = cel::Env::stdlib();
        env.add_extension(cel::extensions::strings).expect("strings extension");
        Arc::new(env)
    };
    let mut stack = Vec::with_capacity(64);

    let mut group = c.benchmark_group("expr");
    for (case, chunk) in cases.iter().zip(&chunks) {
        let json = json_of(case.on);
        let mut vm = match *chunk {
            Chunk::When { event, addr } => {
                let decl = &program.events[event];
                // Room for the lambdas' parameters (`i` in `first(items, i -> ...)`).
                let slots = decl.code.lambdas.iter().map(|l| l.slot as usize + 1).max().unwrap_or(0);
                VmCase {
                    image: &image,
                    code: &decl.code,
                    addr,
                    locals: vec![Value::Null; slots],
                    event: Value::from_json_typed(json, &decl.payload),
                    profile: &Value::Null,
                }
            }
            Chunk::Await { journey, slot, addr } => {
                let j = &program.journeys[journey];
                let mut locals = vec![Value::Null; j.locals as usize];
                locals[slot as usize] = Value::from_json_typed(json, start_ty);
                VmCase { image: &image, code: &j.code, addr, locals, event: Value::Null, profile: &profile_value }
            }
        };
        let typed = Typed { e: &typed_events[&(case.on as u8)], p: &typed_profile, now };
        let untyped = Untyped { e: json, p: &p.profile, now, timestamp: timestamp_of(json) };
        let rhai_ast = rhai.compile(case.rhai).unwrap_or_else(|e| panic!("{}: rhai: {e}", case.name));
        let mut scope = rhai::Scope::new();
        let var = if case.kind == Kind::Await { "p" } else { "event" };
        scope.push_dynamic(var, to_rhai_event(json));
        scope.push_dynamic("profile", rhai_profile.clone());
        let cel_program = cel_env.compile(case.cel).unwrap_or_else(|e| panic!("{}: cel: {e}", case.name));
        let mut cel_ctx = cel::Context::with_env(cel_env.clone());
        cel_ctx.add_variable_from_value(var, to_cel_event(json));
        cel_ctx.add_variable("profile", &p.profile).expect("cel profile");
        cel_ctx.add_variable_from_value("now", cel::Value::Timestamp(NOW.parse().expect("chrono now")));

        // Every side must give the same answer.
        let expect = (case.typed)(&typed);
        let got_vm = vm.eval(&ctx, &mut stack);
        let got_json = (case.json)(&untyped);
        let got_rhai =
            rhai.eval_ast_with_scope::<bool>(&mut scope, &rhai_ast).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let got_cel = cel_program.execute(&cel_ctx).unwrap_or_else(|e| panic!("{}: cel: {e}", case.name));
        assert_eq!(got_vm, Value::Bool(expect), "{}: vm", case.name);
        assert_eq!(got_json, expect, "{}: rust-json", case.name);
        assert_eq!(got_rhai, expect, "{}: rhai", case.name);
        assert_eq!(got_cel, cel::Value::Bool(expect), "{}: cel", case.name);
        eprintln!("{:<34} = {expect}", case.name);

        group.bench_function(BenchmarkId::new(case.name, "vm"), |b| b.iter(|| black_box(vm.eval(&ctx, &mut stack))));
        group.bench_function(BenchmarkId::new(case.name, "rust-typed"), |b| {
            b.iter(|| black_box((case.typed)(black_box(&typed))))
        });
        group.bench_function(BenchmarkId::new(case.name, "rust-json"), |b| {
            b.iter(|| black_box((case.json)(black_box(&untyped))))
        });
        group.bench_function(BenchmarkId::new(case.name, "rhai"), |b| {
            b.iter(|| black_box(rhai.eval_ast_with_scope::<bool>(&mut scope, &rhai_ast)))
        });
        group.bench_function(BenchmarkId::new(case.name, "cel"), |b| {
            b.iter(|| black_box(cel_program.execute(&cel_ctx)))
        });
    }
    group.finish();
    // As a test (`cargo test --benches`) criterion runs each side once and keeps no results.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    if !quick {
        report(&cases);
    }
}

/// Reads criterion's results back and prints the comparison table (markdown): per side, the
/// fastest sample (time per iteration of the fastest of criterion's 100 samples, which on a
/// shared machine is the least disturbed) and the median estimate.
fn report(cases: &[Case]) {
    let root = std::env::var_os("CRITERION_HOME").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
        target.join("criterion")
    });
    let read = |case: &str, side: &str, file: &str| -> Option<Json> {
        // criterion's `make_filename_safe`.
        let dir = case.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
        let path = root.join("expr").join(dir).join(side).join("new").join(file);
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let fastest = |case: &str, side: &str| -> Option<f64> {
        let j = read(case, side, "sample.json")?;
        let (iters, times) = (j["iters"].as_array()?, j["times"].as_array()?);
        iters.iter().zip(times).filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?)).reduce(f64::min)
    };
    let median = |case: &str, side: &str| read(case, side, "estimates.json")?["median"]["point_estimate"].as_f64();
    let geo = |xs: &[f64]| (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len().max(1) as f64).exp();
    let mut ratios: Vec<[f64; 4]> = Vec::new();
    let mut median_ratios: Vec<[f64; 4]> = Vec::new();
    println!();
    println!("Fastest sample per side (ns per evaluation), and ratios:");
    println!();
    println!("| condition | VM | Rust typed | Rust json | rhai | CEL | VM/typed | VM/json | rhai/VM | CEL/VM |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for case in cases {
        let t: Vec<Option<f64>> = SIDES.iter().map(|s| fastest(case.name, s)).collect();
        let [Some(vm), Some(typed), Some(json), Some(rhai), Some(cel)] = t[..] else {
            println!("| {} | (no results under {}) |", case.name, root.display());
            continue;
        };
        ratios.push([vm / typed, vm / json, rhai / vm, cel / vm]);
        let m: Vec<Option<f64>> = SIDES.iter().map(|s| median(case.name, s)).collect();
        if let [Some(vm), Some(typed), Some(json), Some(rhai), Some(cel)] = m[..] {
            median_ratios.push([vm / typed, vm / json, rhai / vm, cel / vm]);
        }
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.1} |",
            case.name,
            ns(vm),
            ns(typed),
            ns(json),
            ns(rhai),
            ns(cel),
            vm / typed,
            vm / json,
            rhai / vm,
            cel / vm
        );
    }
    let column = |rs: &[[f64; 4]], i: usize| geo(&rs.iter().map(|r| r[i]).collect::<Vec<_>>());
    if !ratios.is_empty() {
        println!(
            "| **geometric mean** | | | | | | **{:.2}** | **{:.2}** | **{:.1}** | **{:.1}** |",
            column(&ratios, 0),
            column(&ratios, 1),
            column(&ratios, 2),
            column(&ratios, 3)
        );
    }
    if !median_ratios.is_empty() {
        println!();
        println!(
            "By criterion's median estimates instead: geometric means VM/typed {:.2}, VM/json {:.2}, rhai/VM {:.1}, CEL/VM {:.1}; worst VM/json {:.2}, worst rhai/VM {:.1}, worst CEL/VM {:.1}.",
            column(&median_ratios, 0),
            column(&median_ratios, 1),
            column(&median_ratios, 2),
            column(&median_ratios, 3),
            median_ratios.iter().map(|r| r[1]).fold(0.0, f64::max),
            median_ratios.iter().map(|r| r[2]).fold(f64::MAX, f64::min),
            median_ratios.iter().map(|r| r[3]).fold(f64::MAX, f64::min),
        );
    }
}

fn ns(t: f64) -> String {
    if t >= 1000.0 {
        format!("{:.2} µs", t / 1000.0)
    } else {
        format!("{t:.1} ns")
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}

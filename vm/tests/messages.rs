//! Messages in the engine as a durable runtime uses it (docs/language.md, Messages): the changes
//! it hands over for the message log, a queued send counted once however often it waits, the
//! frequency windows shared by the engines of several versions, and a restore that keeps them.

use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::durable::Stored;
use journey_vm::engine::messages::{self, MessageChange};
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use journey_vm::value::Value;
use serde_json::json;
use std::sync::Arc;

const SRC: &str = r#"
profile = { email: string?, tz: string? }
type Go = { key: string }
event Night: Go { key key }
event Day: Go { key key }
action Mail(to: string, template: string, messageId: string) = http POST "https://mail.example.com" {
  body { to: to, template: template, id: messageId }
}
channel email { to profile.email  deliver Mail  quiet 21:00..08:00 queue }
channel sms { to profile.email  deliver Mail }
frequency any 1 per 1d
journey Nightly {
  start on Night
  reentry always
  timezone profile.tz ?? "UTC"
  send email "night"
}
journey Daily {
  start on Day
  reentry always
  send sms "day" on suppressed { end "held" }
}
"#;

fn image(src: &str) -> Arc<Image> {
    let registry = SchemaRegistry::new(&[]).expect("registry");
    let mut sources = Sources::default();
    let id = sources.add("m.journey", "m.journey".into(), src.to_string());
    let checked = journey_compiler::check(&sources, &[id], &registry, &Default::default());
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    Arc::new(Image::load(journey_compiler::codegen::compile(&checked.program, &sources)).expect("loads"))
}

/// 2026-01-05 at `hour`:00 UTC.
fn at(hour: i64) -> i64 {
    1_767_571_200_000 + hour * 3_600_000
}

fn engine(image: &Arc<Image>, now: i64) -> Engine {
    let mut e = Engine::new(image.clone(), now, Options { keep_paths: true, ..Options::default() });
    e.set_profile("ann", Value::from_json(&json!({"email": "ann@example.com", "tz": "UTC"})));
    e
}

fn go(e: &mut Engine, event: &str) {
    e.deliver(event, Payload::Json(&json!({"key": "ann"})), To::Key).expect("delivered");
}

fn deliver_all(e: &mut Engine) -> Vec<String> {
    let calls = e.take_calls();
    for c in &calls {
        e.complete_call(c.instance, CallOutcome::Ok(Value::Null));
    }
    calls.into_iter().map(|c| c.idempotency_key).collect()
}

fn outcomes(changes: &[MessageChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            MessageChange::Record(r) => format!("{} {}", r.template, r.outcome),
            MessageChange::Outcome { outcome, .. } => outcome.to_string(),
            MessageChange::Reaction { opened, .. } => format!("reaction {opened}"),
        })
        .collect()
}

/// A send that waits in a quiet window, then finds itself inside one again (the profile's time
/// zone moved meanwhile), is one message: queued once in the report, the log and the changes.
#[test]
fn a_message_queued_twice_counts_once() {
    let image = image(SRC);
    let mut e = engine(&image, at(22));
    go(&mut e, "Night");
    assert!(e.take_calls().is_empty(), "22:00 UTC is quiet");
    // Now in New York (UTC-5): at 08:00 UTC it is 03:00 there, quiet again, until 13:00 UTC.
    e.set_profile("ann", Value::from_json(&json!({"email": "ann@example.com", "tz": "America/New_York"})));
    e.advance(at(24 + 8), true);
    assert!(e.take_calls().is_empty(), "03:00 in New York is quiet");
    e.advance(at(24 + 13), true);
    let ids = deliver_all(&mut e);
    assert_eq!(ids.len(), 1, "sent once the New York night is over");
    let counts = e.report().journeys[0].sends.values().next().cloned().expect("the send's counts");
    assert_eq!((counts.queued, counts.sent), (1, 1), "{counts:?}");
    let log: Vec<&str> = e.message_log().iter().map(|m| m.outcome.as_str()).collect();
    assert_eq!(log, ["queued", "sent"]);
    assert_eq!(outcomes(&e.take_changes().messages), ["night queued", "night sending", "sent"]);
}

/// The changes name every decision by message id (the deliver call's idempotency key), a
/// suppression with its reason; a live instance's queued send is kept with it until it goes.
#[test]
fn the_changes_carry_each_decision_and_the_instance_keeps_its_queued_send() {
    let image = image(SRC);
    let mut e = engine(&image, at(9));
    go(&mut e, "Day");
    let ids = deliver_all(&mut e);
    go(&mut e, "Day");
    let changes = e.take_changes().messages;
    assert_eq!(outcomes(&changes), ["day sending", "sent", "day suppressed:frequency"]);
    let MessageChange::Record(first) = &changes[0] else { panic!("a record") };
    assert_eq!(first.id, ids[0], "the record's id is the idempotency key");
    // A queued send is kept with its instance while it waits (22:00 the next day: the rule
    // has room again), and dropped when it goes.
    e.advance(at(24 + 22), true);
    go(&mut e, "Night");
    let waiting = e.live().next().expect("waits in the quiet window").id;
    let kept = e.instance_messages(waiting).expect("kept");
    assert!(kept.queued.is_some() && kept.live.is_empty(), "{kept:?}");
    e.advance(at(48 + 8), true);
    assert_eq!(deliver_all(&mut e).len(), 1, "sent when the window ends");
    assert!(e.instance(waiting).is_none(), "it sent and ended");
    assert_eq!(e.instance_messages(waiting), None);
}

/// Two engines (two versions of the project) sharing their windows count each other's
/// messages: a rule holds across versions.
#[test]
fn engines_that_share_the_windows_count_each_others_messages() {
    let image = image(SRC);
    let mut v1 = engine(&image, at(9));
    let mut v2 = engine(&image, at(9));
    let shared = messages::SharedFrequency::default();
    v1.share_frequency(&shared);
    v2.share_frequency(&shared);
    go(&mut v1, "Day");
    assert_eq!(deliver_all(&mut v1).len(), 1);
    go(&mut v2, "Day");
    assert!(v2.take_calls().is_empty(), "the other version's message fills the rule");
    assert_eq!(v2.report().journeys[1].ended.get("held"), Some(&1));
    assert_eq!(messages::lock(&shared).horizon_ms(), 86_400_000);
}

/// What a durable runtime stores (the counted messages, each instance's queued send) gives a
/// restored engine the same decisions: a rule is not exceeded after a restart, and a message
/// queued before it is not counted queued again.
#[test]
fn a_restored_engine_keeps_the_windows_and_the_queued_sends() {
    let image = image(SRC);
    // Queued at 22:00 with room in the rule; a text fills it at 23:00.
    let mut e = engine(&image, at(22));
    go(&mut e, "Night");
    e.advance(at(23), true);
    go(&mut e, "Day");
    assert_eq!(deliver_all(&mut e).len(), 1);
    let state = e.message_state();
    let stored = Stored {
        small: e.small_state(),
        instances: e.live().cloned().collect(),
        profiles: vec![("ann".into(), e.profile("ann"))],
        report: Some(e.report().clone()),
        messages: Some(state),
        ..Default::default()
    };
    let mut parts = stored.split(2);
    let mine = journey_vm::engine::shard_of("ann", 2) as usize;
    let part = parts.swap_remove(mine);
    assert_eq!(part.messages.as_ref().map(|m| (m.recent.len(), m.queued.len())), Some((1, 1)));
    let mut back = Engine::restore(image.clone(), Options { keep_paths: true, ..Options::default() }, part);
    // 08:00 the next day: the queued send checks again and finds the rule full (the text was
    // sent 9 hours before); queued stays 1.
    back.advance(at(24 + 8), true);
    assert!(back.take_calls().is_empty(), "the rule holds after the restore");
    let counts = back.report().journeys[0].sends.values().next().cloned().expect("counts");
    assert_eq!((counts.queued, counts.suppressed.get("frequency")), (1, Some(&1)), "{counts:?}");
}

const FANOUT: &str = r#"
type Restock = { sku: string }
event Restocked: Restock
audience Subs
journey Broadcast {
  start on Restocked for audience Subs
  reentry always
  wait 1h
  end "told"
}
type Ping = { user: string }
event Pinged: Ping { key user }
journey Watch {
  start on Pinged
  reentry always
  wait 1h
  end "watched"
}
action Lookup(user: string) = http POST "https://lookup.example.com" {
  body { user: user }
}
event Asked: Ping { key user }
journey Ask {
  start on Asked
  reentry always
  call Lookup(user: event.user)
  end "answered"
}
"#;

fn fanout_engine(image: &Arc<Image>, slice: usize, shard: (u32, u32), members: usize) -> Engine {
    let shard = journey_vm::engine::Shard { index: shard.0, count: shard.1 };
    let mut e = Engine::new(image.clone(), at(9), Options { fanout_slice: Some(slice), shard, ..Options::default() });
    for i in 0..members {
        e.audience_enter("Subs", &format!("m{i:02}"));
    }
    e
}

fn restock(e: &mut Engine) {
    e.deliver("Restocked", Payload::Json(&json!({"sku": "JKT"})), To::Key).expect("delivered");
}

/// The profiles of an engine's live instances, sorted.
fn in_journey(e: &Engine) -> Vec<String> {
    let mut keys: Vec<String> = e.live().map(|i| i.profile.to_string()).collect();
    keys.sort();
    keys
}

/// A business event's members start a slice at a time, every one exactly once, each at the
/// event's time however late its slice comes.
#[test]
fn a_fan_out_starts_its_members_in_slices_each_once() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 3, (0, 1), 10);
    restock(&mut e);
    assert_eq!(e.report().journeys[0].started, 3, "the first slice when the event arrives");
    assert!(e.fanning_out());
    assert_eq!(e.fan_out(4), 4);
    assert_eq!(e.report().journeys[0].started, 7);
    assert_eq!(e.fan_out(100), 3);
    assert_eq!(e.fan_out(100), 0);
    assert!(!e.fanning_out());
    let all: Vec<String> = (0..10).map(|i| format!("m{i:02}")).collect();
    assert_eq!(in_journey(&e), all);
    assert!(e.live().all(|i| i.entered_ms == at(9)), "every member enters at the event's time");
    // Anything else that reaches the engine comes after the whole fan-out.
    e.advance(at(11), true);
    assert_eq!(e.report().journeys[0].ended.get("told"), Some(&10));
    restock(&mut e);
    assert_eq!(e.report().journeys[0].started, 13);
    e.audience_exit("Subs", "m09");
    assert_eq!(e.report().journeys[0].started, 20, "m09 started before it left");
}

fn ping(e: &mut Engine, user: &str) {
    e.deliver("Pinged", Payload::Json(&json!({"user": user})), To::Key).expect("delivered");
}

/// The members of the business event's journey (index 0) started so far.
fn broadcast_started(e: &mut Engine) -> u64 {
    e.report().journeys[0].started
}

/// While a fan-out goes on, what reaches other profiles (events, the clock) is applied without
/// finishing it; what reaches a member not started yet (an event, a profile write, a timer of
/// its instance in another journey) starts that member alone first, so that it sees the
/// business event first, as without slices, and the fan-out passes over it later.
#[test]
fn what_reaches_a_member_not_started_yet_starts_it_alone_first() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 2, (0, 1), 10);
    // m07 waits in Watch from before the event.
    ping(&mut e, "m07");
    restock(&mut e);
    assert_eq!(broadcast_started(&mut e), 2, "the first slice");
    ping(&mut e, "zed");
    assert_eq!(broadcast_started(&mut e), 2, "zed is no member: the fan-out stays where it was");
    ping(&mut e, "m05");
    assert_eq!(broadcast_started(&mut e), 3, "m05 alone, not m02 to m04");
    let id = |e: &Engine, user: &str, j: u16| {
        e.live().filter(|i| i.profile.as_str() == user && i.journey == j).map(|i| i.id).max()
    };
    assert!(id(&e, "m05", 0) < id(&e, "m05", 1), "m05 in Broadcast, then in Watch");
    e.set_profile("m08", Value::Null);
    assert_eq!(broadcast_started(&mut e), 4, "a profile write reaches m08 after its start");
    // m07's wait ends: m07 starts first; the other members' turn has not come.
    e.advance(at(9) + 3_600_000, true);
    assert_eq!(broadcast_started(&mut e), 5, "m07's timer started it alone");
    assert!(e.fanning_out());
    assert_eq!(e.report().journeys[1].ended.get("watched"), Some(&3), "m07, zed and m05 watched");
    // The rest, passing over those started early.
    assert_eq!(e.fan_out(100), 5, "m02, m03, m04, m06, m09");
    assert!(!e.fanning_out());
    assert_eq!(broadcast_started(&mut e), 10, "each member once");
    assert!(e.live().filter(|i| i.journey == 0).all(|i| i.entered_ms == at(9)), "at the event's time");
}

/// The answer to a call of a member's instance in another journey reaches the member too: it
/// starts first (the call was made before the business event, answered after it).
#[test]
fn a_call_answered_for_a_member_not_started_yet_starts_it_first() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 2, (0, 1), 10);
    e.deliver("Asked", Payload::Json(&json!({"user": "m06"})), To::Key).expect("delivered");
    let call = e.take_calls().pop().expect("m06's call");
    restock(&mut e);
    assert_eq!(broadcast_started(&mut e), 2, "the first slice");
    e.complete_call(call.instance, CallOutcome::Ok(Value::Null));
    assert_eq!(broadcast_started(&mut e), 3, "m06 started before its call's answer went on");
    let ask = e.report().journeys.iter().find(|j| j.journey == "Ask").expect("Ask").clone();
    assert_eq!(ask.ended.get("answered"), Some(&1));
    assert_eq!(e.fan_out(100), 7, "the others, passing over m06");
}

/// A fan-out stored in the middle (a checkpoint) goes on after a restore exactly where it
/// stopped, whatever the new split of the profiles: no member twice, none skipped.
#[test]
fn a_restored_fan_out_goes_on_where_it_stopped() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 4, (0, 1), 10);
    restock(&mut e);
    assert_eq!(e.fan_out(2), 2, "six of ten started");
    let stored = Stored {
        small: e.small_state(),
        instances: e.live().cloned().collect(),
        audiences: e.memberships(),
        report: Some(e.report().clone()),
        ..Default::default()
    };
    assert_eq!(stored.small.fanouts.len(), 1);
    assert_eq!(stored.small.fanouts[0].after.as_deref(), Some("m05"));
    // The cursor survives the store's JSON.
    let small: journey_vm::engine::durable::SmallState =
        serde_json::from_str(&serde_json::to_string(&stored.small).expect("json")).expect("back");
    assert_eq!(small.fanouts, stored.small.fanouts);
    let parts = stored.split(2);
    let mut seen = Vec::new();
    let mut started = 0;
    for (i, part) in parts.into_iter().enumerate() {
        let shard = journey_vm::engine::Shard { index: i as u32, count: 2 };
        let options = Options { fanout_slice: Some(1), shard, ..Options::default() };
        let mut back = Engine::restore(image.clone(), options, part);
        while back.fan_out(1) > 0 {}
        started += back.report().journeys[0].started;
        seen.extend(in_journey(&back));
    }
    seen.sort();
    assert_eq!(seen, (0..10).map(|i| format!("m{i:02}")).collect::<Vec<_>>(), "each member once");
    assert_eq!(started, 10, "six before the restore, four after");
}

/// The members started ahead of their turn are kept with the cursor: a restore (a restart, a
/// takeover, another split of the profiles) does not start them again.
#[test]
fn a_restored_fan_out_passes_over_the_members_started_early() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 2, (0, 1), 10);
    restock(&mut e);
    ping(&mut e, "m07");
    ping(&mut e, "m04");
    assert_eq!(broadcast_started(&mut e), 4, "m00, m01, then m07 and m04 early");
    let stored = Stored {
        small: e.small_state(),
        instances: e.live().cloned().collect(),
        audiences: e.memberships(),
        report: Some(e.report().clone()),
        ..Default::default()
    };
    assert_eq!(stored.small.fanouts[0].after.as_deref(), Some("m01"));
    assert_eq!(stored.small.fanouts[0].early, ["m04", "m07"]);
    let small: journey_vm::engine::durable::SmallState =
        serde_json::from_str(&serde_json::to_string(&stored.small).expect("json")).expect("back");
    assert_eq!(small.fanouts, stored.small.fanouts, "the early members survive the store's JSON");
    let mut seen = Vec::new();
    let mut started = 0;
    for (i, part) in stored.split(3).into_iter().enumerate() {
        let shard = journey_vm::engine::Shard { index: i as u32, count: 3 };
        let options = Options { fanout_slice: Some(1), shard, ..Options::default() };
        let mut back = Engine::restore(image.clone(), options, part);
        while back.fan_out(1) > 0 {}
        started += back.report().journeys[0].started;
        seen.extend(back.live().filter(|i| i.journey == 0).map(|i| i.profile.to_string()));
    }
    seen.sort();
    assert_eq!(seen, (0..10).map(|i| format!("m{i:02}")).collect::<Vec<_>>(), "each member once");
    assert_eq!(started, 10, "four before the restore, six after");
}

/// The cursor drops a member started early once it passes it: the set stays as small as the
/// members reached early and not passed yet.
#[test]
fn the_cursor_forgets_the_early_members_it_passed() {
    let image = image(FANOUT);
    let mut e = fanout_engine(&image, 2, (0, 1), 10);
    restock(&mut e);
    ping(&mut e, "m03");
    ping(&mut e, "m08");
    assert_eq!(e.small_state().fanouts[0].early, ["m03", "m08"]);
    assert_eq!(e.fan_out(2), 2, "m02, then m04 (m03 passed over)");
    assert_eq!(e.small_state().fanouts[0].after.as_deref(), Some("m04"));
    assert_eq!(e.small_state().fanouts[0].early, ["m08"]);
}

const LEAVE: &str = r#"
profile = { email: string? }
type Go = { key: string }
event Joined: Go { key key }
event Left: Go { key key }
action Mail(to: string, template: string, messageId: string) = http POST "https://mail.example.com" {
  body { to: to, template: template, id: messageId }
}
channel email { to profile.email  deliver Mail }
frequency email 1 per 1d
journey Welcome {
  start on Joined
  reentry always
  exit on Left
  send email "welcome"
  wait 1h
  end "done"
}
"#;

/// An instance that leaves (here by `exit on`) while its message is being delivered: the
/// provider may have the message, so the delivery's answer still decides it, `sent` or
/// `failed`, in the log, the changes and the send's counts; meanwhile it counts in the windows,
/// and a failed one leaves them.
#[test]
fn a_delivery_answered_after_its_instance_left_decides_the_message() {
    let image = image(LEAVE);
    let mut e = engine(&image, at(9));
    go(&mut e, "Joined");
    let call = e.take_calls().pop().expect("the welcome's delivery");
    go(&mut e, "Left");
    assert!(e.instance(call.instance).is_none(), "it left");
    assert_eq!(e.calls_in_flight(), 1, "its delivery is still in flight");
    e.complete_call(call.instance, CallOutcome::Ok(Value::Null));
    assert_eq!(e.calls_in_flight(), 0);
    let log: Vec<&str> = e.message_log().iter().map(|m| m.outcome.as_str()).collect();
    assert_eq!(log, ["sent"]);
    let changes = e.take_changes();
    assert_eq!(outcomes(&changes.messages), ["welcome sending", "sent"]);
    assert!(changes.instances.contains(&call.instance), "its stored call is done");
    let counts = e.report().journeys[0].sends.values().next().cloned().expect("the send's counts");
    assert_eq!(counts.sent, 1, "{counts:?}");
    assert_eq!(e.report().journeys[0].ended.get("exited"), Some(&1));
    // It counts: the next welcome is suppressed.
    go(&mut e, "Joined");
    assert!(e.take_calls().is_empty(), "the rule is full");
}

/// What a checkpoint stores of `e` once the instance of `call` has left, restored: the call
/// without its instance.
fn restore_without_instance(e: &mut Engine, image: &Arc<Image>, call: &journey_vm::engine::CallRequest) -> Engine {
    let stored = Stored {
        small: e.small_state(),
        instances: e.live().cloned().collect(),
        pending: vec![e.pending_call(call.instance).cloned().expect("still pending")],
        profiles: vec![("ann".into(), e.profile("ann"))],
        report: Some(e.report().clone()),
        messages: Some(e.message_state()),
        ..Default::default()
    };
    assert!(stored.instances.is_empty(), "the instance left before the checkpoint");
    Engine::restore(image.clone(), Options { keep_paths: true, ..Options::default() }, stored)
}

/// The same delivery stored without its instance (a checkpoint while it was in flight) is sent
/// again after a restore under its id, and its answer decides the message: a failure frees the
/// rule for the next message.
#[test]
fn a_restored_delivery_whose_instance_left_is_sent_again_and_decides_the_message() {
    let image = image(LEAVE);
    let mut e = engine(&image, at(9));
    go(&mut e, "Joined");
    let call = e.take_calls().pop().expect("the welcome's delivery");
    go(&mut e, "Left");
    let mut back = restore_without_instance(&mut e, &image, &call);
    let again = back.take_calls();
    assert_eq!(again.len(), 1, "sent again");
    assert_eq!(again[0].idempotency_key, call.idempotency_key, "under its id");
    back.complete_call(call.instance, CallOutcome::Error("503".into()));
    assert_eq!(outcomes(&back.take_changes().messages), ["failed"]);
    let counts = back.report().journeys[0].sends.values().next().cloned().expect("the send's counts");
    assert_eq!(counts.failed, 1, "{counts:?}");
    go(&mut back, "Joined");
    assert_eq!(back.take_calls().len(), 1, "the failed message left the windows: the next one goes");
}

/// A journey that sends twice through one channel: the second delivery, stored without its
/// instance and restored, is counted on its own send node (the call keeps its node), not on
/// the first and not on none.
#[test]
fn a_restored_delivery_of_a_second_send_on_one_channel_counts_on_its_node() {
    let src =
        LEAVE.replace("  send email \"welcome\"\n", "  send transactional email \"hello\"\n  send email \"welcome\"\n");
    let image = image(&src);
    let mut e = engine(&image, at(9));
    go(&mut e, "Joined");
    let hello = e.take_calls().pop().expect("the hello's delivery");
    e.complete_call(hello.instance, CallOutcome::Ok(Value::Null));
    let call = e.take_calls().pop().expect("the welcome's delivery");
    assert_ne!(call.node, hello.node, "two send nodes");
    go(&mut e, "Left");
    let mut back = restore_without_instance(&mut e, &image, &call);
    assert_eq!(back.take_calls().len(), 1, "sent again");
    back.complete_call(call.instance, CallOutcome::Ok(Value::Null));
    let sends = &back.report().journeys[0].sends;
    let sent = |node: u32| sends.get(&node).map_or(0, |c| c.sent);
    assert_eq!((sent(hello.node), sent(call.node)), (1, 1), "each on its own node: {sends:?}");
}

/// An event `Go` keyed by `key`, and an email channel with no consent or rule.
const GO_MAIL: &str = r#"
profile = { email: string? }
type Order = { key: string }
event Go: Order { key key }
action Mail(to: string, template: string, messageId: string) = http POST "https://mail.example.com" {
  body { to: to, template: template, id: messageId }
}
channel email { to profile.email  deliver Mail }
"#;

/// Two entries of one profile into one journey in the same millisecond are two instances, told
/// apart by their events' origins (a durable runtime's log positions): each message gets an id
/// of its own (the id is the deliver call's idempotency key, so a shared one would have the
/// provider drop the second message as a duplicate), and a replay of the same entries names
/// them the same. Without an origin (an instance stored before it was kept) the id is the one
/// such an instance always had.
#[test]
fn two_entries_in_one_millisecond_send_two_messages_with_their_own_ids() {
    let src = GO_MAIL.to_string()
        + r#"
journey Receipt {
  start on Go
  reentry always
  send email "receipt"
}
"#;
    let image = image(&src);
    let entries = |origins: [u32; 2]| {
        let mut e = engine(&image, at(10));
        let mut ids = Vec::new();
        for origin in origins {
            e.set_event_origin(origin);
            go(&mut e, "Go");
            e.set_event_origin(0);
            ids.extend(deliver_all(&mut e));
        }
        let log: Vec<(String, String)> = e.message_log().iter().map(|r| (r.id.clone(), r.outcome.clone())).collect();
        (ids, log)
    };
    let (ids, log) = entries([41, 42]);
    assert_eq!(ids.len(), 2, "one delivery per entry");
    assert_ne!(ids[0], ids[1], "each message its own id");
    assert_eq!(log, vec![(ids[0].clone(), "sent".to_string()), (ids[1].clone(), "sent".to_string())]);
    // A replay of the same two entries on a fresh engine names them the same.
    assert_eq!(entries([41, 42]).0, ids);
    // Without origins they share one id, as every instance did before origins were kept (and
    // as one stored then still does).
    let (old, _) = entries([0, 0]);
    assert_eq!(old[0], old[1]);
    assert!(!ids.contains(&old[0]), "an origin makes another id");
}

/// Two journeys one event starts both `jump` into a third (`reentry always`) in the same
/// millisecond: its two instances' messages (here suppressed: no address, so the first instance
/// has ended when the second enters) each get an id of their own.
#[test]
fn two_jumps_into_one_journey_in_one_millisecond_name_their_messages_apart() {
    let src = GO_MAIL.to_string()
        + r#"
journey A {
  start on Go
  jump B
}
journey C {
  start on Go
  jump B
}
journey B {
  start on Go
  reentry always
  send email "receipt"
}
"#;
    let image = image(&src);
    let mut e = Engine::new(image.clone(), at(10), Options { keep_paths: true, ..Options::default() });
    e.set_profile("ann", Value::from_json(&json!({"tz": "UTC"})));
    e.set_event_origin(7);
    go(&mut e, "Go");
    e.set_event_origin(0);
    let ids: Vec<(String, String)> = e.message_log().iter().map(|r| (r.id.clone(), r.outcome.clone())).collect();
    assert_eq!(ids.len(), 3, "B entered by the event and by both jumps: {ids:?}");
    assert!(ids.iter().all(|(_, o)| o == "suppressed:no-address"), "{ids:?}");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), 3, "each its own id: {ids:?}");
}

/// A reaction that arrives before the await that names it starts is counted in the send node's
/// report (the message was opened), but not kept for the await, which then times out.
#[test]
fn a_reaction_before_the_await_starts_is_counted_not_taken() {
    let src = r#"
profile = { email: string? }
type Go = { key: string }
type Reaction = { key: string, messageId: string? }
event Offer: Go { key key }
event Opened: Reaction { key key }
action Mail(to: string, template: string, messageId: string) = http POST "https://mail.example.com" {
  body { to: to, template: template, id: messageId }
}
channel email { to profile.email  deliver Mail  opened on Opened by messageId }
journey Late {
  start on Offer
  send email "offer" as offer
  wait 1h
  await {
    on opened offer -> { end "opened" }
    after 1d -> { end "not-opened" }
  }
}
"#;
    let image = image(src);
    let mut e = engine(&image, at(10));
    go(&mut e, "Offer");
    let id = deliver_all(&mut e).pop().expect("the offer delivered");
    e.advance(at(10) + 30 * 60_000, true);
    e.deliver("Opened", Payload::Json(&json!({"key": "ann", "messageId": id})), To::Key).expect("delivered");
    e.advance(at(12), true);
    e.advance(at(12 + 24), true);
    let report = e.report().journeys[0].clone();
    assert_eq!(report.ended.get("not-opened"), Some(&1), "the early open is not taken: {:?}", report.ended);
    let counts: Vec<(u64, u64)> = report.sends.values().map(|c| (c.sent, c.opened)).collect();
    assert_eq!(counts, [(1, 1)], "sent once, opened once: {:?}", report.sends);
}

/// A stop of the journey, or its timeout, while a message is being delivered ends the instance
/// (`stopped`, `timed-out`) and still lets the delivery's answer decide the message, as an exit
/// does: `sent` in the log and the send's counts, the rule full for the next welcome.
#[test]
fn a_delivery_answered_after_a_stop_or_a_timeout_decides_the_message() {
    for how in ["stop", "timeout"] {
        let src = LEAVE.replace("  reentry always\n", "  reentry always\n  timeout 2h\n");
        let image = image(&src);
        let mut e = engine(&image, at(9));
        go(&mut e, "Joined");
        let call = e.take_calls().pop().expect("the welcome's delivery");
        let ended = if how == "stop" {
            e.stop_journey(0);
            "stopped"
        } else {
            e.advance(at(12), true);
            "timed-out"
        };
        assert!(e.instance(call.instance).is_none(), "{how}: the instance ended");
        let ends = e.report().journeys[0].ended.clone();
        assert_eq!(ends.get(ended), Some(&1), "{how}: {ends:?}");
        assert_eq!(e.calls_in_flight(), 1, "{how}: its delivery is still in flight");
        e.complete_call(call.instance, CallOutcome::Ok(Value::Null));
        let log: Vec<&str> = e.message_log().iter().map(|m| m.outcome.as_str()).collect();
        assert_eq!(log, ["sent"], "{how}");
        let counts = e.report().journeys[0].sends.values().next().cloned().expect("the send's counts");
        assert_eq!(counts.sent, 1, "{how}: {counts:?}");
    }
}

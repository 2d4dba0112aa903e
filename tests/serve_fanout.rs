//! A business event in `journey serve` (docs/language.md, "Business events": `start on E for
//! audience A` starts one instance for every current member) fans out in slices, with the calls
//! answered between them, and a kill -9 in the middle of the fan-out neither skips a member nor
//! starts one twice: a checkpoint keeps how far each share got, and the restarted server goes
//! on from there. On the embedded store and on PostgreSQL (a takeover of four partitions, each
//! starting its own members). A business event that another loaded version reads as a keyed
//! event starts that version's journey once, on the share that owns the key.
//!
//! While a fan-out waits for its calls (the receiver holds them), the rest of the log goes on:
//! another profile's event is applied; an event for a member far down the list starts that
//! member alone, ahead of its turn (the calls in flight stay bounded); a stop waits for the
//! fan-out, and the stopped journey's timers do not fire past it meanwhile; and a kill -9 after
//! members were started early starts each member once.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;
use support::{on_postgres, on_sqlite, wait_until, Api, Receiver, Server};

/// The audience's members.
const MEMBERS: usize = 8_000;
/// The delivery at which the receiver kills the server: far fewer than the members, so that
/// the fan-out (which waits for answers once about a thousand calls are in flight per worker)
/// is in the middle when the server dies.
const KILL_AT: usize = 1_500;

/// Per test, the server the receiver kills, and the deliveries it received.
static KILL_PID: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static RECEIVED: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// Answers 200 a little slowly (so that the calls in flight, not the engine, pace the fan-out),
/// and kills server `SLOT` with SIGKILL at delivery `KILL_AT`.
fn kill_in_the_middle<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" {
        std::thread::sleep(Duration::from_millis(1));
        if RECEIVED[SLOT].fetch_add(1, Ordering::SeqCst) + 1 == KILL_AT {
            let pid = KILL_PID[SLOT].load(Ordering::SeqCst);
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
    (200, "{}")
}

fn project(dir: &Path, receiver: u16) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
type Restock = {{ sku: string, quantity: int }}
event Restocked: Restock {{
  when quantity > 0
}}
audience Subscribers
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
  timeout 10s
  retry 5 backoff 100ms
}}
channel email {{ to "news@example.com"  deliver Mail }}
journey Alert {{
  start on Restocked for audience Subscribers
  reentry always
  send email "back-in-stock"
  end "told"
}}
"#
        ),
    )
    .expect("write the project");
}

#[test]
fn a_fan_out_killed_in_the_middle_starts_every_member_once() {
    on_sqlite("fanout-kill", &[], fan_out_case::<0>);
}

#[test]
fn a_fan_out_killed_in_the_middle_on_postgres_starts_every_member_once() {
    on_postgres("fanout_kill", &["--partitions", "4", "--lease-ttl", "2"], fan_out_case::<1>);
}

fn fan_out_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, kill_in_the_middle::<SLOT>);
    project(dir, receiver.port);
    let server = Server::start(dir, db, args);
    KILL_PID[SLOT].store(server.pid, Ordering::SeqCst);
    let url = server.url.clone();
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("sub{i:05}")).collect();
    let (status, v) = api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": members}).to_string());
    assert_eq!(status, 200, "{v}");
    // A business event has no key: accepted, and every partition applies it.
    let (status, v) = api.post(
        &format!("{url}/events"),
        &json!({"event": "Restocked", "payload": {"sku": "JKT", "quantity": 4}}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(1), "{v}");
    wait_until("the kill in the middle of the fan-out", || match api.try_send("GET", &format!("{url}/healthz"), "") {
        Err(_) => Ok(()),
        Ok(r) => Err(format!("still answers {r:?}, {} delivered", RECEIVED[SLOT].load(Ordering::SeqCst))),
    });
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    // The restarted server goes on from the cursor: only a message delivered before the kill
    // goes again (under its id), and only when the last checkpoint before the kill had not
    // seen it answered. Started again from the first member, every member would be delivered
    // after the restart (the ended ones entering again, the others for the first time), on
    // top of the `KILL_AT` before it. Checked all along, so that such a replay fails here.
    let within_bound = || {
        let attempts = RECEIVED[SLOT].load(Ordering::SeqCst);
        assert!(attempts < MEMBERS + KILL_AT, "{attempts} deliveries: every one before the kill went again");
        attempts
    };
    let report = wait_until("every member told", || {
        within_bound();
        let (_, r) = api.try_send("GET", &format!("{url}/journeys/Alert/report"), "")?;
        let told = r["versions"][0]["report"]["ended"] == json!({"told": MEMBERS});
        if told {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    });
    let report: &Value = &report["versions"][0]["report"];
    // With `reentry always`, a member started twice would count twice.
    assert_eq!(report["started"], MEMBERS, "each member started once: {report}");
    // Each member's message has an id of its own (the deliver call's idempotency key); one in
    // flight at the kill goes again under the same id.
    let ids: BTreeSet<String> = receiver.calls().into_iter().filter(|c| c.path == "/mail").map(|c| c.key).collect();
    assert_eq!(ids.len(), MEMBERS, "every member's message delivered, none skipped");
    assert!(within_bound() >= MEMBERS);
}

/// Version 1: `Restocked` is an ordinary keyed event that starts `Watch` for the profile it
/// names. Version 2 (published for `Alert` only, so version 1's `Watch` stays open) makes it a
/// business event too.
const MIXED_V1: &str = r#"
type Restock = { sku: string, user: string }
event Restocked: Restock { key user }
audience Subscribers
journey Watch {
  start on Restocked
  reentry always
  wait 1h
  end "watched"
}
"#;

const MIXED_V2_ALERT: &str = r#"
journey Alert {
  start on Restocked for audience Subscribers
  reentry always
  wait 1h
  end "told"
}
"#;

/// Version 1: `Restocked` (with a key) starts `Alert` for every subscriber. Version 2,
/// published for `Watch` only, reads it as `ann`'s own event alone; version 1's `Alert` stays
/// open.
const OLDER_BUSINESS_V1: &str = r#"
type Restock = { sku: string, user: string }
event Restocked: Restock { key user }
audience Subscribers
journey Alert {
  start on Restocked for audience Subscribers
  reentry always
  wait 1h
  end "told"
}
"#;

const OLDER_BUSINESS_V2: &str = r#"
type Restock = { sku: string, user: string }
event Restocked: Restock { key user }
audience Subscribers
journey Watch {
  start on Restocked
  reentry always
  wait 1h
  end "watched"
}
"#;

#[test]
fn a_business_event_of_an_older_version_reaches_every_partition() {
    on_postgres("fanout_older", &["--partitions", "4", "--lease-ttl", "2"], |dir, db, args| {
        let api = Api::new();
        std::fs::write(dir.join("project.journey"), OLDER_BUSINESS_V1).expect("write the project");
        let server = Server::start(dir, db, args);
        let url = server.url.clone();
        std::fs::write(dir.join("project.journey"), OLDER_BUSINESS_V2).expect("write version 2");
        let (status, v) = api.post(&format!("{url}/journeys/Watch/publish"), "");
        assert_eq!(status, 200, "{v}");
        let members: Vec<String> = (0..20).map(|i| format!("sub{i:02}")).collect();
        let (status, v) =
            api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": members}).to_string());
        assert_eq!(status, 200, "{v}");
        let restocked = json!({"event": "Restocked", "payload": {"sku": "JKT", "user": "ann"}});
        let (status, v) = api.post(&format!("{url}/events"), &restocked.to_string());
        assert_eq!(status, 200, "{v}");
        api.wait_get("ann watching", &format!("{url}/journeys/Watch/report"), |r| {
            r["versions"].as_array().is_some_and(|l| l.iter().any(|v| v["report"]["started"] == json!(1)))
        });
        api.settle(&url);
        // Stored for ann's partition alone, only its members would be alerted.
        let alert = api.report(&url, "Alert", 0);
        assert_eq!(alert["started"], members.len(), "every subscriber alerted, in every partition: {alert}");
        let instances = api.get(&format!("{url}/profiles/ann/instances"));
        let watching = instances.as_array().expect("a list").iter().filter(|i| i["journey"] == "Watch").count();
        assert_eq!(watching, 1, "ann watches once: {instances}");
    });
}

#[test]
fn a_business_event_keyed_in_another_version_starts_that_journey_once_over_shares() {
    on_sqlite("fanout-mixed", &["--shards", "3"], mixed_case);
}

#[test]
fn a_business_event_keyed_in_another_version_starts_that_journey_once_over_partitions() {
    on_postgres("fanout_mixed", &["--partitions", "4", "--lease-ttl", "2"], mixed_case);
}

fn mixed_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    std::fs::write(dir.join("project.journey"), MIXED_V1).expect("write the project");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    std::fs::write(dir.join("project.journey"), format!("{MIXED_V1}{MIXED_V2_ALERT}")).expect("write version 2");
    let (status, v) = api.post(&format!("{url}/journeys/Alert/publish"), "");
    assert_eq!(status, 200, "{v}");
    let members: Vec<String> = (0..20).map(|i| format!("sub{i:02}")).collect();
    let (status, v) = api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": members}).to_string());
    assert_eq!(status, 200, "{v}");
    let (status, v) = api.post(
        &format!("{url}/events"),
        &json!({"event": "Restocked", "payload": {"sku": "JKT", "user": "ann"}}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    api.wait_get("every member alerted", &format!("{url}/journeys/Alert/report"), |r| {
        r["versions"][0]["report"]["started"] == json!(members.len())
    });
    api.settle(&url);
    // Version 1 reads it as ann's own event: her `Watch` starts once, on her share alone.
    let watch = api.report(&url, "Watch", 0);
    assert_eq!(watch["started"], 1, "Watch started once for ann: {watch}");
    let instances = api.get(&format!("{url}/profiles/ann/instances"));
    let watching: Vec<&Value> =
        instances.as_array().expect("a list").iter().filter(|i| i["journey"] == "Watch").collect();
    assert_eq!(watching.len(), 1, "{instances}");
}

/// Per test, whether the receiver answers the deliveries it holds.
static RELEASED: [AtomicBool; 20] = [const { AtomicBool::new(false) }; 20];
/// Per test, whether the receiver answers the `/lookup` calls it holds.
static LOOKUP_RELEASED: [AtomicBool; 20] = [const { AtomicBool::new(false) }; 20];

/// Holds every delivery of test `SLOT` until it is released: the fan-out cannot finish before
/// (its calls in flight stay at the worker's limit). `/lookup` calls are held until released
/// on their own.
fn held<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    let released = match path {
        "/mail" => &RELEASED[SLOT],
        "/lookup" => &LOOKUP_RELEASED[SLOT],
        _ => return (200, "{}"),
    };
    while !released.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    (200, "{}")
}

/// Releases test `.0`'s deliveries and lookups when dropped (however the test ends: a runtime
/// waits for its threads when dropped).
struct Release(usize);

impl Drop for Release {
    fn drop(&mut self) {
        RELEASED[self.0].store(true, Ordering::SeqCst);
        LOOKUP_RELEASED[self.0].store(true, Ordering::SeqCst);
    }
}

/// The calls to `path` the receiver got so far.
fn calls_to(receiver: &Receiver, path: &str) -> Vec<support::Call> {
    receiver.calls().into_iter().filter(|c| c.path == path).collect()
}

/// Members enough that each share's (partition's) fan-out stops at its limit of calls in flight
/// with members left: it finishes only once the receiver answers.
const HELD_MEMBERS: usize = 8_000;

/// The worker's limit of calls in flight before a fan-out starts more members, and the members
/// a share starts at a time (`runtime/src/worker.rs`, `runtime/src/shard.rs`).
const FANOUT_IN_FLIGHT: usize = 1_024;
const FANOUT_SLICE: usize = 256;

/// The fan-out project with `Watch` (`start on Pinged`, a wait of `wait`) beside `Alert`, and
/// a delivery timeout longer than the deliveries are held.
fn held_project(dir: &Path, receiver: u16, wait: &str) {
    project(dir, receiver);
    let watch = format!(
        "type Ping = {{ user: string }}\nevent Pinged: Ping {{ key user }}\n\
         journey Watch {{\n  start on Pinged\n  reentry always\n  wait {wait}\n  end \"watched\"\n}}\n"
    );
    let text =
        std::fs::read_to_string(dir.join("project.journey")).expect("read").replace("timeout 10s", "timeout 30s");
    std::fs::write(dir.join("project.journey"), format!("{text}{watch}")).expect("write the project");
}

/// A server with `HELD_MEMBERS` subscribers and `Restocked` posted: the fan-out has begun.
fn start_held_fan_out(api: &Api, receiver: &Receiver, dir: &Path, db: &Path, args: &[&str]) -> Server {
    let server = Server::start(dir, db, args);
    begin_held_fan_out(api, receiver, &server.url);
    server
}

/// Enters `HELD_MEMBERS` subscribers and posts `Restocked`; returns once the fan-out has begun.
fn begin_held_fan_out(api: &Api, receiver: &Receiver, url: &str) {
    let members: Vec<String> = (0..HELD_MEMBERS).map(|i| format!("sub{i:05}")).collect();
    let (status, v) = api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": members}).to_string());
    assert_eq!(status, 200, "{v}");
    let restocked = json!({"event": "Restocked", "payload": {"sku": "JKT", "quantity": 4}});
    assert_eq!(api.post(&format!("{url}/events"), &restocked.to_string()).0, 200);
    wait_until("the fan-out's first deliveries", || match calls_to(receiver, "/mail").len() {
        0 => Err("none yet".into()),
        n => Ok(n),
    });
}

/// A fan-out under way with test `SLOT`'s deliveries held.
struct HeldFanOut {
    // Dropped first: the receiver's runtime waits for the deliveries it holds.
    _release: Release,
    server: Server,
    receiver: Receiver,
    _receiving: Api,
    api: Api,
}

impl HeldFanOut {
    /// The fan-out under way, with `Watch` waiting `wait`.
    fn start<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str], wait: &str) -> HeldFanOut {
        // Its own runtime: the held deliveries block its threads, not the test's client.
        let (api, receiving) = (Api::new(), Api::new());
        let receiver = Receiver::start_answering(&receiving, held::<SLOT>);
        let release = Release(SLOT);
        held_project(dir, receiver.port, wait);
        let server = start_held_fan_out(&api, &receiver, dir, db, args);
        HeldFanOut { _release: release, server, receiver, _receiving: receiving, api }
    }

    /// Lets the deliveries of test `slot` go once the fan-out is seen unfinished, and waits
    /// until every member is told on the first version: its report.
    fn release_until_told(&self, slot: usize) -> Value {
        release_until_told(&self.api, &self.server.url, slot)
    }
}

/// Checks that `Alert`'s fan-out on the server at `url` has not finished, lets the receiver of
/// `slot` answer its held calls, and waits until every member is told: the report then.
fn release_until_told(api: &Api, url: &str, slot: usize) -> Value {
    let started = alert_started(api, url);
    assert!(started < HELD_MEMBERS, "the fan-out has not finished: {started} started");
    RELEASED[slot].store(true, Ordering::SeqCst);
    api.wait_get("every member told", &format!("{url}/journeys/Alert/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"told": HELD_MEMBERS})
    })
}

/// Posts `Pinged` for `user`.
fn ping(api: &Api, url: &str, user: &str) {
    let (status, v) =
        api.post(&format!("{url}/events"), &json!({"event": "Pinged", "payload": {"user": user}}).to_string());
    assert_eq!(status, 200, "{v}");
}

/// A profile's instances of `journey`.
fn instances_in(api: &Api, url: &str, user: &str, journey: &str) -> Vec<Value> {
    let v = api.get(&format!("{url}/profiles/{user}/instances"));
    v.as_array().map(|l| l.iter().filter(|i| i["journey"] == journey).cloned().collect()).unwrap_or_default()
}

/// Waits until `user` has an instance of `journey` (the entry that starts it applied).
fn wait_instance(api: &Api, url: &str, user: &str, journey: &str) -> Value {
    wait_until(&format!("{user}'s instance of {journey}"), || {
        instances_in(api, url, user, journey).into_iter().next().ok_or_else(|| format!("none for {user}"))
    })
}

/// The checkpoints the server wrote so far (`journey_checkpoints_total` in `/metrics`).
fn checkpoints(api: &Api, url: &str) -> u64 {
    let text = api
        .rt
        .block_on(async { api.client.get(format!("{url}/metrics")).send().await?.text().await })
        .expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix("journey_checkpoints_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a checkpoint count")
}

/// Members `Alert` started so far.
fn alert_started(api: &Api, url: &str) -> usize {
    api.report(url, "Alert", 0)["started"].as_u64().unwrap_or(0) as usize
}

#[test]
fn another_profile_goes_on_while_a_fan_out_waits_for_its_calls() {
    on_sqlite("fanout-interleave", &["--shards", "2"], interleave_case::<0>);
}

#[test]
fn another_profile_goes_on_while_a_fan_out_waits_for_its_calls_on_postgres() {
    on_postgres("fanout_interleave", &["--partitions", "4", "--lease-ttl", "2"], interleave_case::<1>);
}

fn interleave_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "1h");
    let (api, url) = (&held.api, held.server.url.clone());
    ping(api, &url, "zed");
    wait_instance(api, &url, "zed", "Watch");
    let report = release_until_told(api, &url, SLOT);
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{report}");
    let ids: BTreeSet<String> =
        held.receiver.calls().into_iter().filter(|c| c.path == "/mail").map(|c| c.key).collect();
    assert_eq!(ids.len(), HELD_MEMBERS, "every member's message delivered once");
}

#[test]
fn a_stop_behind_a_fan_out_keeps_the_journeys_timers_from_firing_past_it() {
    on_sqlite("fanout-stop", &["--shards", "2"], stop_case::<2>);
}

#[test]
fn a_stop_behind_a_fan_out_keeps_the_journeys_timers_from_firing_past_it_on_postgres() {
    on_postgres("fanout_stop", &["--partitions", "4", "--lease-ttl", "2"], stop_case::<3>);
}

/// zed's `Watch` starts during the fan-out and waits 6 s; `Watch` is stopped a moment later.
/// The stop waits for the fan-out, and so does every timer due from its time on: zed's wait,
/// though due by the wall clock, does not end before the stop, which ends the instance.
fn stop_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "6s");
    let (api, url) = (&held.api, held.server.url.clone());
    ping(api, &url, "zed");
    let watch = wait_instance(api, &url, "zed", "Watch");
    let (status, v) = api.post(&format!("{url}/journeys/Watch/stop"), "");
    assert_eq!(status, 200, "{v}");
    let until: jiff::Timestamp = watch["until"].as_str().and_then(|t| t.parse().ok()).expect("the wait's end");
    // The stop is in the log; the wait is due by the wall clock, and the worker has had time
    // to fire it (it does within a few milliseconds of its due time when it may).
    wait_until("zed's wait to be well past due", || {
        let late = jiff::Timestamp::now().as_millisecond() - until.as_millisecond();
        if late > 1_500 {
            Ok(())
        } else {
            Err(format!("{late} ms past due"))
        }
    });
    assert_eq!(instances_in(api, &url, "zed", "Watch").len(), 1, "zed still waits: its wait comes after the stop");
    let started = alert_started(api, &url);
    assert!(started < HELD_MEMBERS, "the fan-out has not finished: {started} started");
    RELEASED[SLOT].store(true, Ordering::SeqCst);
    let report = api.wait_get("Watch stopped", &format!("{url}/journeys/Watch/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"stopped": 1})
    });
    assert_eq!(report["versions"][0]["report"]["started"], 1, "{report}");
    api.wait_get("every member told", &format!("{url}/journeys/Alert/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"told": HELD_MEMBERS})
    });
}

#[test]
fn a_member_leaving_during_a_fan_out_is_told_all_the_same() {
    on_sqlite("fanout-exit", &["--shards", "2"], exit_case::<8>);
}

#[test]
fn a_member_leaving_during_a_fan_out_is_told_all_the_same_on_postgres() {
    on_postgres("fanout_exit", &["--partitions", "4", "--lease-ttl", "2"], exit_case::<9>);
}

/// The last subscriber leaves the audience while the fan-out waits for its calls, long before
/// the fan-out reaches it: it was a member when `Restocked` arrived, so it is told all the
/// same, and every member once (one instance per member at the event's arrival); one who
/// joins meanwhile is not told.
fn exit_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "1h");
    let (api, url) = (&held.api, held.server.url.clone());
    let last = format!("sub{:05}", HELD_MEMBERS - 1);
    let (status, v) =
        api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"exit": [last.clone()]}).to_string());
    assert_eq!(status, 200, "{v}");
    // And one who joins after the event's arrival (after every member in key order) is not.
    let (status, v) =
        api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": ["zzz-late"]}).to_string());
    assert_eq!(status, 200, "{v}");
    let report = held.release_until_told(SLOT);
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{last} told once: {report}");
    assert!(instances_in(api, &url, "zzz-late", "Alert").is_empty(), "a member joined late is not told");
}

#[test]
fn a_publish_behind_a_fan_out_waits_for_it() {
    on_sqlite("fanout-publish", &["--shards", "2"], publish_case::<10>);
}

#[test]
fn a_publish_behind_a_fan_out_waits_for_it_on_postgres() {
    on_postgres("fanout_publish", &["--partitions", "4", "--lease-ttl", "2"], publish_case::<11>);
}

/// Version 2 is published while version 1's fan-out waits for its calls: every member of the
/// audience at `Restocked`'s arrival starts on version 1, none on version 2.
fn publish_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "1h");
    let url = held.server.url.clone();
    let (status, v) = held.api.post(&format!("{url}/journeys/Alert/publish"), "");
    assert_eq!(status, 200, "{v}");
    let report = held.release_until_told(SLOT);
    let on_two: u64 = report["versions"].as_array().expect("versions")[1..]
        .iter()
        .map(|v| v["report"]["started"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(on_two, 0, "no member started on version 2: {report}");
}

#[test]
fn a_close_behind_a_fan_out_waits_for_it() {
    on_sqlite("fanout-close", &["--shards", "2"], close_case::<12>);
}

#[test]
fn a_close_behind_a_fan_out_waits_for_it_on_postgres() {
    on_postgres("fanout_close", &["--partitions", "4", "--lease-ttl", "2"], close_case::<13>);
}

/// `Alert` is closed while its fan-out waits for its calls: the event arrived before the
/// close, so every member of the audience then starts all the same.
fn close_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "1h");
    let url = held.server.url.clone();
    let (status, v) = held.api.post(&format!("{url}/journeys/Alert/close"), "");
    assert_eq!(status, 200, "{v}");
    held.release_until_told(SLOT);
}

#[test]
fn an_event_for_a_member_far_down_the_list_starts_it_alone() {
    on_sqlite("fanout-reach", &["--shards", "2"], |dir, db, args| reach_case::<4>(dir, db, args, 1, 2));
}

#[test]
fn an_event_for_a_member_far_down_the_list_starts_it_alone_on_postgres() {
    on_postgres("fanout_reach", &["--partitions", "2", "--lease-ttl", "2"], |dir, db, args| {
        reach_case::<5>(dir, db, args, 2, 2)
    });
}

/// The last subscriber gets an event during the fan-out: its `Alert` starts at once, before
/// its `Watch`, while the members before it wait their turn. Starting every member up to it
/// would put thousands of calls in flight; started alone, `Alert`'s members stay within what
/// the `workers` (one per partition) with `shares` shares let through: under the limit of
/// calls in flight, a slice per share more, and the one member.
fn reach_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str], workers: usize, shares: usize) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "1h");
    let (api, url) = (&held.api, held.server.url.clone());
    let last = format!("sub{:05}", HELD_MEMBERS - 1);
    ping(api, &url, &last);
    let watch = wait_instance(api, &url, &last, "Watch");
    let alert = instances_in(api, &url, &last, "Alert");
    assert_eq!(alert.len(), 1, "{last} started in Alert ahead of its turn");
    assert!(alert[0]["instance"].as_u64() < watch["instance"].as_u64(), "Alert first, then Watch: {alert:?} {watch}");
    let bound = workers * (FANOUT_IN_FLIGHT - 1) + shares * FANOUT_SLICE + 1;
    let started = alert_started(api, &url);
    assert!(started <= bound, "{started} members started, over the {bound} the limit lets through");
    let report = release_until_told(api, &url, SLOT);
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{last} once: {report}");
}

#[test]
fn a_fan_out_killed_after_members_started_early_starts_each_once() {
    on_sqlite("fanout-early-kill", &["--shards", "2"], early_kill_case::<6>);
}

#[test]
fn a_fan_out_killed_after_members_started_early_starts_each_once_on_postgres() {
    on_postgres("fanout_early_kill", &["--partitions", "4", "--lease-ttl", "2"], early_kill_case::<7>);
}

/// Members at the end of the list start early, a checkpoint keeps them with the cursor, and
/// the server is killed (SIGKILL) with the fan-out in the middle. Restarted, it answers at
/// once: the early members end long before the cursor reaches them, so that a cursor that
/// forgot them would start them again (`reentry always` counts each start).
fn early_kill_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiving = Api::new();
    let receiver = Receiver::start_answering(&receiving, held::<SLOT>);
    let release = Release(SLOT);
    held_project(dir, receiver.port, "1h");
    let server = start_held_fan_out(&api, &receiver, dir, db, args);
    let url = server.url.clone();
    let early: Vec<String> = (HELD_MEMBERS - 10..HELD_MEMBERS).map(|i| format!("sub{i:05}")).collect();
    for user in &early {
        ping(&api, &url, user);
    }
    for user in &early {
        wait_instance(&api, &url, user, "Alert");
    }
    // Two checkpoints more, the second begun after the early members started: events for
    // other profiles keep the worker writing them.
    let seen = checkpoints(&api, &url);
    let mut others = 0;
    wait_until("two more checkpoints", || match checkpoints(&api, &url) {
        n if n >= seen + 2 => Ok(()),
        n => {
            others += 1;
            ping(&api, &url, &format!("other{others}"));
            Err(format!("{n} checkpoints, {seen} before"))
        }
    });
    let started = alert_started(&api, &url);
    assert!(started < HELD_MEMBERS, "the fan-out has not finished: {started} started");
    server.kill();
    drop(release);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    // Done once every member is told (a member started twice ends twice too).
    let report = api.wait_get("every member told", &format!("{url}/journeys/Alert/report"), |r| {
        r["versions"][0]["report"]["ended"]["told"].as_u64().is_some_and(|n| n >= HELD_MEMBERS as u64)
    });
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "each member once: {report}");
    for user in &early {
        assert_eq!(instances_in(&api, &url, user, "Watch").len(), 1, "{user} watches once");
    }
    let ids: BTreeSet<String> = receiver.calls().into_iter().filter(|c| c.path == "/mail").map(|c| c.key).collect();
    assert_eq!(ids.len(), HELD_MEMBERS, "every member's message, each under one id");
}

/// Version 1 of the cross-version cases: `Check` (`start on Pinged`) calls `Lookup`, then mails;
/// `Digest` reads audience `Readers` once, at `read_at`, and mails each member; at most one
/// email a day per profile. What a profile gets first is sent, the other suppressed. Version 2
/// adds `Alert` (the business event's fan-out), published for it alone: `Check` and `Digest`
/// stay on version 1.
fn cross_version_v1(receiver: u16, lookup: u16, read_at: &str) -> String {
    format!(
        r#"
type Restock = {{ sku: string, quantity: int }}
event Restocked: Restock {{
  when quantity > 0
}}
type Ping = {{ user: string }}
event Pinged: Ping {{ key user }}
audience Subscribers
audience Readers
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
  timeout 30s
  retry 5 backoff 100ms
}}
action Lookup(user: string) = http POST "http://127.0.0.1:{lookup}/lookup" {{
  body {{ user: user }}
  timeout 30s
}}
channel email {{ to "news@example.com"  deliver Mail }}
frequency email 1 per 1d
journey Check {{
  start on Pinged
  reentry always
  call Lookup(user: event.user)
  send email "checked" on suppressed {{ end "suppressed" }}
  end "sent"
}}
journey Digest {{
  start on audience Readers once at {read_at}
  send email "digest" on suppressed {{ end "suppressed" }}
  end "sent"
}}
"#
    )
}

const CROSS_VERSION_V2_ALERT: &str = r#"
journey Alert {
  start on Restocked for audience Subscribers
  reentry always
  send email "back-in-stock"
  end "told"
}
"#;

/// Starts the server on version 1 and publishes `Alert` in version 2.
fn start_cross_version(api: &Api, dir: &Path, db: &Path, args: &[&str], v1: &str) -> Server {
    std::fs::write(dir.join("project.journey"), v1).expect("write the project");
    let server = Server::start(dir, db, args);
    std::fs::write(dir.join("project.journey"), format!("{v1}{CROSS_VERSION_V2_ALERT}")).expect("write version 2");
    let (status, v) = api.post(&format!("{}/journeys/Alert/publish", server.url), "");
    assert_eq!(status, 200, "{v}");
    server
}

/// Waits until `key`'s message with `template` is in its message log (as checkpointed: from its
/// decision on); returns its outcome.
fn wait_message(api: &Api, url: &str, key: &str, template: &str) -> Value {
    wait_until(&format!("{key}'s {template} message"), || {
        let (_, list) = api.try_send("GET", &format!("{url}/profiles/{key}/messages"), "")?;
        let found = list.as_array().and_then(|l| l.iter().find(|m| m["template"] == template));
        found.map(|m| m["outcome"].clone()).ok_or_else(|| list.to_string())
    })
}

#[test]
fn a_call_answered_in_another_version_starts_the_member_in_the_fan_out_first() {
    on_sqlite("fanout-call-version", &["--shards", "2"], call_version_case::<14>);
}

#[test]
fn a_call_answered_in_another_version_starts_the_member_in_the_fan_out_first_on_postgres() {
    on_postgres("fanout_call_version", &["--partitions", "4", "--lease-ttl", "2"], call_version_case::<15>);
}

/// The last subscriber's `Check` (version 1) waits on its `Lookup` call when `Restocked` starts
/// `Alert`'s fan-out on version 2. The answer comes while the fan-out waits for its calls, long
/// before its turn: the member starts in `Alert` first (its email decided), so that `Check`'s
/// email, after the answer, finds the day's one email taken and is suppressed. Answered without
/// reaching the other version, `Check` would mail first and `Alert`'s email be suppressed.
fn call_version_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    // The lookups on a receiver of their own: a held call blocks a thread of its runtime.
    let (api, receiving, looking) = (Api::new(), Api::new(), Api::new());
    let receiver = Receiver::start_answering(&receiving, held::<SLOT>);
    let lookups = Receiver::start_answering(&looking, held::<SLOT>);
    let _release = Release(SLOT);
    let v1 = cross_version_v1(receiver.port, lookups.port, "2099-01-01T00:00:00Z");
    let server = start_cross_version(&api, dir, db, args, &v1);
    let url = server.url.clone();
    let last = format!("sub{:05}", HELD_MEMBERS - 1);
    ping(&api, &url, &last);
    wait_until("the lookup call", || match calls_to(&lookups, "/lookup").len() {
        0 => Err("none yet".into()),
        n => Ok(n),
    });
    begin_held_fan_out(&api, &receiver, &url);
    assert!(instances_in(&api, &url, &last, "Alert").is_empty(), "{last} not reached yet");
    LOOKUP_RELEASED[SLOT].store(true, Ordering::SeqCst);
    let checked = wait_message(&api, &url, &last, "checked");
    assert_eq!(checked, "suppressed:frequency", "{last} started in Alert before Check's email");
    api.wait_get("Check to end", &format!("{url}/journeys/Check/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"suppressed": 1})
    });
    let alert = instances_in(&api, &url, &last, "Alert");
    assert_eq!(alert.len(), 1, "{last} started in Alert ahead of its turn: {alert:?}");
    let report = release_until_told(&api, &url, SLOT);
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{last} once: {report}");
    let mails = calls_to(&receiver, "/mail");
    assert!(mails.iter().all(|c| c.body["template"] == "back-in-stock"), "only Alert mails");
}

#[test]
fn an_audience_read_in_another_version_starts_the_member_in_the_fan_out_first() {
    on_sqlite("fanout-read-version", &["--shards", "2"], read_version_case::<16>);
}

#[test]
fn an_audience_read_in_another_version_starts_the_member_in_the_fan_out_first_on_postgres() {
    on_postgres("fanout_read_version", &["--partitions", "4", "--lease-ttl", "2"], read_version_case::<17>);
}

/// How long after the project is written `Digest` reads its audience: time enough to start the
/// server, publish version 2 and begin the fan-out first.
const READ_LEAD_MS: i64 = 40_000;

/// `Digest` (version 1) reads `Readers` (the last subscriber alone) while `Alert`'s fan-out on
/// version 2 waits for its calls: the member starts in `Alert` first (its email decided), and
/// `Digest`'s email is suppressed. Entered without reaching the other version, `Digest` would
/// mail first.
fn read_version_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let (api, receiving) = (Api::new(), Api::new());
    let receiver = Receiver::start_answering(&receiving, held::<SLOT>);
    let _release = Release(SLOT);
    let read_at = jiff::Timestamp::now().as_millisecond() / 1_000 * 1_000 + READ_LEAD_MS;
    let read_at_text = format!("{}", jiff::Timestamp::from_millisecond(read_at).expect("a time"));
    let v1 = cross_version_v1(receiver.port, receiver.port, &read_at_text);
    let server = start_cross_version(&api, dir, db, args, &v1);
    let url = server.url.clone();
    let last = format!("sub{:05}", HELD_MEMBERS - 1);
    let (status, v) =
        api.post(&format!("{url}/audiences/Readers/members"), &json!({"enter": [last.clone()]}).to_string());
    assert_eq!(status, 200, "{v}");
    begin_held_fan_out(&api, &receiver, &url);
    let now = jiff::Timestamp::now().as_millisecond();
    assert!(now < read_at, "the set-up took longer than the read's lead ({READ_LEAD_MS} ms): read again slower");
    assert!(instances_in(&api, &url, &last, "Alert").is_empty(), "{last} not reached yet");
    let digest = wait_message(&api, &url, &last, "digest");
    assert_eq!(digest, "suppressed:frequency", "{last} started in Alert before Digest's email");
    api.wait_get("Digest to end", &format!("{url}/journeys/Digest/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"suppressed": 1})
    });
    let alert = instances_in(&api, &url, &last, "Alert");
    assert_eq!(alert.len(), 1, "{last} started in Alert ahead of its turn: {alert:?}");
    let report = release_until_told(&api, &url, SLOT);
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{last} once: {report}");
}

#[test]
fn an_audience_change_behind_a_fan_out_waits_for_it() {
    on_sqlite("fanout-audience", &["--shards", "2"], |dir, db, args| audience_case::<18>(dir, db, args, 1, 2));
}

#[test]
fn an_audience_change_behind_a_fan_out_waits_for_it_on_postgres() {
    on_postgres("fanout_audience", &["--partitions", "2", "--lease-ttl", "2"], |dir, db, args| {
        audience_case::<19>(dir, db, args, 2, 2)
    });
}

/// zed's `Watch` starts during the fan-out and waits 6 s; zed then joins `Subscribers`. The
/// audience change waits for the fan-out, and so does every timer due from its time on: zed's
/// wait, though due by the wall clock, does not end before the change, and the fan-out's calls
/// stay within the limit meanwhile. Applied at once, the change would have finished the fan-out
/// (its members are the audience's at the event: every one left in zed's share would start
/// together, past what the limit of calls in flight lets through for the `workers` with
/// `shares` shares, see `reach_case`) and zed's wait would end on time.
fn audience_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str], workers: usize, shares: usize) {
    let held = HeldFanOut::start::<SLOT>(dir, db, args, "6s");
    let (api, url) = (&held.api, held.server.url.clone());
    ping(api, &url, "zed");
    let watch = wait_instance(api, &url, "zed", "Watch");
    let (status, v) = api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": ["zed"]}).to_string());
    assert_eq!(status, 200, "{v}");
    let until: jiff::Timestamp = watch["until"].as_str().and_then(|t| t.parse().ok()).expect("the wait's end");
    // The change is in the log; the wait is due by the wall clock, and the worker has had time
    // to apply the one and fire the other (it does within a few milliseconds when it may).
    wait_until("zed's wait to be well past due", || {
        let late = jiff::Timestamp::now().as_millisecond() - until.as_millisecond();
        if late > 1_500 {
            Ok(())
        } else {
            Err(format!("{late} ms past due"))
        }
    });
    let bound = workers * (FANOUT_IN_FLIGHT - 1) + shares * FANOUT_SLICE;
    let started = alert_started(api, &url);
    assert!(started <= bound, "{started} members started, over the {bound} the limit lets through");
    assert_eq!(instances_in(api, &url, "zed", "Watch").len(), 1, "zed still waits: its wait comes after the change");
    RELEASED[SLOT].store(true, Ordering::SeqCst);
    let report = api.wait_get("zed watched", &format!("{url}/journeys/Watch/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"watched": 1})
    });
    assert_eq!(report["versions"][0]["report"]["started"], 1, "{report}");
    let report = api.wait_get("every member told", &format!("{url}/journeys/Alert/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"told": HELD_MEMBERS})
    });
    assert_eq!(report["versions"][0]["report"]["started"], HELD_MEMBERS, "{report}");
    assert!(instances_in(api, &url, "zed", "Alert").is_empty(), "zed joined after the event: not told");
}

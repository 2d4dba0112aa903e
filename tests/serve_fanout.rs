//! A business event in `journey serve` (docs/language.md, "Business events": `start on E for
//! audience A` starts one instance for every current member) fans out in slices, with the calls
//! answered between them, and a kill -9 in the middle of the fan-out neither skips a member nor
//! starts one twice: a checkpoint keeps how far each share got, and the restarted server goes
//! on from there. On the embedded store and on PostgreSQL (a takeover of four partitions, each
//! starting its own members). A business event that another loaded version reads as a keyed
//! event starts that version's journey once, on the share that owns the key.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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

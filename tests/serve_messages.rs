//! Messages in `journey serve` are durable (docs/language.md, Messages): a kill -9 at any moment
//! neither forgets a sent message (a frequency rule holds across a restart, also for a message
//! whose delivery was in flight while another journey's send waits in the log) nor sends one
//! twice under two ids (a message delivered before the crash is delivered again with the same
//! id, the deliver action's idempotency key, and counted once; one whose instance exits before
//! the delivery's answer, as a replay after a kill may have it, still ends `sent`); a send
//! queued by quiet hours waits through a restart and checks again; `GET
//! /profiles/{key}/messages` lists a profile's messages. Each on the embedded store and on
//! PostgreSQL (where the restart is a takeover). The same events give the same messages,
//! reasons and counts in `journey run` and `journey serve` (also with quiet hours read in each
//! profile's time zone, opens and clicks, and a business event's audience), and the frequency
//! property of `tests/messages_props.rs` holds in `serve` across a kill -9 (taken between
//! events, once the messages sent are checkpointed, or with a batch of events in flight, at a
//! call it makes).

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use support::{on_postgres, on_sqlite, temp_dir, wait_until, wait_within, Api, PgDb, Receiver, Server};

/// The arguments of a PostgreSQL node: a short lease, so that a restarted node takes the killed
/// one's partitions over within seconds.
const PG_ARGS: &[&str] = &["--partitions", "4", "--lease-ttl", "2"];

/// A test on SQLite and its twin on PostgreSQL (in a fresh database each), running one case (or
/// one case each, where they must not share state).
macro_rules! on_both_backends {
    ($sqlite:ident, $postgres:ident, $name:literal, $case:expr) => {
        on_both_backends!($sqlite, $postgres, $name, $case, $case);
    };
    ($sqlite:ident, $postgres:ident, $name:literal, $sqlite_case:expr, $postgres_case:expr) => {
        #[test]
        fn $sqlite() {
            on_sqlite($name, &[], $sqlite_case);
        }

        #[test]
        fn $postgres() {
            on_postgres(&$name.replace('-', "_"), PG_ARGS, $postgres_case);
        }
    };
}

fn project(dir: &Path, receiver: u16, quiet: &str) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, phone: string?, optin: bool? }}
type Ping = {{ user: string }}
event Pinged: Ping {{ key user }}
event Went: Ping {{ key user }}
event Texted: Ping {{ key user }}
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
  timeout 2s
  retry 5 backoff 100ms
}}
action Text(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/text" {{
  body {{ to: to, template: template, id: messageId }}
  timeout 2s
}}
channel email {{ to profile.email  consent profile.optin == true  deliver Mail }}
channel sms {{ to profile.phone  consent profile.optin == true  deliver Text  quiet {quiet} queue }}
frequency email 1 per 1d
journey Welcome {{
  start on Pinged
  send email "welcome" on suppressed {{ end "held" }}
  end "done"
}}
journey Promo {{
  start on Went
  send email "promo" on suppressed {{ end "held" }}
  end "done"
}}
journey Nudge {{
  start on Texted
  send sms "nudge" on suppressed {{ end "held" }}
  end "done"
}}
"#
        ),
    )
    .expect("write the project");
}

/// A quiet window that is never now (so that sms is not held) in tests that do not need one.
const NEVER_NOW: &str = "03:00..03:01";

fn put_profile(api: &Api, url: &str, key: &str, attributes: Value) {
    let (status, v) = api.send("PUT", &format!("{url}/profiles/{key}"), &attributes.to_string());
    assert_eq!(status, 200, "{v}");
}

fn event(api: &Api, url: &str, name: &str, user: &str) {
    let (status, v) =
        api.post(&format!("{url}/events"), &json!({"event": name, "payload": {"user": user}}).to_string());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(1), "{v}");
}

fn messages(api: &Api, url: &str, key: &str) -> Vec<Value> {
    api.get(&format!("{url}/profiles/{key}/messages")).as_array().cloned().expect("a list")
}

/// Waits until the profile's messages (as checkpointed) are `want`: (template, outcome) each.
fn wait_messages(api: &Api, url: &str, key: &str, want: &[(&str, &str)]) -> Vec<Value> {
    wait_until(&format!("{key}'s messages to be {want:?}"), || {
        let (status, v) = api.try_send("GET", &format!("{url}/profiles/{key}/messages"), "")?;
        let list = v.as_array().cloned().unwrap_or_default();
        let got: Vec<(String, String)> = list
            .iter()
            .map(|m| {
                (m["template"].as_str().unwrap_or("").to_string(), m["outcome"].as_str().unwrap_or("").to_string())
            })
            .collect();
        let wanted: Vec<(String, String)> = want.iter().map(|(t, o)| (t.to_string(), o.to_string())).collect();
        if status == 200 && got == wanted {
            Ok(list)
        } else {
            Err(format!("{status} {v}"))
        }
    })
}

/// A send node's message counts in a journey's report (the first send node).
fn send_counts(api: &Api, url: &str, journey: &str) -> Value {
    let report = api.report(url, journey, 0);
    report["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["messages"].is_object())
        .map(|n| n["messages"].clone())
        .unwrap_or_else(|| panic!("no send node in {report}"))
}

/// Waits until the server process has died (a kill from the receiver's thread).
fn wait_dead(api: &Api, url: &str) {
    wait_until("the killed server to stop answering", || match api.try_send("GET", &format!("{url}/healthz"), "") {
        Err(_) => Ok(()),
        Ok(r) => Err(format!("still answers {r:?}")),
    });
}

/// Per test, the server a receiver kills when the first delivery arrives (before answering it).
static KILL_PID: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static KILLED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Answers 200, but kills server `SLOT` with SIGKILL at the first delivery, which it received:
/// the provider has the message, the server never hears so.
fn kill_at_first_delivery<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" && !KILLED[SLOT].swap(true, Ordering::SeqCst) {
        let pid = KILL_PID[SLOT].load(Ordering::SeqCst);
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    (200, "{}")
}

on_both_backends!(
    killed_during_delivery_the_message_goes_again_with_its_id_and_counts_once,
    killed_during_delivery_on_postgres_the_message_goes_again_with_its_id_and_counts_once,
    "msg-kill-delivery",
    delivery_case::<0>,
    delivery_case::<1>
);

fn delivery_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, kill_at_first_delivery::<SLOT>);
    project(dir, receiver.port, NEVER_NOW);
    let server = Server::start(dir, db, args);
    KILL_PID[SLOT].store(server.pid, Ordering::SeqCst);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    event(&api, &url, "Pinged", "ann");
    wait_until("the first delivery", || if receiver.count() >= 1 { Ok(()) } else { Err("none yet".into()) });
    wait_dead(&api, &url);
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    let list = wait_messages(&api, &url, "ann", &[("welcome", "sent")]);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 2, "delivered before the crash, and again after it: {calls:?}");
    let id = list[0]["id"].as_str().expect("an id");
    for c in &calls {
        assert_eq!(c.key, id, "the same idempotency key each time: {calls:?}");
        assert_eq!(c.body["id"], id, "the same message id each time: {calls:?}");
    }
    assert_eq!(list[0]["journey"], "Welcome");
    assert_eq!(list[0]["channel"], "email");
    assert_eq!(list[0]["to"], "ann@example.com");
    assert_eq!(list[0]["category"], "marketing");
    assert_eq!((list[0]["opened"].clone(), list[0]["clicked"].clone()), (json!(false), json!(false)));
    let counts = api.wait_get("Welcome to end", &format!("{url}/journeys/Welcome/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"done": 1})
    });
    let counts = counts["versions"][0]["report"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["messages"].is_object()).cloned())
        .expect("the send node");
    assert_eq!(counts["messages"]["sent"], 1, "counted once: {counts}");
    assert_eq!(counts["passed"], 1, "{counts}");
}

on_both_backends!(
    after_a_kill_and_a_restart_a_frequency_rule_still_holds,
    after_a_takeover_on_postgres_a_frequency_rule_still_holds,
    "msg-frequency-restart",
    frequency_case
);

fn frequency_case(dir: &Path, db: &Path, args: &[&str]) {
    frequency_across(dir, db, args, args);
}

/// The windows follow their profiles to a new split: three shares, then two after the kill.
#[test]
fn after_a_kill_and_a_restart_on_fewer_shares_a_frequency_rule_still_holds() {
    on_sqlite("msg-frequency-resplit", &[], |dir, db, _| {
        frequency_across(dir, db, &["--shards", "3"], &["--shards", "2"]);
    });
}

/// Each profile's welcome sent on a server started with `args`, then, after a kill -9, its
/// promo suppressed by the one-a-day rule on one started with `restart_args`.
fn frequency_across(dir: &Path, db: &Path, args: &[&str], restart_args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    project(dir, receiver.port, NEVER_NOW);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    // Profiles in several partitions: each one's windows live with its partition.
    let users = ["ann", "bob", "cy", "dee", "eve", "fay"];
    for u in users {
        put_profile(&api, &url, u, json!({"email": format!("{u}@example.com"), "optin": true}));
        event(&api, &url, "Pinged", u);
    }
    for u in users {
        wait_messages(&api, &url, u, &[("welcome", "sent")]);
    }
    server.kill();
    let server = Server::start(dir, db, restart_args);
    let url = server.url.clone();
    for u in users {
        event(&api, &url, "Went", u);
    }
    api.settle(&url);
    for u in users {
        wait_messages(&api, &url, u, &[("welcome", "sent"), ("promo", "suppressed:frequency")]);
    }
    assert_eq!(receiver.count(), users.len(), "one email each: {:?}", receiver.calls());
    let promo = send_counts(&api, &url, "Promo");
    assert_eq!(promo["suppressed"], json!({"frequency": users.len()}), "{promo}");
    assert_eq!(promo["sent"], 0, "{promo}");
}

// ---------------------------------------------------------------------------------------------
// A kill while a delivery is in flight, with another journey's send after it in the log.

/// Welcome calls an action before its email, so where its send falls among later events depends
/// on when that call is answered, which differs between the live run and a replay.
fn in_flight_project(dir: &Path, receiver: u16) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, optin: bool? }}
type Ping = {{ user: string }}
event Pinged: Ping {{ key user }}
event Went: Ping {{ key user }}
action Stamp(user: string) = http POST "http://127.0.0.1:{receiver}/stamp" {{
  body {{ user: user }}
}}
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
}}
channel email {{ to profile.email  consent profile.optin == true  deliver Mail }}
frequency email 1 per 1d
journey Welcome {{
  start on Pinged
  call Stamp(user: event.user)
  send email "welcome" on suppressed {{ end "held" }}
  end "done"
}}
journey Promo {{
  start on Went
  send email "promo" on suppressed {{ end "held" }}
  end "done"
}}
"#
        ),
    )
    .expect("write the project");
}

/// Per test: the server's process id and port, and what the receiver did at the first email.
static IN_FLIGHT_PID: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static IN_FLIGHT_PORT: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static IN_FLIGHT_MAILED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
static IN_FLIGHT_WENT: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// At the first email, before answering it: the profile's `Went` is accepted (a send of another
/// journey, after this one in the log), then the server is killed. The provider has the email,
/// the server never hears so.
fn went_then_kill_at_first_mail<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" && !IN_FLIGHT_MAILED[SLOT].swap(true, Ordering::SeqCst) {
        let port = IN_FLIGHT_PORT[SLOT].load(Ordering::SeqCst) as u16;
        let accepted = post_event(port, r#"{"event": "Went", "payload": {"user": "ann"}}"#);
        IN_FLIGHT_WENT[SLOT].store(accepted, Ordering::SeqCst);
        let pid = IN_FLIGHT_PID[SLOT].load(Ordering::SeqCst);
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    (200, "{}")
}

/// POSTs one event line with a plain blocking connection (from the receiver's thread); whether
/// it was accepted.
fn post_event(port: u16, line: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    // Called from the receiver's handler: a stalled server must not hold it for ever.
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        line.len()
    );
    let mut answer = String::new();
    s.write_all(head.as_bytes()).is_ok()
        && s.write_all(line.as_bytes()).is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

#[test]
fn killed_with_a_delivery_in_flight_a_frequency_rule_still_holds() {
    let dir = temp_dir("msg-in-flight");
    in_flight_case::<0>(&dir, &dir.join("j.db"), &[]);
}

#[test]
fn killed_with_a_delivery_in_flight_on_postgres_a_frequency_rule_still_holds() {
    let dir = temp_dir("msg-in-flight-pg");
    let pg = PgDb::new("msg_in_flight");
    in_flight_case::<1>(&dir, pg.path(), PG_ARGS);
}

/// Ann's welcome email is being delivered when the server is killed, and her `Went` is in the
/// log after it; after the restart the email rule (1 per day) still holds: the welcome goes
/// again under its id (the provider may see it twice), the promo is suppressed.
fn in_flight_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, went_then_kill_at_first_mail::<SLOT>);
    in_flight_project(dir, receiver.port);
    let server = Server::start(dir, db, args);
    IN_FLIGHT_PID[SLOT].store(server.pid, Ordering::SeqCst);
    IN_FLIGHT_PORT[SLOT].store(u32::from(server.port), Ordering::SeqCst);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    api.settle(&url);
    // An engine idle for a while checkpoints as soon as it applies `Pinged` (its next checkpoint
    // is then some time away): the kill, a few milliseconds after the welcome is handed to the
    // provider, finds the welcome in no checkpoint. Without that the test would still hold,
    // but would not exercise the decision written before the delivery.
    std::thread::sleep(Duration::from_millis(400));
    event(&api, &url, "Pinged", "ann");
    wait_until("the welcome email to reach the provider", || {
        if receiver.calls().iter().any(|c| c.path == "/mail") {
            Ok(())
        } else {
            Err(format!("{:?}", receiver.calls()))
        }
    });
    wait_dead(&api, &url);
    server.kill();
    assert!(IN_FLIGHT_WENT[SLOT].load(Ordering::SeqCst), "Went was accepted before the kill");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    let list = wait_until("ann's messages to be final", || {
        let list = messages(&api, &url, "ann");
        let done = list.len() == 2 && list.iter().all(|m| m["outcome"] != "sending");
        if done {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    });
    let outcomes: BTreeSet<(String, String)> = list
        .iter()
        .map(|m| (m["template"].as_str().unwrap_or("").to_string(), m["outcome"].as_str().unwrap_or("").to_string()))
        .collect();
    let want: BTreeSet<(String, String)> = [("promo", "suppressed:frequency"), ("welcome", "sent")]
        .iter()
        .map(|(t, o)| (t.to_string(), o.to_string()))
        .collect();
    assert_eq!(outcomes, want, "one email sent, the welcome decided before the kill: {list:?}");
    let welcome = list.iter().find(|m| m["template"] == "welcome").and_then(|m| m["id"].as_str()).expect("an id");
    let mails: Vec<_> = receiver.calls().into_iter().filter(|c| c.path == "/mail").collect();
    let ids: BTreeSet<&str> = mails.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(ids, BTreeSet::from([welcome]), "the provider saw one message id: {mails:?}");
    for c in &mails {
        assert_eq!(c.body["template"], "welcome", "{mails:?}");
    }
    api.wait_get("both journeys to end", &format!("{url}/journeys/Promo/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"held": 1})
    });
    let welcome = api.wait_get("Welcome to end", &format!("{url}/journeys/Welcome/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"done": 1})
    });
    let sends = &welcome["versions"][0]["report"]["nodes"];
    let counts = sends.as_array().and_then(|n| n.iter().find(|n| n["messages"].is_object())).expect("the send");
    assert_eq!(counts["messages"]["sent"], 1, "counted once: {counts}");
}

// ---------------------------------------------------------------------------------------------
// A kill between a delivery and the checkpoint that would say it was sent, with an exit after it
// in the log.

/// Welcome's instance leaves on `Left`, which may come while its email is being delivered.
fn exit_project(dir: &Path, receiver: u16) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, optin: bool? }}
type Ping = {{ user: string }}
event Pinged: Ping {{ key user }}
event Left: Ping {{ key user }}
event Went: Ping {{ key user }}
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
}}
channel email {{ to profile.email  consent profile.optin == true  deliver Mail }}
frequency email 1 per 1d
journey Welcome {{
  start on Pinged
  exit on Left
  send email "welcome"
  wait 1h
  end "done"
}}
journey Promo {{
  start on Went
  send email "promo" on suppressed {{ end "held" }}
  end "done"
}}
"#
        ),
    )
    .expect("write the project");
}

/// Per test: the server's process id and port, and what the receiver did at the first email.
static EXIT_PID: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static EXIT_PORT: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static EXIT_MAILED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
static EXIT_LEFT: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// At the first email, before answering it: the profile's `Left` is accepted, then the server
/// is killed. The provider has the email; the server never hears so, and the exit is in the log.
fn left_then_kill_at_first_mail<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" && !EXIT_MAILED[SLOT].swap(true, Ordering::SeqCst) {
        let port = EXIT_PORT[SLOT].load(Ordering::SeqCst) as u16;
        let accepted = post_event(port, r#"{"event": "Left", "payload": {"user": "ann"}}"#);
        EXIT_LEFT[SLOT].store(accepted, Ordering::SeqCst);
        let pid = EXIT_PID[SLOT].load(Ordering::SeqCst);
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    (200, "{}")
}

on_both_backends!(
    a_delivered_message_whose_instance_exits_in_the_replay_ends_sent,
    a_delivered_message_whose_instance_exits_in_the_takeover_on_postgres_ends_sent,
    "msg-exit-replay",
    exit_replay_case::<0>,
    exit_replay_case::<1>
);

/// Ann's welcome email reaches the provider, and her `Left` is in the log, when the server is
/// killed: no checkpoint says the email was sent. The restarted server delivers it again under
/// its id, while the replay applies `Left` at once, before that answer, so her instance leaves
/// with the delivery in flight: the answer still decides the message, which ends `sent` (counted
/// by the rule: her promo is suppressed), not `sending` for ever.
fn exit_replay_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, left_then_kill_at_first_mail::<SLOT>);
    exit_project(dir, receiver.port);
    let server = Server::start(dir, db, args);
    EXIT_PID[SLOT].store(server.pid, Ordering::SeqCst);
    EXIT_PORT[SLOT].store(u32::from(server.port), Ordering::SeqCst);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    api.settle(&url);
    event(&api, &url, "Pinged", "ann");
    wait_until("the welcome email to reach the provider", || {
        if receiver.calls().iter().any(|c| c.path == "/mail") {
            Ok(())
        } else {
            Err(format!("{:?}", receiver.calls()))
        }
    });
    wait_dead(&api, &url);
    server.kill();
    assert!(EXIT_LEFT[SLOT].load(Ordering::SeqCst), "Left was accepted before the kill");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    let report = api.wait_get("Welcome to end", &format!("{url}/journeys/Welcome/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"exited": 1})
    });
    assert_eq!(report["versions"][0]["report"]["started"], 1, "{report}");
    let list = wait_messages(&api, &url, "ann", &[("welcome", "sent")]);
    let welcome = list[0]["id"].as_str().expect("an id").to_string();
    event(&api, &url, "Went", "ann");
    api.settle(&url);
    wait_messages(&api, &url, "ann", &[("welcome", "sent"), ("promo", "suppressed:frequency")]);
    let mails: Vec<_> = receiver.calls().into_iter().filter(|c| c.path == "/mail").collect();
    assert!(mails.iter().all(|c| c.key == welcome), "only the welcome, under its id: {mails:?}");
    assert_eq!(send_counts(&api, &url, "Welcome")["sent"], 1, "counted sent once");
}

on_both_backends!(
    a_delivery_in_flight_when_its_instance_exits_is_checkpointed_and_sent_again_after_a_kill,
    a_delivery_in_flight_when_its_instance_exits_on_postgres_is_checkpointed_and_sent_again_after_a_takeover,
    "msg-exit-checkpoint",
    exit_checkpoint_case::<0>,
    exit_checkpoint_case::<1>
);

/// Per test: the emails the receiver got, and whether the held one may be answered.
static HELD_MAILS: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static HELD_RELEASED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// Answers every email at once but the second (the welcome, after the hello), which it holds
/// until released (at most 25 s, under the action's 30 s timeout).
fn hold_second_mail<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" && HELD_MAILS[SLOT].fetch_add(1, Ordering::SeqCst) == 1 {
        let until = std::time::Instant::now() + Duration::from_secs(25);
        while !HELD_RELEASED[SLOT].load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    (200, "{}")
}

/// Ann's welcome, her journey's second email, is at the provider, unanswered, when her `Left`
/// ends the instance; checkpoints follow with the delivery stored without its instance. Killed
/// then, the server restores that delivery from the checkpoint (not from a replay), sends it
/// again under its id, and its answer decides it: `sent`, counted once, on the welcome's own
/// send node (the journey has two sends on the channel).
fn exit_checkpoint_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, hold_second_mail::<SLOT>);
    exit_project(dir, receiver.port);
    let source = std::fs::read_to_string(dir.join("project.journey")).expect("the project");
    let source = source
        .replace("  send email \"welcome\"", "  send transactional email \"hello\"\n  send email \"welcome\"")
        .replace(
            "body { to: to, template: template, id: messageId }",
            "body { to: to, template: template, id: messageId }\n  timeout 30s",
        );
    std::fs::write(dir.join("project.journey"), source).expect("write the project");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    api.settle(&url);
    event(&api, &url, "Pinged", "ann");
    wait_until("the welcome to reach the provider", || {
        if HELD_MAILS[SLOT].load(Ordering::SeqCst) >= 2 {
            Ok(())
        } else {
            Err(format!("{:?}", receiver.calls()))
        }
    });
    event(&api, &url, "Left", "ann");
    api.wait_get("Welcome to exit", &format!("{url}/journeys/Welcome/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"exited": 1})
    });
    // The exit changed the state: a checkpoint follows within a second (200 ms on SQLite, a
    // partition's second on PostgreSQL), storing the delivery without its instance.
    std::thread::sleep(Duration::from_millis(2_500));
    server.kill();
    HELD_RELEASED[SLOT].store(true, Ordering::SeqCst);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    // Nothing was replayed: the delivery came back from the checkpoint, not from the log.
    assert_eq!(api.metric(&url, "journey_log_entries_read_total"), 0, "the restart read log entries back");
    let list = wait_messages(&api, &url, "ann", &[("hello", "sent"), ("welcome", "sent")]);
    let welcome = list.iter().find(|m| m["template"] == "welcome").and_then(|m| m["id"].as_str()).expect("an id");
    let mails: Vec<_> = receiver.calls().into_iter().filter(|c| c.body["template"] == "welcome").collect();
    assert_eq!(mails.len(), 2, "the welcome before the kill, and again after it: {mails:?}");
    assert!(mails.iter().all(|c| c.key == welcome), "under its id each time: {mails:?}");
    let sends = send_nodes(&api.report(&url, "Welcome", 0));
    assert_eq!(sends.len(), 2, "two send nodes: {sends:?}");
    assert!(sends.iter().all(|(_, m)| m["sent"] == 1), "each send counted once, on its own node: {sends:?}");
}

/// A quiet window (UTC) of ten minutes that ends at a whole minute at least 30 seconds from now
/// (time to queue, kill and restart), and its end (epoch ms).
fn quiet_window_ending_soon() -> (String, i64) {
    let now = jiff::Timestamp::now().as_millisecond();
    let minute = 60_000;
    let mut end = (now / minute + 1) * minute;
    if end - now < 30_000 {
        end += minute;
    }
    let hhmm = |ms: i64| {
        let m = ms.rem_euclid(86_400_000) / minute;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    (format!("{}..{}", hhmm(end - 10 * minute), hhmm(end)), end)
}

on_both_backends!(
    a_queued_send_waits_through_a_restart_and_checks_again,
    a_queued_send_waits_through_a_takeover_on_postgres_and_checks_again,
    "msg-queued-restart",
    queued_case
);

fn queued_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    let (window, end) = quiet_window_ending_soon();
    project(dir, receiver.port, &window);
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    for u in ["ann", "bob"] {
        put_profile(&api, &url, u, json!({"phone": format!("+46 {u}"), "optin": true}));
        event(&api, &url, "Texted", u);
    }
    for u in ["ann", "bob"] {
        wait_messages(&api, &url, u, &[("nudge", "queued")]);
    }
    assert!(jiff::Timestamp::now().as_millisecond() < end, "queued inside the window {window}");
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    // While the texts wait, Bob withdraws his consent: the checks run again when the window ends.
    let (status, v) = api.send("PATCH", &format!("{url}/profiles/bob"), r#"{"optin": false}"#);
    assert_eq!(status, 200, "{v}");
    api.settle(&url);
    assert!(jiff::Timestamp::now().as_millisecond() < end, "restarted inside the window {window}");
    assert_eq!(receiver.count(), 0, "nothing is sent inside the quiet window");
    let wait = Duration::from_millis((end - jiff::Timestamp::now().as_millisecond()).max(0) as u64 + 60_000);
    wait_within(wait, "the window to end and the texts to be checked again", || {
        let done = |u: &str, outcome: &str| messages(&api, &url, u).iter().any(|m| m["outcome"] == outcome);
        if done("ann", "sent") && done("bob", "suppressed:no-consent") {
            Ok(())
        } else {
            Err(format!("{:?} {:?}", messages(&api, &url, "ann"), messages(&api, &url, "bob")))
        }
    });
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "Ann's text went, at the window's end: {calls:?}");
    assert_eq!(calls[0].body["to"], "+46 ann");
    let nudge = send_counts(&api, &url, "Nudge");
    assert_eq!(nudge["queued"], 2, "each queued message counted once, across the restart: {nudge}");
    assert_eq!(nudge["sent"], 1, "{nudge}");
    assert_eq!(nudge["suppressed"], json!({"no-consent": 1}), "{nudge}");
}

on_both_backends!(
    two_entries_in_one_millisecond_send_two_messages_with_their_own_ids_across_a_kill,
    two_entries_in_one_millisecond_on_postgres_send_two_messages_with_their_own_ids_across_a_kill,
    "msg-same-ms",
    same_ms_case::<0>,
    same_ms_case::<1>
);

/// Per test, the server a receiver kills at the second delivery, and the deliveries so far.
static SAME_MS_PID: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];
static SAME_MS_MAILS: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];

/// Answers 200, but kills server `SLOT` with SIGKILL at the second delivery, which it received.
fn kill_at_second_delivery<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if path == "/mail" && SAME_MS_MAILS[SLOT].fetch_add(1, Ordering::SeqCst) == 1 {
        let pid = SAME_MS_PID[SLOT].load(Ordering::SeqCst);
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    (200, "{}")
}

/// Two events for one profile, dated the same millisecond, enter a `reentry always` journey
/// one after the other: two messages, each with its own id (the deliver call's idempotency
/// key). The server is killed while the second is delivered: the replay sends it again under
/// the same id (not the first message's, which the provider would drop, nor a new one, which
/// would send it twice), and the message log keeps both.
fn same_ms_case<const SLOT: usize>(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, kill_at_second_delivery::<SLOT>);
    project(dir, receiver.port, NEVER_NOW);
    let source = std::fs::read_to_string(dir.join("project.journey")).expect("the project");
    let receipt = "journey Receipt {\n  start on Went\n  reentry always\n  send transactional email \"receipt\"\n  end \"done\"\n}\n";
    let source = source.replace("journey Promo {\n  start on Went", "journey Promo {\n  start on Texted") + receipt;
    std::fs::write(dir.join("project.journey"), source).expect("write the project");
    let server = Server::start(dir, db, args);
    SAME_MS_PID[SLOT].store(server.pid, Ordering::SeqCst);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    let at = jiff::Timestamp::now().to_string();
    let line = json!({"event": "Went", "at": at, "payload": {"user": "ann"}}).to_string();
    // The first, until its instance has ended (a profile is in a journey once at a time) and
    // its message is stored as sent.
    let (status, v) = api.post(&format!("{url}/events"), &line);
    assert_eq!(status, 200, "{v}");
    api.settle(&url);
    wait_until("the first receipt's instance to end", || {
        // Asked again until answered (a cluster node answers 404 until it holds the version).
        let (_, report) = api.try_send("GET", &format!("{url}/journeys/Receipt/report"), "")?;
        let sent = send_nodes(&report["versions"][0]["report"]).first().map(|(_, m)| m["sent"].clone());
        let (_, v) = api.try_send("GET", &format!("{url}/profiles/ann/instances"), "")?;
        let live = v.as_array().map(|l| l.iter().any(|i| i["journey"] == "Receipt")).unwrap_or(true);
        if sent == Some(json!(1)) && !live {
            Ok(())
        } else {
            Err(format!("{report} {v}"))
        }
    });
    wait_messages(&api, &url, "ann", &[("receipt", "sent")]);
    // The second, at the same time: killed while it is delivered.
    let (status, v) = api.post(&format!("{url}/events"), &line);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(1), "{v}");
    wait_dead(&api, &url);
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    api.settle(&url);
    let listed = wait_messages(&api, &url, "ann", &[("receipt", "sent"), ("receipt", "sent")]);
    let ids: BTreeSet<String> = listed.iter().map(|m| m["id"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(ids.len(), 2, "two ids: {listed:?}");
    let calls = receiver.calls();
    let keys: Vec<&str> = calls.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys.len(), 3, "the first, the second before the kill and again after it: {keys:?}");
    assert_eq!(keys[1], keys[2], "the second again under its own id: {keys:?}");
    assert_eq!(keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>(), ids, "each under its message id");
    let counts = api.wait_get("Receipt to end twice", &format!("{url}/journeys/Receipt/report"), |r| {
        r["versions"][0]["report"]["ended"] == json!({"done": 2})
    });
    let node = counts["versions"][0]["report"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["messages"].is_object()).cloned())
        .expect("the send node");
    assert_eq!(node["messages"]["sent"], 2, "each counted once: {node}");
}

on_both_backends!(
    reactions_are_counted_listed_and_taken_across_a_kill,
    reactions_on_postgres_are_counted_listed_and_taken_across_a_kill,
    "msg-reactions",
    reaction_case
);

/// Reactions in `serve`: an open (which no arm of the await takes) is counted in the send
/// node's report and marks the message opened; a click ends the await's `on clicked` arm; both
/// stay counted and listed across a kill -9 (the open is replayed from the log, or restored).
fn reaction_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, optin: bool? }}
type Ping = {{ user: string }}
type Reaction = {{ user: string, messageId: string? }}
event Went: Ping {{ key user }}
event EmailOpened: Reaction {{ key user }}
event EmailClicked: Reaction {{ key user }}
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{port}/mail" {{
  body {{ to: to, template: template, id: messageId }}
  timeout 2s
}}
channel email {{
  to profile.email
  consent profile.optin == true
  deliver Mail
  opened on EmailOpened by messageId
  clicked on EmailClicked by messageId
}}
journey Offer {{
  start on Went
  send email "offer" as offer
  await {{
    on clicked offer -> {{ end "clicked" }}
    after 1d -> {{ end "no-click" }}
  }}
}}
"#,
            port = receiver.port
        ),
    )
    .expect("write the project");
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    put_profile(&api, &url, "ann", json!({"email": "ann@example.com", "optin": true}));
    event(&api, &url, "Went", "ann");
    let listed = wait_messages(&api, &url, "ann", &[("offer", "sent")]);
    let id = listed[0]["id"].as_str().expect("an id").to_string();
    let react = |url: &str, name: &str, message: &str| {
        let line = json!({"event": name, "payload": {"user": "ann", "messageId": message}}).to_string();
        let (status, v) = api.post(&format!("{url}/events"), &line);
        assert_eq!(status, 200, "{v}");
    };
    // An open of another message counts nothing; the message's own open is counted.
    react(&url, "EmailOpened", "msg-0000000000000000");
    react(&url, "EmailOpened", &id);
    wait_until("the open to be counted", || {
        let counts = send_counts(&api, &url, "Offer");
        if counts["opened"] == 1 {
            Ok(())
        } else {
            Err(counts.to_string())
        }
    });
    let v = api.get(&format!("{url}/profiles/ann/instances"));
    assert!(v.as_array().is_some_and(|l| l.iter().any(|i| i["journey"] == "Offer")), "the open ends nothing: {v}");
    server.kill();
    let server = Server::start(dir, db, args);
    let url = server.url.clone();
    react(&url, "EmailClicked", &id);
    wait_until("the click to end the await and be counted", || {
        let counts = send_counts(&api, &url, "Offer");
        let ends = api.report(&url, "Offer", 0)["ended"].clone();
        if counts["clicked"] == 1 && ends == json!({"clicked": 1}) {
            Ok(())
        } else {
            Err(format!("{counts} {ends}"))
        }
    });
    let counts = send_counts(&api, &url, "Offer");
    assert_eq!((counts["sent"].clone(), counts["opened"].clone()), (json!(1), json!(1)), "{counts}");
    let listed = wait_until("the message to be listed opened and clicked", || {
        let list = messages(&api, &url, "ann");
        match list.as_slice() {
            [m] if m["opened"] == true && m["clicked"] == true => Ok(list),
            _ => Err(format!("{list:?}")),
        }
    });
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(receiver.count(), 1, "one delivery");
}

/// The profile's messages are behind the bearer token, as every other route.
#[test]
fn the_messages_of_a_profile_need_the_token() {
    let dir = temp_dir("msg-auth");
    let api = Api::new();
    project(&dir, 9, NEVER_NOW);
    let server = Server::start_with_token(&dir, &dir.join("j.db"), &[], Some("s3cret"));
    let url = format!("{}/profiles/ann/messages", server.url);
    let (status, v) = api.send("GET", &url, "");
    assert_eq!(status, 401, "{v}");
    let answer = api.rt.block_on(async {
        let resp = api.client.get(&url).bearer_auth("s3cret").send().await.expect("answers");
        (resp.status().as_u16(), resp.json::<Value>().await.expect("JSON"))
    });
    assert_eq!(answer, (200, json!([])), "no messages yet");
}

// ---------------------------------------------------------------------------------------------
// The same events through `journey run` and `journey serve`.

fn compared_project(dir: &Path, receiver: u16) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, phone: string?, device: string?, optin: bool? }}
type Go = {{ user: string }}
event GoA: Go {{ key user }}
event GoB: Go {{ key user }}
event GoC: Go {{ key user }}
action Mail(to: string, template: string, messageId: string, category: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId, category: category }}
}}
action Text(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/text" {{
  body {{ to: to, template: template, id: messageId }}
}}
action Push(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/push" {{
  body {{ to: to, template: template, id: messageId }}
}}
channel email {{ to profile.email  consent profile.optin == true  deliver Mail }}
channel sms {{ to profile.phone  deliver Text }}
channel push {{ to profile.device  deliver Push }}
frequency email 2 per 1d
frequency any 3 per 1d
journey A {{
  start on GoA
  reentry always
  send email "a-mail" on suppressed {{ end "held" }}
  send sms "a-text"
  end "done"
}}
journey B {{
  start on GoB
  reentry always
  send push "b-push" on error {{ end "push-failed" }}
  send email "b-mail"
  send transactional email "b-receipt"
  end "done"
}}
journey C {{
  start on GoC
  reentry always
  send sms "c-text" on suppressed {{ end "held" }}
  end "done"
}}
"#
        ),
    )
    .expect("write the project");
}

/// The profiles of the comparison: with and without each address and consent.
fn compared_profiles() -> Vec<(&'static str, Value)> {
    vec![
        ("ann", json!({"email": "ann@example.com", "phone": "+1", "device": "d-ann", "optin": true})),
        ("bob", json!({"email": "bob@example.com", "phone": "+2", "optin": false})),
        ("cy", json!({"phone": "+3", "device": "d-cy", "optin": true})),
        ("dee", json!({"email": "dee@example.com", "optin": true})),
    ]
}

/// The events of the comparison, in order: (event, profile).
fn compared_events() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for round in 0..3 {
        for (i, p) in ["ann", "bob", "cy", "dee"].into_iter().enumerate() {
            out.push((["GoA", "GoB", "GoC"][(i + round) % 3], p));
            out.push((["GoB", "GoC", "GoA"][(i + 2 * round) % 3], p));
        }
    }
    out
}

/// A message as both list it: (profile, journey, node id, channel, template, outcome).
type Row = (String, String, u64, String, String, String);

fn row(profile: &str, m: &Value, node: &str) -> Row {
    let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    (profile.to_string(), s("journey"), m[node].as_u64().unwrap_or(u64::MAX), s("channel"), s("template"), s("outcome"))
}

/// `journey run PROJECT --events DIR/events.jsonl --profiles DIR/profiles.jsonl --format json`
/// with `args`, which must exit 0: its JSON lines.
fn journey_run(project: &Path, dir: &Path, args: &[&std::ffi::OsStr]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_journey"))
        .arg("run")
        .arg(project)
        .arg("--events")
        .arg(dir.join("events.jsonl"))
        .arg("--profiles")
        .arg(dir.join("profiles.jsonl"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("journey run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// The messages of `journey run`'s JSON lines, by id: the profile, and the message's last record
/// (a queued one is listed again when it goes).
fn run_messages(lines: &[Value]) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for line in lines.iter().filter(|l| l["type"] == "instance") {
        let profile = line["profile"].as_str().expect("profile");
        for m in line["messages"].as_array().into_iter().flatten() {
            out.insert(m["id"].as_str().expect("id").to_string(), (profile.to_string(), m.clone()));
        }
    }
    out
}

/// A journey report's send nodes: (node, message counts) each.
fn send_nodes(report: &Value) -> Vec<(Value, Value)> {
    report["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["messages"].is_object())
        .map(|n| (n["node"].clone(), n["messages"].clone()))
        .collect()
}

on_both_backends!(
    the_same_events_give_the_same_messages_reasons_and_counts_in_run_and_serve,
    the_same_events_give_the_same_messages_in_run_and_on_postgres,
    "msg-run-vs-serve",
    compare_case
);

fn compare_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    // Push deliveries fail (on `serve`'s receiver, and by mock in `run`): a failed message is
    // not counted by the `any` rule.
    let receiver = Receiver::start_answering(&api, |path| if path == "/push" { (500, "{}") } else { (200, "{}") });
    let project_dir = dir.join("project");
    std::fs::create_dir_all(&project_dir).expect("dir");
    compared_project(&project_dir, receiver.port);
    // `journey run`, on a virtual clock a second per event.
    let start = jiff::Timestamp::now().as_millisecond() - 3_600_000;
    let profiles: String =
        compared_profiles().iter().map(|(k, a)| json!({"key": k, "attributes": a}).to_string() + "\n").collect();
    let events: String = compared_events()
        .iter()
        .enumerate()
        .map(|(i, (e, p))| {
            let at = jiff::Timestamp::from_millisecond(start + i as i64 * 1_000).expect("time").to_string();
            json!({"event": e, "at": at, "payload": {"user": p}}).to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("profiles.jsonl"), profiles).expect("write");
    std::fs::write(dir.join("events.jsonl"), events).expect("write");
    std::fs::write(dir.join("mocks.jsonl"), json!({"action": "Push", "error": "failed"}).to_string() + "\n")
        .expect("write");
    let mocks = dir.join("mocks.jsonl");
    let lines = journey_run(&project_dir, dir, &["--mocks".as_ref(), mocks.as_os_str()]);
    let run_rows: BTreeMap<String, Row> =
        run_messages(&lines).into_iter().map(|(id, (profile, m))| (id, row(&profile, &m, "node"))).collect();
    let summary = lines.iter().find(|l| l["type"] == "summary").expect("a summary");
    // `journey serve`, with the same profiles, then the same events in the same order.
    let server = Server::start(&project_dir, db, args);
    let url = server.url.clone();
    for (k, a) in compared_profiles() {
        put_profile(&api, &url, k, a);
    }
    let journeys = ["A", "B", "C"];
    // One event at a time, each once the instances before it have ended, as `journey run`
    // answers every call before the next event (else a later event's send could take a window's
    // room before an earlier instance's second send).
    for (e, p) in compared_events() {
        event(&api, &url, e, p);
        api.settle(&url);
        for j in journeys {
            api.wait_get(&format!("{j} to finish"), &format!("{url}/journeys/{j}/report"), |r| {
                r["versions"][0]["report"]["running"] == 0
            });
        }
    }
    for j in journeys {
        assert_eq!(api.report(&url, j, 0)["started"], summary["journeys"][j]["started"], "{j} started as in run");
    }
    let mut serve_rows: Vec<Row> = Vec::new();
    let mut sent_ids = BTreeSet::new();
    for (k, _) in compared_profiles() {
        // The list answers from the last checkpoint (up to a few hundred milliseconds behind the
        // engine): wait until it holds as many messages as `run` gave, none still being sent; a
        // message that never appears fails the wait.
        let expected = run_rows.values().filter(|r| r.0 == k).count();
        let list = wait_until(&format!("{k}'s messages to be final"), || {
            let list = messages(&api, &url, k);
            if list.len() < expected || list.iter().any(|m| m["outcome"] == "sending") {
                Err(format!("{list:?}"))
            } else {
                Ok(list)
            }
        });
        serve_rows.extend(list.iter().map(|m| row(k, m, "node_id")));
        sent_ids.extend(
            list.iter().filter(|m| m["outcome"] == "sent").map(|m| m["id"].as_str().unwrap_or_default().to_string()),
        );
    }
    let mut run_rows: Vec<Row> = run_rows.into_values().collect();
    run_rows.sort();
    serve_rows.sort();
    assert_eq!(serve_rows, run_rows, "the same messages with the same outcomes");
    let reasons: BTreeSet<&str> = run_rows.iter().map(|r| r.5.as_str()).collect();
    for outcome in ["sent", "failed", "suppressed:no-address", "suppressed:no-consent", "suppressed:frequency"] {
        assert!(reasons.contains(outcome), "the events exercise {outcome}: {reasons:?}");
    }
    // The send nodes' counts and the journeys' ends.
    for j in journeys {
        let report = api.report(&url, j, 0);
        let expected = &summary["journeys"][j];
        assert_eq!(report["ended"], expected["ended"], "{j}'s ends");
        assert_eq!(send_nodes(&report), send_nodes(expected), "{j}'s send counts");
    }
    let calls = receiver.calls();
    let delivered: Vec<&str> = calls.iter().filter(|c| c.path != "/push").map(|c| c.key.as_str()).collect();
    assert_eq!(delivered.len(), sent_ids.len(), "each sent message reached its action once: {delivered:?}");
    assert_eq!(delivered.into_iter().map(str::to_string).collect::<BTreeSet<_>>(), sent_ids);
}

// ---------------------------------------------------------------------------------------------
// Quiet hours in the profile's time zone, reactions and a business event: the same events
// through `journey run` and `journey serve`.

/// Tokyo's offset from UTC (+09:00; no daylight saving), in milliseconds.
const TOKYO_MS: i64 = 9 * 3_600_000;

/// The time of day of an instant (epoch ms) read at UTC, as `HH:MM`.
fn hhmm(ms: i64) -> String {
    let m = ms.rem_euclid(86_400_000) / 60_000;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Each journey reads its profile's time zone (none: UTC). Email marketing has a `drop` quiet
/// window, sms a `queue` one; an offer's click ends its await; a business event tells the
/// audience's members.
fn zoned_project(dir: &Path, receiver: u16, drop: &str, queue: &str) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, phone: string?, optin: bool?, tz: string? }}
type Go = {{ user: string }}
type Reaction = {{ user: string, messageId: string? }}
type Stock = {{ sku: string }}
event Went: Go {{ key user }}
event Texted: Go {{ key user }}
event EmailOpened: Reaction {{ key user }}
event EmailClicked: Reaction {{ key user }}
event BackInStock: Stock
audience Subscribers
action Mail(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId }}
}}
action Text(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/text" {{
  body {{ to: to, template: template, id: messageId }}
}}
channel email {{
  to profile.email
  consent profile.optin == true
  deliver Mail
  quiet {drop} drop
  opened on EmailOpened by messageId
  clicked on EmailClicked by messageId
}}
channel sms {{ to profile.phone  deliver Text  quiet {queue} queue }}
frequency email 2 per 1d
journey Offer {{
  start on Went
  timezone profile.tz
  send email "offer" as offer
    on suppressed {{ if reason == "quiet-hours" {{ end "quiet" }} }}
  await {{
    on clicked offer -> {{ end "clicked" }}
    after 1d -> {{ end "no-click" }}
  }}
}}
journey Nudge {{
  start on Texted
  timezone profile.tz
  send sms "nudge" on suppressed {{ end "held" }}
  end "done"
}}
journey Restock {{
  start on BackInStock for audience Subscribers
  reentry always
  timezone profile.tz
  send email "restock"
    on suppressed {{ if reason == "quiet-hours" {{ end "quiet" }} else {{ end "held" }} }}
  end "told"
}}
"#
        ),
    )
    .expect("write the project");
}

/// The profiles: (key, attributes, audiences). Against the quiet windows (read in Tokyo's time
/// around now): Tokyo and Brisbane (+10:00) are inside the email's, Kolkata (+05:30: half an
/// hour before it), UTC and no zone (UTC) outside; Tokyo is inside the sms's.
fn zoned_profiles() -> Vec<(&'static str, Value, &'static [&'static str])> {
    let member: &[&str] = &["Subscribers"];
    vec![
        ("ann", json!({"email": "ann@example.com", "phone": "+81 ann", "optin": true, "tz": "Asia/Tokyo"}), member),
        ("bob", json!({"email": "bob@example.com", "phone": "+44 bob", "optin": true, "tz": "UTC"}), member),
        ("cy", json!({"email": "cy@example.com", "optin": true, "tz": "Asia/Kolkata"}), member),
        ("dee", json!({"email": "dee@example.com", "optin": true}), &[]),
        ("eve", json!({"email": "eve@example.com", "optin": false, "tz": "Asia/Tokyo"}), member),
        ("fay", json!({"email": "fay@example.com", "optin": true, "tz": "Australia/Brisbane"}), member),
    ]
}

/// The events, in order: (event, payload). The texts first (they must come inside the sms's
/// window, which ends soon), then the offers, then the business event twice (the second time
/// the `frequency email 2 per 1d` rule is full for those that got an offer and the first one).
fn zoned_events() -> Vec<(&'static str, Value)> {
    let go = |u: &str| json!({"user": u});
    let mut out = vec![("Texted", go("ann")), ("Texted", go("bob"))];
    out.extend(["ann", "bob", "cy", "dee", "eve"].map(|u| ("Went", go(u))));
    out.extend(["s1", "s2"].map(|s| ("BackInStock", json!({"sku": s}))));
    out
}

/// The reactions after the events, in order: (event, profile, the message it names by
/// (journey, template, outcome), or none: an id no message has).
type Reaction = (&'static str, &'static str, Option<(&'static str, &'static str, &'static str)>);

fn zoned_reactions() -> Vec<Reaction> {
    let offer = Some(("Offer", "offer", "sent"));
    vec![
        // Bob opens and clicks his offer (the click ends his await); Cy opens hers twice (an
        // open no arm takes, counted once); Dee clicks hers.
        ("EmailOpened", "bob", offer),
        ("EmailClicked", "bob", offer),
        ("EmailOpened", "cy", offer),
        ("EmailOpened", "cy", offer),
        ("EmailClicked", "dee", offer),
        // Not counted: a click of Eve's offer, which was not sent (her instance waits on), of
        // Bob's restock, whose instance has ended, and an open of no message of Cy's.
        ("EmailClicked", "eve", Some(("Offer", "offer", "suppressed:no-consent"))),
        ("EmailClicked", "bob", Some(("Restock", "restock", "sent"))),
        ("EmailOpened", "cy", None),
    ]
}

/// The messages the reactions mark: (profile, journey, opened, clicked); every other is neither.
const REACTED: [(&str, &str, bool, bool); 3] =
    [("bob", "Offer", true, true), ("cy", "Offer", true, false), ("dee", "Offer", false, true)];

/// A message of the second comparison: (profile, journey, node, channel, template, outcome,
/// opened, clicked).
type ReactedRow = (String, String, u64, String, String, String, bool, bool);

/// The message named by a reaction among a profile's `(id, message)` pairs.
fn reacted_id(list: &[(String, Value)], (journey, template, outcome): (&str, &str, &str)) -> String {
    let found: Vec<&String> = list
        .iter()
        .filter(|(_, m)| m["journey"] == journey && m["template"] == template && m["outcome"] == outcome)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(found.len(), 1, "one {journey} {template} {outcome} message: {list:?}");
    found[0].clone()
}

on_both_backends!(
    quiet_hours_reactions_and_business_events_give_the_same_messages_in_run_and_serve,
    quiet_hours_reactions_and_business_events_give_the_same_messages_in_run_and_on_postgres,
    "msg-run-vs-serve-zoned",
    zoned_compare_case
);

/// The same profiles, events and reactions through `journey run` and `journey serve` give the
/// same messages (with their reasons, `suppressed:quiet-hours` among them, and opens and clicks),
/// the same send counts (queued, opened and clicked included) and the same ends. The quiet
/// windows are chosen around now (serve's clock) and `run` is given events dated now, so that
/// each profile is in or out of quiet hours in both; the sms window ends a minute or two from
/// now, so that Ann's queued text goes in both. Message ids differ between the two (they are
/// made from each one's entries), so each side's reactions name that side's ids: `run` is run
/// once to learn them, then again with the reactions added.
fn zoned_compare_case(dir: &Path, db: &Path, args: &[&str]) {
    let api = Api::new();
    let receiver = Receiver::start(&api);
    let project_dir = dir.join("project");
    std::fs::create_dir_all(&project_dir).expect("dir");
    let now = jiff::Timestamp::now().as_millisecond();
    let minute = 60_000;
    // Email: six hours around Tokyo's time of day now.
    let tokyo = (now + TOKYO_MS) / minute * minute;
    let drop = format!("{}..{}", hhmm(tokyo - 180 * minute), hhmm(tokyo + 180 * minute));
    // Sms: ten minutes (in Tokyo) that end at a whole minute at least a minute from now.
    let mut end = (now / minute + 1) * minute;
    if end - now < 60_000 {
        end += minute;
    }
    let queue = format!("{}..{}", hhmm(end + TOKYO_MS - 10 * minute), hhmm(end + TOKYO_MS));
    zoned_project(&project_dir, receiver.port, &drop, &queue);
    // `journey run`: the events dated from now, a second apart; the clock stopped a minute after
    // the sms window's end (before the offers' `after 1d`, as serve's wall clock is).
    let profiles: String = zoned_profiles()
        .iter()
        .map(|(k, a, audiences)| json!({"key": k, "attributes": a, "audiences": audiences}).to_string() + "\n")
        .collect();
    std::fs::write(dir.join("profiles.jsonl"), profiles).expect("write");
    let at = |i: usize| jiff::Timestamp::from_millisecond(now + i as i64 * 1_000).expect("time").to_string();
    let mut events: String = zoned_events()
        .iter()
        .enumerate()
        .map(|(i, (e, p))| json!({"event": e, "at": at(i), "payload": p}).to_string() + "\n")
        .collect();
    std::fs::write(dir.join("events.jsonl"), &events).expect("write");
    let until = jiff::Timestamp::from_millisecond(end + minute).expect("time").to_string();
    let run_args: [&std::ffi::OsStr; 3] = ["--dry-run".as_ref(), "--until".as_ref(), until.as_ref()];
    let first = run_messages(&journey_run(&project_dir, dir, &run_args));
    // Each profile's messages in `run`, to name in the reactions.
    let by_profile = |messages: &BTreeMap<String, (String, Value)>, key: &str| -> Vec<(String, Value)> {
        messages.iter().filter(|(_, (p, _))| p == key).map(|(id, (_, m))| (id.clone(), m.clone())).collect()
    };
    let reaction_line = |event: &str, profile: &str, id: &str, i: usize| {
        json!({"event": event, "at": at(i), "payload": {"user": profile, "messageId": id}}).to_string() + "\n"
    };
    const NO_MESSAGE: &str = "msg-0000000000000000";
    let n = zoned_events().len();
    for (i, (event, profile, target)) in zoned_reactions().into_iter().enumerate() {
        let id = target.map_or(NO_MESSAGE.to_string(), |t| reacted_id(&by_profile(&first, profile), t));
        events.push_str(&reaction_line(event, profile, &id, n + i));
    }
    std::fs::write(dir.join("events.jsonl"), &events).expect("write");
    let lines = journey_run(&project_dir, dir, &run_args);
    let summary = lines.iter().find(|l| l["type"] == "summary").expect("a summary").clone();
    let run = run_messages(&lines);
    // The reactions named the second run's messages: the same ids, the same outcomes.
    let outcomes = |m: &BTreeMap<String, (String, Value)>| -> Vec<(String, Value)> {
        m.iter().map(|(id, (_, m))| (id.clone(), m["outcome"].clone())).collect()
    };
    assert_eq!(outcomes(&run), outcomes(&first), "the reactions change no message of the run");
    // When each message was first decided in `run` (a queued one is listed again when it goes).
    let mut decided: BTreeMap<String, i64> = BTreeMap::new();
    for line in lines.iter().filter(|l| l["type"] == "instance") {
        for m in line["messages"].as_array().into_iter().flatten() {
            let at = m["at_ms"].as_i64().expect("at_ms");
            let id = m["id"].as_str().expect("id").to_string();
            decided.entry(id).and_modify(|t| *t = (*t).min(at)).or_insert(at);
        }
    }
    let flags = |profile: &str, journey: &str| {
        REACTED.iter().find(|r| r.0 == profile && r.1 == journey).map_or((false, false), |r| (r.2, r.3))
    };
    let reacted_row = |profile: &str, m: &Value, node: &str, (opened, clicked): (bool, bool)| -> ReactedRow {
        let (p, j, n, c, t, o) = row(profile, m, node);
        (p, j, n, c, t, o, opened, clicked)
    };
    // `run` lists no opens and clicks per message: those of `REACTED`, which its counts must
    // agree with (below).
    let mut run_rows: Vec<ReactedRow> = run
        .values()
        .map(|(p, m)| reacted_row(p, m, "node", flags(p, m["journey"].as_str().unwrap_or_default())))
        .collect();
    run_rows.sort();

    // `journey serve`: the same profiles and audience, then the same events in the same order,
    // each once the messages `run` decided up to it are listed.
    let server = Server::start(&project_dir, db, args);
    let url = server.url.clone();
    let keys: Vec<&str> = zoned_profiles().iter().map(|(k, _, _)| *k).collect();
    for (k, a, _) in zoned_profiles() {
        put_profile(&api, &url, k, a);
    }
    let members: Vec<&str> = zoned_profiles().iter().filter(|p| !p.2.is_empty()).map(|p| p.0).collect();
    let (status, v) = api.post(&format!("{url}/audiences/Subscribers/members"), &json!({"enter": members}).to_string());
    assert_eq!(status, 200, "{v}");
    api.settle(&url);
    // Every profile's listed messages, once none is being delivered: (profile, id, message).
    let listed = || -> Result<Vec<(String, String, Value)>, String> {
        let mut out = Vec::new();
        for k in &keys {
            let (status, v) = api.try_send("GET", &format!("{url}/profiles/{k}/messages"), "")?;
            let list = v.as_array().cloned().ok_or(format!("{status} {v}"))?;
            if list.iter().any(|m| m["outcome"] == "sending") {
                return Err(format!("{k}: {list:?}"));
            }
            out.extend(list.into_iter().map(|m| (k.to_string(), m["id"].as_str().unwrap_or("").to_string(), m)));
        }
        Ok(out)
    };
    for (i, (event, payload)) in zoned_events().into_iter().enumerate() {
        let (status, v) = api.post(&format!("{url}/events"), &json!({"event": event, "payload": payload}).to_string());
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["accepted"].as_array().map(Vec::len), Some(1), "{v}");
        api.settle(&url);
        let due = now + i as i64 * 1_000;
        let want = decided.values().filter(|t| **t <= due).count();
        wait_until(&format!("the messages of the first {} events", i + 1), || {
            let got = listed()?;
            if got.len() == want {
                Ok(())
            } else {
                Err(format!("{} of {want}: {got:?}", got.len()))
            }
        });
    }
    let texts = messages(&api, &url, "ann");
    assert!(texts.iter().any(|m| m["template"] == "nudge" && m["outcome"] == "queued"), "{texts:?}");
    assert!(jiff::Timestamp::now().as_millisecond() < end, "Ann's text queued inside the window {queue}");
    // The reactions, each naming serve's own message.
    for (event, profile, target) in zoned_reactions() {
        let id = target.map_or(NO_MESSAGE.to_string(), |t| {
            let own: Vec<(String, Value)> = messages(&api, &url, profile)
                .into_iter()
                .map(|m| (m["id"].as_str().unwrap_or_default().to_string(), m))
                .collect();
            reacted_id(&own, t)
        });
        let line = json!({"event": event, "payload": {"user": profile, "messageId": id}}).to_string();
        let (status, v) = api.post(&format!("{url}/events"), &line);
        assert_eq!(status, 200, "{v}");
        api.settle(&url);
    }
    // Ann's text goes at the window's end; then every journey's report is run's.
    let wait = Duration::from_millis((end - jiff::Timestamp::now().as_millisecond()).max(0) as u64 + 60_000);
    wait_within(wait, "the sms window to end and Ann's text to go", || {
        let list = messages(&api, &url, "ann");
        if list.iter().any(|m| m["template"] == "nudge" && m["outcome"] == "sent") {
            Ok(())
        } else {
            Err(format!("{list:?}"))
        }
    });
    let journeys = ["Offer", "Nudge", "Restock"];
    for j in journeys {
        let expected = &summary["journeys"][j];
        let report = api.wait_get(&format!("{j}'s report to be run's"), &format!("{url}/journeys/{j}/report"), |r| {
            let r = &r["versions"][0]["report"];
            send_nodes(r) == send_nodes(expected) && r["ended"] == expected["ended"]
        });
        let report = &report["versions"][0]["report"];
        for field in ["started", "running"] {
            assert_eq!(report[field], expected[field], "{j}'s {field}: {report}");
        }
    }
    let mut serve_rows: Vec<ReactedRow> = wait_until("the reactions to be listed", || {
        let got = listed()?;
        let flagged = got.iter().filter(|(_, _, m)| m["opened"] == true || m["clicked"] == true).count();
        if got.len() == run_rows.len() && flagged == REACTED.len() {
            Ok(got)
        } else {
            Err(format!("{got:?}"))
        }
    })
    .iter()
    .map(|(p, _, m)| reacted_row(p, m, "node_id", (m["opened"] == true, m["clicked"] == true)))
    .collect();
    serve_rows.sort();
    assert_eq!(serve_rows, run_rows, "the same messages with the same outcomes, opens and clicks");
    // What the comparison exercises, as `run` decided it.
    let reasons: BTreeSet<&str> = run_rows.iter().map(|r| r.5.as_str()).collect();
    for outcome in ["sent", "suppressed:quiet-hours", "suppressed:no-consent", "suppressed:frequency"] {
        assert!(reasons.contains(outcome), "the events exercise {outcome}: {reasons:?}");
    }
    let counts = |j: &str| {
        summary["journeys"][j]["nodes"].as_array().and_then(|n| n.first()).expect("a send")["messages"].clone()
    };
    assert_eq!(
        counts("Offer"),
        json!({"sent": 3, "queued": 0, "suppressed": {"quiet-hours": 1, "no-consent": 1}, "failed": 0, "opened": 2, "clicked": 2}),
        "Ann's offer in quiet hours, Eve's without consent; Bob and Cy opened, Bob and Dee clicked"
    );
    assert_eq!(counts("Nudge")["queued"], 1, "Ann's text queued");
    assert_eq!(counts("Nudge")["sent"], 2, "Ann's text queued, then sent");
    assert_eq!(
        counts("Restock"),
        json!({"sent": 2, "queued": 0, "suppressed": {"quiet-hours": 4, "no-consent": 2, "frequency": 2}, "failed": 0, "opened": 0, "clicked": 0}),
        "each member told twice: Ann and Fay in quiet hours, Eve without consent, Bob and Cy once over the rule"
    );
    assert_eq!(summary["journeys"]["Restock"]["started"], 10, "one instance per member per business event");
    // Each sent message reached its action once, under serve's id.
    let sent_ids: BTreeSet<String> =
        listed().expect("listed").into_iter().filter(|(_, _, m)| m["outcome"] == "sent").map(|(_, id, _)| id).collect();
    let calls: Vec<String> = receiver.calls().into_iter().map(|c| c.key).collect();
    assert_eq!(calls.len(), sent_ids.len(), "each sent message delivered once: {calls:?}");
    assert_eq!(calls.into_iter().collect::<BTreeSet<_>>(), sent_ids);
}

// ---------------------------------------------------------------------------------------------
// The frequency property in `serve`, across a kill -9.

fn property_project(dir: &Path, receiver: u16) {
    std::fs::write(
        dir.join("project.journey"),
        format!(
            r#"
profile = {{ email: string?, phone: string? }}
type Go = {{ key: string }}
event GoA: Go {{ key key }}
event GoB: Go {{ key key }}
event GoC: Go {{ key key }}
action Mail(to: string, template: string, messageId: string, category: string) = http POST "http://127.0.0.1:{receiver}/mail" {{
  body {{ to: to, template: template, id: messageId, category: category }}
}}
action Text(to: string, template: string, messageId: string) = http POST "http://127.0.0.1:{receiver}/text" {{
  body {{ to: to, template: template, id: messageId }}
}}
action Flaky(to: string, template: string) = http POST "http://127.0.0.1:{receiver}/flaky" {{
  body {{ to: to, template: template }}
}}
channel email {{ to profile.email  deliver Mail }}
channel sms {{ to profile.phone  deliver Text }}
channel flaky {{ to profile.email  deliver Flaky }}
frequency email 2 per 1d
frequency any 3 per 2d
frequency sms 1 per 6h
journey A {{
  start on GoA
  reentry always
  send email "a1"
  send flaky "a-flaky"
  send sms "a2"
}}
journey B {{
  start on GoB
  reentry always
  send sms "b1"
  send email "b2"
  send transactional email "receipt"
}}
journey C {{
  start on GoC
  reentry always
  send flaky "c-flaky"
  send email "c1"
}}
"#
        ),
    )
    .expect("write the project");
}

/// The rules of `property_project`: (channel or any, limit); every window is longer than a case.
const RULES: [(Option<&str>, usize); 3] = [(Some("/mail"), 2), (None, 3), (Some("/text"), 1)];

/// Per property test: the server to kill, and whether the receiver kills it at the next call.
static PROP_PID: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];
static PROP_ARMED: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];
static PROP_KILLED: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];
/// Per property test: whether the batch's POST was answered (the kill waits for it).
static PROP_POSTED: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];

/// Answers 503 for `/flaky`, else 200; once armed, kills server `SLOT` with SIGKILL at the next
/// call, which it received (the provider has it; the server never hears so), as soon as the
/// batch's POST was answered (so that the batch is known to be in the log).
fn prop_answer<const SLOT: usize>(path: &str) -> (u16, &'static str) {
    if PROP_ARMED[SLOT].swap(false, Ordering::SeqCst) {
        let deadline = std::time::Instant::now() + support::DEADLINE;
        while !PROP_POSTED[SLOT].load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = PROP_PID[SLOT].load(Ordering::SeqCst);
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        PROP_KILLED[SLOT].store(true, Ordering::SeqCst);
    }
    if path == "/flaky" {
        (503, "{}")
    } else {
        (200, "{}")
    }
}

/// Where a property case kills the server.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Between two events, once what was sent is checkpointed.
    Between,
    /// With a batch in flight: the rest of the events are posted as one batch, and the server
    /// is killed at the first call its journeys make after (a delivery in flight, entries of
    /// the batch perhaps not applied yet). The batch must make a call: a `GoB` does (its
    /// transactional receipt goes whatever the rules say).
    InFlight,
}

fn property_case<const SLOT: usize>(
    steps: &[(u8, u8)],
    kill_at: usize,
    kill: Kill,
    db_of: impl Fn(&Path) -> (std::path::PathBuf, Vec<String>),
) {
    PROP_KILLED[SLOT].store(false, Ordering::SeqCst);
    // A case that failed while armed (proptest then shrinks on the same slot) leaves it disarmed.
    PROP_ARMED[SLOT].store(false, Ordering::SeqCst);
    let api = Api::new();
    let receiver = Receiver::start_answering(&api, prop_answer::<SLOT>);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let dir = temp_dir(&format!("msg-props-{nanos}"));
    property_project(&dir, receiver.port);
    let (db, args) = db_of(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(&dir, &db, &args);
    let profiles: Vec<String> = (0..3).map(|p| format!("p{p}")).collect();
    // Each address, to its profile.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (p, key) in profiles.iter().enumerate() {
        let (email, phone) = (format!("{key}@example.com"), format!("+4670000000{p}"));
        put_profile(&api, &server.url, key, json!({"email": email, "phone": phone}));
        owner.insert(email, key.clone());
        owner.insert(phone, key.clone());
    }
    let line = |(event, profile): (u8, u8)| {
        let name = ["GoA", "GoB", "GoC"][event as usize];
        json!({"event": name, "payload": {"key": profiles[profile as usize]}}).to_string()
    };
    for (i, step) in steps.iter().enumerate() {
        if i == kill_at {
            match kill {
                Kill::Between => {
                    // Killed once what was sent is checkpointed (see `settled`): the restarted
                    // server rebuilds the windows from its message log, and the rules hold for
                    // what follows.
                    settled(&api, &server.url, &receiver, &owner, &profiles);
                    server.kill();
                    server = Server::start(&dir, &db, &args);
                }
                Kill::InFlight => {
                    // What was sent before is checkpointed (see `settled`), as for `Between`.
                    settled(&api, &server.url, &receiver, &owner, &profiles);
                    let batch: Vec<String> = steps[i..].iter().map(|s| line(*s)).collect();
                    PROP_PID[SLOT].store(server.pid, Ordering::SeqCst);
                    PROP_POSTED[SLOT].store(false, Ordering::SeqCst);
                    PROP_ARMED[SLOT].store(true, Ordering::SeqCst);
                    let url = server.url.clone();
                    let (status, v) = api.post(&format!("{url}/events"), &batch.join("\n"));
                    PROP_POSTED[SLOT].store(true, Ordering::SeqCst);
                    assert_eq!(status, 200, "{v}");
                    assert_eq!(v["accepted"].as_array().map(Vec::len), Some(batch.len()), "{v}");
                    assert!(batch.iter().any(|l| l.contains("GoB")), "the batch makes a call: {batch:?}");
                    wait_dead(&api, &url);
                    assert!(PROP_KILLED[SLOT].load(Ordering::SeqCst), "killed by the receiver, at a call");
                    server.kill();
                    server = Server::start(&dir, &db, &args);
                    break;
                }
            }
        }
        let (status, v) = api.post(&format!("{}/events", server.url), &line(*step));
        assert_eq!(status, 200, "{v}");
    }
    let delivered = settled(&api, &server.url, &receiver, &owner, &profiles);
    for (profile, got) in &delivered {
        for (channel, limit) in RULES {
            let n = got.iter().filter(|(path, _)| channel.is_none_or(|c| c == path)).count();
            assert!(n <= limit, "{profile}: {n} messages on {channel:?} (limit {limit}): {got:?}");
        }
    }
}

/// Waits until the server has applied the log and its message log (as checkpointed) lists as
/// sent exactly the marketing messages the providers accepted, none still being delivered;
/// returns those, by profile: (path, message id), each once (a message delivered again after a
/// kill has the same id).
fn settled(
    api: &Api,
    url: &str,
    receiver: &Receiver,
    owner: &BTreeMap<String, String>,
    profiles: &[String],
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    api.settle(url);
    wait_until("the message log to list what the providers accepted", || {
        let mut delivered: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for c in receiver.calls().iter().filter(|c| c.path != "/flaky" && c.body["category"] != "transactional") {
            let to = c.body["to"].as_str().unwrap_or_default();
            let profile = owner.get(to).unwrap_or_else(|| panic!("a profile's address: {to}"));
            delivered.entry(profile.clone()).or_default().insert((c.path.clone(), c.key.clone()));
        }
        for key in profiles {
            let list = messages(api, url, key);
            let sent: BTreeSet<String> = list
                .iter()
                .filter(|m| m["outcome"] == "sent" && m["category"] == "marketing" && m["channel"] != "flaky")
                .map(|m| m["id"].as_str().unwrap_or_default().to_string())
                .collect();
            let got: BTreeSet<String> = delivered.get(key).into_iter().flatten().map(|(_, id)| id.clone()).collect();
            if sent != got || list.iter().any(|m| m["outcome"] == "sending") {
                return Err(format!("{key}: the log has {sent:?}, the providers {got:?}: {list:?}"));
            }
        }
        Ok(delivered)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, max_shrink_iters: 0, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn sent_marketing_messages_never_exceed_a_frequency_rule_in_serve_across_a_kill(
        steps in prop::collection::vec((0u8..3, 0u8..3), 4..14),
        kill in 0usize..14,
        in_flight in any::<bool>(),
    ) {
        let kill_at = kill % steps.len();
        // In flight where the batch makes a call (see `Kill::InFlight`).
        let calls = steps[kill_at..].iter().any(|(event, _)| *event == 1);
        let kill = if in_flight && calls { Kill::InFlight } else { Kill::Between };
        property_case::<0>(&steps, kill_at, kill, |dir| (dir.join("j.db"), Vec::new()));
    }
}

#[test]
fn sent_marketing_messages_never_exceed_a_frequency_rule_in_serve_across_a_kill_in_flight() {
    let steps: Vec<(u8, u8)> = (0..12).map(|i| ((i * 7 % 3) as u8, (i * 5 % 3) as u8)).collect();
    property_case::<3>(&steps, 4, Kill::InFlight, |dir| (dir.join("j.db"), Vec::new()));
}

#[test]
fn sent_marketing_messages_never_exceed_a_frequency_rule_on_postgres_across_a_takeover() {
    let pg = PgDb::new("msg_props");
    let steps: Vec<(u8, u8)> = (0..12).map(|i| ((i * 7 % 3) as u8, (i * 5 % 3) as u8)).collect();
    property_case::<1>(&steps, 6, Kill::Between, |_| {
        (pg.path().to_path_buf(), PG_ARGS.iter().map(|s| s.to_string()).collect())
    });
}

#[test]
fn sent_marketing_messages_never_exceed_a_frequency_rule_on_postgres_across_a_takeover_in_flight() {
    let pg = PgDb::new("msg_props_in_flight");
    let steps: Vec<(u8, u8)> = (0..12).map(|i| ((i * 7 % 3) as u8, (i * 5 % 3) as u8)).collect();
    property_case::<2>(&steps, 4, Kill::InFlight, |_| {
        (pg.path().to_path_buf(), PG_ARGS.iter().map(|s| s.to_string()).collect())
    });
}

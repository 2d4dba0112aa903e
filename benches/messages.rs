//! Messages in `journey run --dry-run`, the real binary timed from process start to exit (wall
//! time, and the CPU time and peak resident memory of the process from `wait4`), each side
//! against a baseline measured in the same run:
//!
//! - **send vs call** (issue 10, "Speed": a `send` that passes its checks costs at most 1.5x a
//!   plain `call` of the same action). The run bench's cart events (`benches/support`: two
//!   thirds cart adds of as many profiles, one third purchases); each cart add starts a journey
//!   that, at once, either does nothing (`none`: what reading, parsing and routing the events
//!   costs), `call`s the ESP's action (`call`), or `send`s an email through a channel with a
//!   consent expression and two frequency rules, delivered by that same action (`send`). Every
//!   send passes its checks (the address falls back to a constant, nobody opted out, one message
//!   per profile). Printed: the whole runs' ratio send / call, and the ratio of what the
//!   statement adds to the run, (send - none) / (call - none), in CPU time.
//! - **fan-out**: one business event (`start on E for audience A`) to every member of an
//!   audience, against the same number of keyed entry events, one per member, starting the same
//!   journey body (a `send`); and a run of the same profiles file with one event that starts
//!   nothing (`load`: what reading the profiles costs both sides).
//!
//! Run: `cargo bench --bench messages` (1,000,000 events for send vs call, `MSG_EVENTS=N`;
//! 100,000 members for the fan-out, `FANOUT_MEMBERS=N`; best of `MSG_REPEAT` (3) runs per side;
//! `send` or `fanout` as an argument to run one part). As a test (`cargo test --benches`, or
//! `-- --test`) it runs every side once on 3,000 events and 2,000 members and checks that the
//! sides agree. See `BENCHMARKS.md`.

use serde_json::Value as Json;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

mod support;

/// What every `send vs call` program declares: the same events, profile and action.
const DECLS: &str = concat!(
    include_str!("../vm/benches/data/messages-decls.journey"),
    r#"event Purchase: CommerceEvent {
  key identityMap.Email[0].id
  when eventType == "commerce.purchases"
}
"#
);

/// The channel and the frequency rules of the `send` side.
const CHANNEL: &str = include_str!("../vm/benches/data/messages-channel.journey");

/// The body of each side's journey, after `start on CartAdd`.
fn body(side: &str) -> &'static str {
    match side {
        "none" => "",
        "call" => "  call SendEmail(to: profile.personalEmail.address ?? \"shopper@example.com\", template: \"cart-reminder\")\n",
        _ => "  send email \"cart-reminder\"\n",
    }
}

fn program(side: &str) -> String {
    let channel = if side == "send" { CHANNEL } else { "" };
    format!("{DECLS}{channel}\njourney Reminder {{\n  start on CartAdd\n{}  end \"done\"\n}}\n", body(side))
}

/// What a run's summary says: events, started, ends, deliver calls, messages sent.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    events: u64,
    started: u64,
    ended: String,
    calls: u64,
    sent: u64,
}

fn counts(run: &support::Run, journey: &str) -> Counts {
    let text = std::str::from_utf8(&run.stdout).expect("UTF-8");
    let summary: Json = serde_json::from_str(text.lines().last().expect("a summary")).expect("summary JSON");
    assert_eq!(summary["rejected"], serde_json::json!({}), "no line rejected");
    assert_eq!(summary["unanswered"], serde_json::json!({}), "the mocks answer every call");
    let j = &summary["journeys"][journey];
    let n = |v: &Json| v.as_u64().unwrap_or(0);
    let sent = j["nodes"].as_array().map_or(0, |nodes| nodes.iter().map(|node| n(&node["messages"]["sent"])).sum());
    Counts {
        events: n(&summary["events"]),
        started: n(&j["started"]),
        ended: j["ended"].to_string(),
        calls: summary["calls"].as_object().map_or(0, |c| c.values().map(n).sum()),
        sent,
    }
}

/// The best (by wall time) of `repeat` runs of `journey args`, with its CPU time and peak memory.
fn best(repeat: usize, args: &[&str]) -> support::Run {
    (0..repeat).map(|_| support::journey(args)).min_by_key(|r| r.wall).expect("ran")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn row(name: &str, run: &support::Run) {
    println!("| {name} | {:.3} s | {:.3} s | {:.0} MB |", secs(run.wall), secs(run.cpu), run.max_rss as f64 / 1e6);
}

fn send_vs_call(quick: bool, repeat: usize) {
    let n = support::env_usize("MSG_EVENTS", if quick { 3_000 } else { 1_000_000 });
    let dir = support::data_dir();
    let (events, profiles) = support::events_file(n);
    let mocks = dir.join("messages-mocks.jsonl");
    std::fs::write(&mocks, support::MOCKS).expect("mocks");
    println!("send vs call: `journey run --dry-run --summary-only --jobs 1`, {n} events, {profiles} cart adds (one instance each), best of {repeat}");
    println!();
    println!("| side | wall | CPU | peak RSS |");
    println!("|---|---:|---:|---:|");
    let mut runs = Vec::new();
    for side in ["none", "call", "send"] {
        let file = dir.join(format!("messages-{side}.journey"));
        std::fs::write(&file, program(side)).expect("journey file");
        let mut args = support::run_args(&file, &events, &mocks);
        args.extend_from_slice(&["--summary-only", "--format", "json", "--jobs", "1"]);
        let run = best(repeat, &args);
        row(side, &run);
        runs.push((side, counts(&run, "Reminder"), run));
    }
    let (none, call, send) = (&runs[0], &runs[1], &runs[2]);
    // The three sides read the same events and start the same instances; `call` and `send` make
    // the same deliver calls, and every send passed its checks.
    assert_eq!(none.1.started as usize, profiles, "{:?}", none.1);
    for side in [call, send] {
        assert_eq!((side.1.events, side.1.started, &side.1.ended), (none.1.events, none.1.started, &none.1.ended));
    }
    assert_eq!(call.1.calls, call.1.started, "one call per instance");
    assert_eq!(send.1.calls, call.1.calls, "one deliver call per send");
    assert_eq!(send.1.sent, send.1.started, "every send passed its checks");
    let added = |side: &support::Run| secs(side.cpu) - secs(none.2.cpu);
    println!();
    println!(
        "send / call: wall {:.2}, CPU {:.2}; what the statement adds, (send - none) / (call - none) in CPU time: {:.2} \
         ({:.2} µs against {:.2} µs a statement)",
        secs(send.2.wall) / secs(call.2.wall),
        secs(send.2.cpu) / secs(call.2.cpu),
        added(&send.2) / added(&call.2),
        added(&send.2) * 1e6 / profiles as f64,
        added(&call.2) * 1e6 / profiles as f64,
    );
    println!();
}

/// The fan-out programs: one starts on a business event for an audience, the other on a keyed
/// event; the same body.
fn fanout_program(business: bool) -> String {
    let start = if business { "ProductRestocked for audience Subscribers" } else { "Notify" };
    format!(
        r#"
profile = xdm "https://ns.adobe.com/xdm/context/profile"
    with "https://ns.adobe.com/xdm/context/profile-personal-details",
         "https://ns.adobe.com/xdm/mixins/profile-consents"
type Restock = {{ sku: string, quantity: int }}
type Ping = {{ email: string, sku: string, quantity: int }}
/// A business event: no key.
event ProductRestocked: Restock {{
  when quantity > 0
}}
/// The same news, one event per subscriber.
event Notify: Ping {{
  key email
  when quantity > 0
}}
audience Subscribers
action SendEmail(to: string, template: string, vars: map<string>?) = http POST "https://esp.example.com/v3/messages" {{
  body {{ to: to, template_id: template, substitutions: vars }}
  timeout 5s
  returns {{ messageId: string }}
}}
channel email {{
  to profile.personalEmail.address
  consent (profile.consents.marketing.email.val ?? "y") not in ["n", "dn"]
  deliver SendEmail
}}
frequency email 3 per 7d
journey Broadcast {{
  start on {start}
  reentry always
  send email "restock-alert" with {{ sku: event.sku }}
  end "told"
}}
"#
    )
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("file"));
    for line in lines {
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
}

fn fanout(quick: bool, repeat: usize) {
    let members = support::env_usize("FANOUT_MEMBERS", if quick { 2_000 } else { 100_000 });
    let dir = support::data_dir();
    let at = "2026-10-08T10:00:00Z";
    let email = |i: usize| format!("subscriber{i:07}@example.com");
    let profiles = dir.join(format!("fanout-profiles-{members}.jsonl"));
    write_lines(
        &profiles,
        (0..members).map(|i| {
            format!(
                r#"{{"key":"{e}","attributes":{{"personalEmail":{{"address":"{e}"}}}},"audiences":["Subscribers"]}}"#,
                e = email(i)
            )
        }),
    );
    let one = dir.join("fanout-one.jsonl");
    write_lines(
        &one,
        std::iter::once(format!(
            r#"{{"event":"ProductRestocked","at":"{at}","payload":{{"sku":"JKT-001-M","quantity":40}}}}"#
        )),
    );
    let nothing = dir.join("fanout-nothing.jsonl");
    write_lines(
        &nothing,
        std::iter::once(format!(
            r#"{{"event":"ProductRestocked","at":"{at}","payload":{{"sku":"JKT-001-M","quantity":0}}}}"#
        )),
    );
    let each = dir.join(format!("fanout-each-{members}.jsonl"));
    write_lines(
        &each,
        (0..members).map(|i| {
            format!(
                r#"{{"event":"Notify","at":"{at}","payload":{{"email":"{}","sku":"JKT-001-M","quantity":40}}}}"#,
                email(i)
            )
        }),
    );
    let mocks = dir.join("fanout-mocks.jsonl");
    std::fs::write(&mocks, support::MOCKS).expect("mocks");
    let business = dir.join("fanout-business.journey");
    std::fs::write(&business, fanout_program(true)).expect("journey");
    let keyed = dir.join("fanout-keyed.journey");
    std::fs::write(&keyed, fanout_program(false)).expect("journey");

    println!(
        "fan-out: {members} audience members, `journey run --dry-run --summary-only --jobs 1 --profiles` \
         (the same profiles file on every side), best of {repeat}"
    );
    println!();
    println!("| side | wall | CPU | peak RSS |");
    println!("|---|---:|---:|---:|");
    let side = |name: &str, journey: &Path, events: &Path| {
        let mut args = support::run_args(journey, events, &mocks);
        let p = profiles.to_str().expect("path");
        args.extend_from_slice(&["--profiles", p, "--summary-only", "--format", "json", "--jobs", "1"]);
        let run = best(repeat, &args);
        row(name, &run);
        let c = counts(&run, "Broadcast");
        (c, run)
    };
    let (load, load_run) = side("load: one business event that starts nothing", &business, &nothing);
    let (fan, fan_run) = side("one business event to every member", &business, &one);
    let (one_by_one, each_run) = side("one keyed event per member (baseline)", &keyed, &each);
    assert_eq!(load.started, 0, "{load:?}");
    assert_eq!(fan.started as usize, members, "one instance per member: {fan:?}");
    assert_eq!((fan.started, &fan.ended, fan.sent), (one_by_one.started, &one_by_one.ended, one_by_one.sent));
    assert_eq!(fan.sent as usize, members, "every member's message sent");
    let added = |r: &support::Run| (secs(r.cpu) - secs(load_run.cpu)).max(0.0);
    println!();
    println!(
        "business event / keyed events: wall {:.2}, CPU {:.2}; beyond loading the profiles: {:.2} µs a member \
         against {:.2} µs a keyed event (ratio {:.2})",
        secs(fan_run.wall) / secs(each_run.wall),
        secs(fan_run.cpu) / secs(each_run.cpu),
        added(&fan_run) * 1e6 / members as f64,
        added(&each_run) * 1e6 / members as f64,
        added(&fan_run) / added(&each_run).max(f64::MIN_POSITIVE),
    );
    println!();
}

fn main() {
    let quick = support::quick();
    let repeat = support::env_usize("MSG_REPEAT", if quick { 1 } else { 3 }).max(1);
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let on = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    if on("send") {
        send_vs_call(quick, repeat);
    }
    if on("fanout") {
        fanout(quick, repeat);
    }
}

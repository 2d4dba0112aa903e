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
//! - **serve-fanout**: the same two programs in `journey serve` (SQLite, a fresh server each),
//!   the members entered through the API: one business event against one keyed event per
//!   member, timed until every instance started and until every message was delivered (to a
//!   stand-in in this process), with the server's CPU time and peak resident memory.
//!
//! Run: `cargo bench --bench messages` (1,000,000 events for send vs call, `MSG_EVENTS=N`;
//! 100,000 members for the fan-out, `FANOUT_MEMBERS=N`; best of `MSG_REPEAT` (3) runs per side;
//! `send`, `fanout` or `serve-fanout` as an argument to run one part; `fanout` runs both fan-outs). As a test (`cargo test --benches`, or
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

/// A `journey serve` child process on a fresh SQLite database, for the `serve-fanout` part.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Served {
    fn start(dir: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = std::process::Command::new(support::journey_bin())
            .arg("serve")
            .arg(dir)
            .arg("--db")
            .arg(dir.join("j.db"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("journey serve starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "journey serve listens");
            std::thread::sleep(Duration::from_millis(20));
        }
        Served { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// A field of `/proc/PID/status`, in kB.
    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    }

    /// User and system CPU time so far, from `/proc/PID/stat` (clock ticks of 10 ms).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
        let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<u64>().ok()).sum();
        Duration::from_millis(ticks * 10)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client on a runtime of its own, with the ESP's stand-in (answers every deliver call
/// at once) on the same runtime.
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Client {
    fn new() -> Client {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        Client { rt, http: reqwest::Client::new() }
    }

    /// Starts the ESP's stand-in; its port.
    fn esp(&self) -> u16 {
        let listener = self.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let app =
            axum::Router::new().fallback(|| async { ([("content-type", "application/json")], r#"{"messageId":"m"}"#) });
        self.rt.spawn(async move { axum::serve(listener, app).await });
        port
    }

    /// Sends until the server takes it (it answers 429 or 503 while the engine is behind).
    fn post(&self, url: &str, content_type: &str, body: String) {
        loop {
            let sent =
                self.rt.block_on(self.http.post(url).header("content-type", content_type).body(body.clone()).send());
            match sent.map(|r| r.status().as_u16()) {
                Ok(200) => return,
                Ok(429 | 503) => std::thread::sleep(Duration::from_millis(20)),
                other => panic!("POST {url}: {other:?}"),
            }
        }
    }

    fn get(&self, url: &str) -> Json {
        self.rt.block_on(async { self.http.get(url).send().await?.json::<Json>().await }).expect("GET")
    }

    /// Polls `url` every 10 ms until `ok` holds of its answer.
    fn wait(&self, url: &str, ok: impl Fn(&Json) -> bool) {
        while !ok(&self.get(url)) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// What one side of the `serve-fanout` part measured.
struct ServedRun {
    started: Duration,
    told: Duration,
    cpu: Duration,
    peak_kb: u64,
    before_kb: u64,
}

/// One side of the `serve-fanout` part: a fresh server whose audience holds `members`, then
/// (timed from here) the business event, or one keyed event per member, until every member's
/// instance started, and until every one ended (its message delivered).
fn serve_side(client: &Client, esp: u16, business: bool, members: usize) -> ServedRun {
    let dir = support::data_dir().join(format!("serve-fanout-{}", if business { "business" } else { "keyed" }));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // Serve has no profiles file: the address falls back to one of the member's own.
    let program = fanout_program(business)
        .replace("https://esp.example.com", &format!("http://127.0.0.1:{esp}"))
        .replace("to profile.personalEmail.address", "to profile.personalEmail.address ?? \"subscriber@example.com\"");
    std::fs::write(dir.join("project.journey"), program).expect("project");
    let server = Served::start(&dir);
    let url = server.url.clone();
    let email = |i: usize| format!("subscriber{i:07}@example.com");
    let keys: Vec<String> = (0..members).map(email).collect();
    for chunk in keys.chunks(10_000) {
        let body = serde_json::json!({ "enter": chunk }).to_string();
        client.post(&format!("{url}/audiences/Subscribers/members"), "application/json", body);
    }
    client.wait(&format!("{url}/status"), |s| s["applied"].is_i64() && s["applied"] == s["log_entries"]);
    let before_kb = server.status_kb("VmRSS:");
    std::fs::write(format!("/proc/{}/clear_refs", server.child.id()), "5").expect("clear_refs");
    let (t0, cpu0) = (std::time::Instant::now(), server.cpu());
    if business {
        let event = r#"{"event":"ProductRestocked","payload":{"sku":"JKT-001-M","quantity":40}}"#;
        client.post(&format!("{url}/events"), "application/json", event.to_string());
    } else {
        for chunk in keys.chunks(1_000) {
            let lines: Vec<String> = chunk
                .iter()
                .map(|e| format!(r#"{{"event":"Notify","payload":{{"email":"{e}","sku":"JKT-001-M","quantity":40}}}}"#))
                .collect();
            client.post(&format!("{url}/events"), "application/x-ndjson", lines.join("\n"));
        }
    }
    let report = format!("{url}/journeys/Broadcast/report");
    let n = members as u64;
    client.wait(&report, |r| r["versions"][0]["report"]["started"].as_u64() == Some(n));
    let started = t0.elapsed();
    client.wait(&report, |r| r["versions"][0]["report"]["ended"]["told"].as_u64() == Some(n));
    let told = t0.elapsed();
    let sent = &client.get(&report)["versions"][0]["report"]["nodes"][0]["messages"]["sent"];
    assert_eq!(sent.as_u64(), Some(n), "every member's message sent");
    ServedRun { started, told, cpu: server.cpu() - cpu0, peak_kb: server.status_kb("VmHWM:"), before_kb }
}

/// The fan-out through `journey serve`: one business event against one keyed event per
/// member, each on a fresh server (SQLite) whose audience holds the members.
fn serve_fanout(quick: bool) {
    let members = support::env_usize("FANOUT_MEMBERS", if quick { 2_000 } else { 100_000 });
    let client = Client::new();
    let esp = client.esp();
    println!(
        "serve fan-out: {members} audience members, `journey serve` on SQLite (each side a fresh server), \
         deliver calls to a stand-in that answers at once; timed from the request(s) to every instance \
         started, then to every message delivered; CPU time and peak RSS of the server over that"
    );
    println!();
    println!("| side | all started | all delivered | server CPU | RSS before | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, r: &ServedRun| {
        println!(
            "| {name} | {:.2} s | {:.2} s | {:.2} s | {} MB | {} MB |",
            secs(r.started),
            secs(r.told),
            secs(r.cpu),
            r.before_kb / 1024,
            r.peak_kb / 1024
        );
    };
    let fan = serve_side(&client, esp, true, members);
    row("one business event to every member", &fan);
    let each = serve_side(&client, esp, false, members);
    row("one keyed event per member (baseline)", &each);
    println!();
    println!(
        "business event / keyed events: all started {:.2}, all delivered {:.2}, server CPU {:.2}, peak RSS {:.2}",
        secs(fan.started) / secs(each.started),
        secs(fan.told) / secs(each.told),
        secs(fan.cpu) / secs(each.cpu).max(f64::MIN_POSITIVE),
        fan.peak_kb as f64 / each.peak_kb.max(1) as f64,
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
    if on("serve-fanout") {
        serve_fanout(quick);
    }
}

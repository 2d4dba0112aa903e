//! Crash safety of `journey serve`: the server is killed with SIGKILL from another thread while
//! several clients have batches in flight, while it replays its log after a restart, while it
//! checkpoints, and in the middle of a timer storm; restarted each time (on 1 to 3 shares).
//! At the end nothing accepted is lost or doubled: every profile has exactly one instance of
//! each journey, which ended as the journey says; the log holds each event once; every timer
//! fired once (one step event per node per instance); and every call carried one idempotency
//! key on every attempt.
//!
//! Each seed chooses the kill times, batch sizes and shares, and is printed; set
//! `JOURNEY_CRASH_SEED=N` to run that one again (thread timing still varies from run to run).

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{notify_action, temp_dir, wait_until, Api, Receiver, Server};

/// Profiles, each sending one `Ping` (so one instance of each journey, and one call).
const USERS: usize = 2_000;
/// Of those, the events already in the log at the first start (accepted while no server ran):
/// the first start replays them with the API up, and is killed meanwhile.
const PREWRITTEN: usize = 500;
/// Clients sending batches at the same time.
const CLIENTS: usize = 4;
/// Seeds run when `JOURNEY_CRASH_SEED` is not set.
const SEEDS: usize = 3;

fn project(dir: &Path, receiver_port: u16) {
    let notify = notify_action(receiver_port);
    std::fs::write(
        dir.join("flow.journey"),
        format!(
            r#"
type PingPayload = {{ user: string, fireAt: datetime }}
event Ping: PingPayload {{ key user }}
{notify}
journey Flow {{
  start on Ping
  wait until event.fireAt
  call Notify(user: event.user) on error {{ end "notify-failed" }}
  end "done"
}}
journey Seen {{
  start on Ping
  reentry always
  end "seen"
}}
"#
        ),
    )
    .expect("write the project");
}

/// xorshift: the choices of one seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("JOURNEY_CRASH_SEED") {
        return vec![s.trim().parse().expect("JOURNEY_CRASH_SEED is a number")];
    }
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as u64;
    (0..SEEDS as u64).map(|i| (base ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15))) | 1).collect()
}

#[test]
fn killed_at_any_moment_it_loses_and_doubles_nothing() {
    for seed in seeds() {
        eprintln!("crash seed {seed} (run it again with JOURNEY_CRASH_SEED={seed})");
        run_seed(seed);
    }
}

/// What the clients know, shared between them.
#[derive(Default)]
struct Clients {
    /// Users whose event was acknowledged.
    acknowledged: BTreeSet<usize>,
    /// Users whose event was sent and got no answer (the server died).
    unanswered: BTreeSet<usize>,
    /// Events sent again after their reply was lost, answered "duplicate": stored the first time.
    stored_reply_lost: usize,
}

/// How a round ends.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// SIGKILL this long after the server listens.
    After(u64),
    /// SIGKILL once this many events are acknowledged (while the other clients' batches are in
    /// flight).
    Acknowledged(usize),
    /// SIGKILL at this wall-clock time (epoch ms).
    At(i64),
    /// No kill: the last round runs until everything is done.
    Never,
}

fn run_seed(seed: u64) {
    let mut rng = Rng(seed);
    let api = Api::new();
    let receiver = Receiver::start(&api);
    let dir = temp_dir(&format!("crash-{seed}"));
    project(&dir, receiver.port);
    let db = dir.join("j.db");
    let users: Vec<String> = (0..USERS).map(|i| format!("u{i:04}")).collect();
    let now = jiff::Timestamp::now();
    // Every timer falls due in the same millisecond, after the sending rounds: a storm.
    let fire_at = jiff::Timestamp::from_millisecond(now.as_millisecond() + 5_000).expect("time").to_string();
    let payload = |u: &str| json!({"user": u, "fireAt": fire_at});
    journey_runtime::write_log(
        &dir,
        &db,
        now.as_millisecond(),
        users[..PREWRITTEN].iter().map(|u| (format!("ev-{u}"), "Ping".to_string(), payload(u))),
    )
    .expect("the first events are in the log");
    let clients = Arc::new(Mutex::new(Clients { acknowledged: (0..PREWRITTEN).collect(), ..Default::default() }));
    let lines: Arc<Vec<String>> = Arc::new(
        users
            .iter()
            .map(|u| json!({"id": format!("ev-{u}"), "event": "Ping", "payload": payload(u)}).to_string())
            .collect(),
    );
    let fire_ms = now.as_millisecond() + 5_000;
    // Each ingest round is killed part way through what is left to send.
    let ingest_kill = |rng: &mut Rng, clients: &Mutex<Clients>| {
        let acked = clients.lock().expect("lock").acknowledged.len();
        Kill::Acknowledged(acked + 1 + rng.below((USERS - acked) as u64 / 2 + 1) as usize)
    };
    for round in 0..6 {
        let (name, kill) = match round {
            0 => ("replay and ingest", ingest_kill(&mut rng, &clients)),
            1 | 2 => ("ingest", ingest_kill(&mut rng, &clients)),
            3 => ("storm", Kill::At(fire_ms + rng.below(250) as i64)),
            4 => ("restart into the storm", Kill::After(rng.below(300))),
            _ => ("last", Kill::Never),
        };
        let shards = (1 + rng.below(3)).to_string();
        let batch = 10 + rng.below(60) as usize;
        let server = Server::start(&dir, &db, &["--shards", &shards]);
        let listening = Instant::now();
        let killer = server.killer();
        let watch = clients.clone();
        let kill_thread = std::thread::spawn(move || match kill {
            Kill::After(ms) => {
                std::thread::sleep(Duration::from_millis(ms).saturating_sub(listening.elapsed()));
                killer.kill();
            }
            Kill::Acknowledged(n) => {
                wait_until("the clients to get on", || {
                    let c = watch.lock().expect("lock");
                    if c.acknowledged.len() >= n.min(USERS) {
                        Ok(())
                    } else {
                        Err(format!("{} acknowledged", c.acknowledged.len()))
                    }
                });
                killer.kill();
            }
            Kill::At(ms) => {
                let wait = ms - jiff::Timestamp::now().as_millisecond();
                std::thread::sleep(Duration::from_millis(wait.max(0) as u64));
                killer.kill();
            }
            Kill::Never => {}
        });
        // The clients send what is not acknowledged yet, each with one batch in flight at a
        // time, until everything is acknowledged or the server dies under them.
        api.rt.block_on(async {
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let (clients, lines, client, url) =
                        (clients.clone(), lines.clone(), api.client.clone(), server.url.clone());
                    tokio::spawn(send_all(c, batch, clients, lines, client, url))
                })
                .collect();
            for t in tasks {
                t.await.expect("client task");
            }
        });
        kill_thread.join().expect("killer");
        if let Kill::Never = kill {
            finish(&api, &server, &receiver, &dir, &db, &users, &clients);
            server.interrupt();
            check_database(&db, &users);
            break;
        }
        let killed_after = listening.elapsed();
        server.kill();
        let (applied, entries) = positions(&db);
        let c = clients.lock().expect("lock");
        eprintln!(
            "  round {round} ({name}, {shards} shares, batches of {batch}): killed after {} ms with {} of {USERS} \
             acknowledged; checkpoint at log entry {applied} of {entries}; {} calls so far",
            killed_after.as_millis(),
            c.acknowledged.len(),
            receiver.count()
        );
    }
    let c = clients.lock().expect("lock");
    eprintln!("  {} events were stored, their reply lost, and sent again (answered duplicate)", c.stored_reply_lost);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One client: sends user `i`'s event for every `i % CLIENTS == c` not yet acknowledged, in
/// batches; resends what got no answer.
async fn send_all(
    c: usize,
    batch: usize,
    clients: Arc<Mutex<Clients>>,
    lines: Arc<Vec<String>>,
    client: reqwest::Client,
    url: String,
) {
    let mine: Vec<usize> = {
        let k = clients.lock().expect("lock");
        (0..lines.len()).filter(|i| i % CLIENTS == c && !k.acknowledged.contains(i)).collect()
    };
    for chunk in mine.chunks(batch) {
        let body: Vec<&str> = chunk.iter().map(|&i| lines[i].as_str()).collect();
        let answer = loop {
            let resp = match client.post(format!("{url}/events")).body(body.join("\n")).send().await {
                Ok(r) => r,
                Err(_) => break None,
            };
            if resp.status() == 429 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let status = resp.status();
            match resp.json::<Value>().await {
                Ok(v) => {
                    assert_eq!(status, 200, "{v}");
                    break Some(v);
                }
                Err(_) => break None,
            }
        };
        let mut k = clients.lock().expect("lock");
        let Some(v) = answer else {
            // The server died: the batch may or may not be stored.
            k.unanswered.extend(chunk.iter().copied());
            return;
        };
        let accepted = v["accepted"].as_array().expect("accepted");
        assert_eq!(accepted.len(), chunk.len(), "every line is valid: {v}");
        for a in accepted {
            let i = chunk[a["index"].as_u64().expect("index") as usize];
            if a["duplicate"] == true {
                assert!(k.unanswered.contains(&i), "user {i}'s event was never sent before, yet a duplicate: {v}");
                k.stored_reply_lost += 1;
            }
            k.unanswered.remove(&i);
            k.acknowledged.insert(i);
        }
    }
}

/// The stored checkpoint's log position and the log's length, read from the database.
fn positions(db: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let applied: i64 = conn
        .query_row("SELECT coalesce((SELECT value FROM meta WHERE key = 'applied_seq'), 0)", [], |r| r.get(0))
        .expect("applied");
    let entries: i64 = conn.query_row("SELECT count(*) FROM log", [], |r| r.get(0)).expect("count");
    (applied, entries)
}

/// The last round: waits until every instance has ended, then checks what the API and the
/// receiver say.
fn finish(
    api: &Api,
    server: &Server,
    receiver: &Receiver,
    dir: &Path,
    db: &Path,
    users: &[String],
    clients: &Mutex<Clients>,
) {
    let _ = (dir, db);
    let n = users.len();
    assert_eq!(clients.lock().expect("lock").acknowledged.len(), n, "every event was acknowledged in the end");
    let url = &server.url;
    let report = |journey: &str| api.report(url, journey, 0);
    api.wait_get("every instance of Flow to end", &format!("{url}/journeys/Flow/report"), |r| {
        r["versions"][0]["report"]["running"] == 0 && r["versions"][0]["report"]["started"] == n
    });
    let status = api.settle(url);
    assert_eq!(status["log_entries"], n + 1, "the publish and one entry per event: {status}");
    assert_eq!(status["events"], n, "{status}");
    assert_eq!(status["instances_waiting"], 0, "{status}");
    let flow = report("Flow");
    assert_eq!(flow["started"], n, "one Flow instance per profile: {flow}");
    assert_eq!(flow["ended"], json!({"done": n}), "every timer fired and every call was answered: {flow}");
    assert_eq!(flow["errors"], 0, "{flow}");
    let seen = report("Seen");
    assert_eq!(seen["started"], n, "each event applied exactly once (Seen takes every one): {seen}");
    assert_eq!(seen["ended"], json!({"seen": n}), "{seen}");
    // The wait and the call once per instance (the error path's end never).
    let entered: Vec<u64> =
        flow["nodes"].as_array().expect("nodes").iter().map(|x| x["entered"].as_u64().expect("entered")).collect();
    assert!(entered.iter().all(|e| *e == 0 || *e == n as u64), "each node once per instance: {flow}");
    assert!(entered.iter().filter(|e| **e == n as u64).count() >= 2, "{flow}");
    // Every call carried one key on all its attempts (resent after a crash too), and no two
    // profiles' calls share a key.
    let calls = receiver.calls();
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &calls {
        assert_eq!(c.path, "/notify");
        assert!(!c.key.is_empty(), "a call without an idempotency key: {c:?}");
        keys.entry(c.body["user"].as_str().expect("user").to_string()).or_default().insert(c.key.clone());
    }
    assert_eq!(keys.len(), n, "every profile's call reached the receiver");
    for (user, k) in &keys {
        assert_eq!(k.len(), 1, "{user}: one idempotency key on every attempt: {k:?}");
    }
    let distinct: BTreeSet<&String> = keys.values().flatten().collect();
    assert_eq!(distinct.len(), n, "no two calls share a key");
    eprintln!("  {} calls for {n} profiles ({} sent again after a crash)", calls.len(), calls.len() - n);
}

/// After a clean stop: the log holds each event once, nothing waits, and the step events say
/// each instance passed each of its nodes once.
fn check_database(db: &Path, users: &[String]) {
    let n = users.len();
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let ids: Vec<String> = conn
        .prepare("SELECT client_id FROM log WHERE kind LIKE '{\"kind\":\"event\"%' ORDER BY client_id")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    let expected: Vec<String> = users.iter().map(|u| format!("ev-{u}")).collect();
    assert_eq!(ids.len(), n, "exactly one log entry per event");
    assert_eq!(ids, expected, "exactly the events sent, each once");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT count(*) FROM log"), n as i64 + 1);
    assert_eq!(count("SELECT count(*) FROM instances"), 0, "nothing is left waiting");
    assert_eq!(count("SELECT count(*) FROM calls"), 0, "no call is left in flight");
    let mut steps: BTreeMap<(String, String, u64), usize> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT data FROM steps").expect("query");
    for data in stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows") {
        let s: Value = serde_json::from_str(&data.expect("row")).expect("a step event");
        let key = (
            s["journey"].as_str().expect("journey").to_string(),
            s["profile"].as_str().expect("profile").to_string(),
            s["node"].as_u64().expect("node"),
        );
        *steps.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = steps.iter().filter(|(_, c)| **c != 1).take(5).collect();
    assert!(twice.is_empty(), "a node passed more than once by one instance: {twice:?}");
    for journey in ["Flow", "Seen"] {
        let per_profile: BTreeMap<&str, usize> =
            steps.keys().filter(|(j, _, _)| j == journey).fold(BTreeMap::new(), |mut m, (_, p, _)| {
                *m.entry(p.as_str()).or_default() += 1;
                m
            });
        assert_eq!(per_profile.len(), n, "{journey}: step events for every profile");
        let nodes: BTreeSet<usize> = per_profile.values().copied().collect();
        assert_eq!(nodes.len(), 1, "{journey}: every instance passed the same nodes: {nodes:?}");
    }
}

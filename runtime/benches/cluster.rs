//! `journey serve` on PostgreSQL, side by side in one run: durable events per second with 1, 2
//! and 3 nodes, the single SQLite node, and raw baselines (the same log rows, and the log and
//! instance rows, inserted into PostgreSQL by a plain client in the same batch sizes); one event
//! per request with 200 clients
//! in flight (SQLite and one PostgreSQL node); the failover time after a node is killed; and the
//! memory per waiting instance per node.
//!
//! Needs the local PostgreSQL (127.0.0.1:5432, user postgres, trust auth); every measurement
//! runs in a fresh database of its own, dropped after.
//!
//! One event per request is sent twice: by `reqwest` clients (as the batches), and by a minimal
//! keep-alive HTTP/1.1 client (a request written, its answer read, as `wrk` does), whose own
//! work on the shared cores is a fraction of `reqwest`'s: the server's rate with less of the
//! load generator in it.
//!
//! Run: `cargo bench -p journey-runtime --bench cluster` (EVENTS=100000, SINGLES=100000 by
//! default; as a test, `cargo test -p journey-runtime --bench cluster`: 2,000 and 400 events,
//! without the failover and memory measurements; with SQLITE_ONLY=1, the SQLite node's batched
//! and one-event-per-request rates alone; with NODES=1 or 2, the table up to that many nodes
//! alone; with REENTRY=never, the journey keeps its entry history).

mod common;

use common::{event, get_json, project, until_waiting, Server};
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator of the `journey` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 500;
const CLIENTS: usize = 4;
const IN_FLIGHT: usize = 200;
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// The CPU time every PostgreSQL process of the machine has used so far, user and system, with
/// that of its ended connections (counted in the server's own process) (ms): beside the node's
/// own, where a measurement's cost goes (PostgreSQL's other clients count too).
fn postgres_cpu_ms() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .map(|stat| {
            let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
            rest.split_whitespace().skip(11).take(4).filter_map(|t| t.parse::<f64>().ok()).sum::<f64>() * 10.0
        })
        .sum()
}

/// A fresh database on the local PostgreSQL, dropped when dropped.
struct Db {
    name: String,
    rt: tokio::runtime::Runtime,
}

impl Db {
    fn new(name: &str) -> Db {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let db = Db { name: format!("journey_bench_{name}_{}", std::process::id()), rt };
        db.admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.admin(&format!("CREATE DATABASE {}", db.name));
        db
    }

    fn url(&self) -> String {
        format!("{POSTGRES}/{}", self.name)
    }

    fn admin(&self, sql: &str) {
        self.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&format!("{POSTGRES}/postgres"), tokio_postgres::NoTls)
                .await
                .expect("the local PostgreSQL answers on 127.0.0.1:5432");
            let task = tokio::spawn(conn);
            client.batch_execute(sql).await.expect("admin");
            drop(client);
            let _ = task.await;
        });
    }
}

impl Db {
    /// The one number `sql` answers, in this database.
    fn number(&self, sql: &str) -> f64 {
        self.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await.expect("connect");
            let task = tokio::spawn(conn);
            let row = client.query_one(sql, &[]).await.expect("query");
            let n: Option<f64> = row.get(0);
            drop(client);
            let _ = task.await;
            n.unwrap_or(0.0)
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// The raw baseline: the rows the runtime logs for these events (partition, position, id, time,
/// entry text), inserted by `clients` plain connections in batches of [`BATCH`], one committed
/// transaction each: events per second, and PostgreSQL's CPU per event (µs). With
/// `instance_bytes`, each transaction also inserts a row per event into a table shaped as the
/// runtime's `instances` (partition, version, id, data of that many bytes): every row the
/// runtime must store for an event that starts a waiting instance, with none of its other work.
fn raw(n: usize, clients: usize, instance_bytes: Option<usize>, rt: &tokio::runtime::Runtime) -> (f64, f64) {
    let db = Db::new(&format!("raw{clients}{}", if instance_bytes.is_some() { "i" } else { "" }));
    let url = db.url();
    let texts: Vec<(String, String)> = (0..n)
        .map(|i| {
            let e = event(i);
            let kind = format!(r#"{{"kind":"event","name":"CartAdd","payload":{}}}"#, e["payload"]);
            (e["id"].as_str().unwrap_or_default().to_string(), kind)
        })
        .collect();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute(
                "CREATE TABLE log(partition integer NOT NULL, seq bigint NOT NULL, client_id text UNIQUE,
                 at_ms bigint NOT NULL, kind text NOT NULL, PRIMARY KEY(partition, seq))",
            )
            .await
            .expect("table");
        client
            .batch_execute(
                "CREATE TABLE instances(partition integer NOT NULL, version integer NOT NULL, id bigint NOT NULL,
                 data bytea NOT NULL, PRIMARY KEY(partition, version, id))",
            )
            .await
            .expect("table");
    });
    let (started, pg_cpu) = (Instant::now(), postgres_cpu_ms());
    rt.block_on(async {
        let per = n.div_ceil(clients);
        let tasks = texts.chunks(per).enumerate().map(|(c, mine)| {
            let (url, mine) = (url.clone(), mine.to_vec());
            tokio::spawn(async move {
                let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
                tokio::spawn(conn);
                let insert = client
                    .prepare(
                        "INSERT INTO log(partition, seq, client_id, at_ms, kind)
                         SELECT * FROM unnest($1::integer[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])",
                    )
                    .await
                    .expect("prepare");
                let put = client
                    .prepare(
                        "INSERT INTO instances(partition, version, id, data)
                         SELECT $1, 1, * FROM unnest($2::bigint[], $3::bytea[])",
                    )
                    .await
                    .expect("prepare");
                for (b, batch) in mine.chunks(BATCH).enumerate() {
                    let parts: Vec<i32> = vec![c as i32; batch.len()];
                    let seqs: Vec<i64> = (0..batch.len()).map(|i| (b * BATCH + i) as i64).collect();
                    let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
                    let ats: Vec<i64> = vec![0; batch.len()];
                    let kinds: Vec<&str> = batch.iter().map(|(_, k)| k.as_str()).collect();
                    let tx = client.transaction().await.expect("begin");
                    tx.execute(&insert, &[&parts, &seqs, &ids, &ats, &kinds]).await.expect("insert");
                    if let Some(bytes) = instance_bytes {
                        let data: Vec<Vec<u8>> = seqs
                            .iter()
                            .map(|s| s.to_le_bytes().iter().copied().cycle().take(bytes).collect())
                            .collect();
                        tx.execute(&put, &[&(c as i32), &seqs, &data]).await.expect("insert");
                    }
                    tx.commit().await.expect("commit");
                }
            })
        });
        futures::future::join_all(tasks).await;
    });
    let took = started.elapsed();
    // The connections have ended: their CPU is counted in the server's own process.
    (n as f64 / took.as_secs_f64(), (postgres_cpu_ms() - pg_cpu) * 1000.0 / n as f64)
}

/// Posts `bodies` to the servers (round-robin, `clients` at a time, each waiting for its answer;
/// a 429 is sent again): events accepted per second.
fn post_all(bodies: Vec<String>, urls: &[String], clients: usize, rt: &tokio::runtime::Runtime) -> f64 {
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build().expect("client");
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let accepted: usize = rt.block_on(async {
        let tasks = (0..clients).map(|c| {
            let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
            let urls: Vec<String> = urls.iter().map(|u| format!("{u}/events")).collect();
            tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let url = &urls[(i + c) % urls.len()];
                    loop {
                        let Ok(resp) = client.post(url).body(body.clone()).send().await else {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        };
                        if resp.status() == 429 || resp.status() == 503 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        }
                        let v: serde_json::Value = resp.json().await.unwrap_or_default();
                        ok += v["accepted"].as_array().map(Vec::len).unwrap_or(0);
                        if v.get("error").is_some() {
                            eprintln!("error: {v}");
                        }
                        break;
                    }
                }
                ok
            })
        });
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap_or(0)).sum()
    });
    let took = started.elapsed();
    assert_eq!(accepted, bodies.iter().map(|b| b.lines().count()).sum::<usize>(), "every event accepted");
    accepted as f64 / took.as_secs_f64()
}

/// Posts `bodies` to `url` over `clients` keep-alive connections of a minimal HTTP/1.1 client,
/// each waiting for its answer (a 429 or 503 is sent again): events accepted per second.
fn post_lean(bodies: Vec<String>, url: &str, clients: usize, rt: &tokio::runtime::Runtime) -> f64 {
    use tokio::io::AsyncWriteExt;
    let addr = url.trim_start_matches("http://").to_string();
    let total: usize = bodies.iter().map(|b| b.lines().count()).sum();
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let accepted: usize = rt.block_on(async {
        let tasks = (0..clients).map(|_| {
            let (bodies, next, addr) = (bodies.clone(), next.clone(), addr.clone());
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
                let _ = stream.set_nodelay(true);
                let mut buf = Vec::with_capacity(4096);
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let request = format!(
                        "POST /events HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    loop {
                        stream.write_all(request.as_bytes()).await.expect("write");
                        let (status, answer) = read_answer(&mut stream, &mut buf).await;
                        if status == 429 || status == 503 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        }
                        assert_eq!(status, 200, "{answer}");
                        ok += answer.matches("\"seq\":").count();
                        break;
                    }
                }
                ok
            })
        });
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap_or(0)).sum()
    });
    let took = started.elapsed();
    assert_eq!(accepted, total, "every event accepted");
    accepted as f64 / took.as_secs_f64()
}

/// Reads one HTTP/1.1 answer with a `content-length`: its status and body.
async fn read_answer(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
                })
                .expect("a content-length");
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "the server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            return (status, String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned());
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn batches(from: usize, n: usize, per: usize) -> Vec<String> {
    (from..from + n)
        .collect::<Vec<_>>()
        .chunks(per)
        .map(|c| c.iter().map(|i| event(*i).to_string()).collect::<Vec<_>>().join("\n"))
        .collect()
}

/// Starts `nodes` servers on `db`, the first alone (it publishes), then the others; waits
/// until the partitions are spread over all of them.
fn cluster(dir: &Path, db: &str, nodes: usize, rt: &tokio::runtime::Runtime) -> Vec<Server> {
    let mut servers = vec![Server::start(dir, Path::new(db))];
    for _ in 1..nodes {
        servers.push(Server::start(dir, Path::new(db)));
    }
    spread(&servers[0], nodes, Duration::from_millis(50), rt);
    servers
}

/// Waits, asking `server` every `poll`, until every partition is held and `nodes` nodes hold
/// some.
fn spread(server: &Server, nodes: usize, poll: Duration, rt: &tokio::runtime::Runtime) {
    let client = reqwest::Client::new();
    rt.block_on(async {
        loop {
            if let Some(s) = get_json(&client, &format!("{}/status", server.url)).await {
                let c = &s["cluster"];
                let holding = c["nodes"]
                    .as_array()
                    .map(|n| n.iter().filter(|n| n["partitions"].as_u64().unwrap_or(0) > 0).count())
                    .unwrap_or(0);
                if c["unowned"] == 0 && holding == nodes {
                    return;
                }
            }
            tokio::time::sleep(poll).await;
        }
    });
}

/// Waits until every node's log is applied and `n` instances wait (the cluster's view).
fn settle(server: &Server, n: u64, rt: &tokio::runtime::Runtime) {
    rt.block_on(until_waiting(&reqwest::Client::new(), server, n));
}

fn main() {
    if common::serve_if_child() {
        return;
    }
    // As a test (`cargo test --benches`, no `--bench` argument; or `-- --test`): small inputs, the
    // same checks.
    let quick = std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 2_000 } else { 100_000 });
    let singles: usize =
        std::env::var("SINGLES").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 400 } else { 100_000 });
    let dir = std::env::temp_dir().join(format!("journey-cluster-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    project(&dir);
    // REENTRY=never: the journey stores its entry history (a row per entry), as `reentry never`
    // and `after` do; the default journey says `reentry always`, which stores none.
    if let Ok(rule) = std::env::var("REENTRY") {
        let flow = dir.join("flow.journey");
        let text = std::fs::read_to_string(&flow).expect("the project");
        std::fs::write(&flow, text.replace("reentry always", &format!("reentry {rule}"))).expect("write");
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // Each also gives the server's CPU time per event (its own, whatever the load generator
    // and the rest of the machine take of the shared cores; from the first request to settled).
    let sqlite_batched = || {
        let server = Server::start(&dir, &dir.join("served.db"));
        let idle = server.cpu_ms();
        let rate = post_all(batches(0, n, BATCH), std::slice::from_ref(&server.url), CLIENTS, &rt);
        settle(&server, n as u64, &rt);
        let cpu_us = (server.cpu_ms() - idle) * 1000.0 / n as f64;
        server.stop();
        (rate, cpu_us)
    };
    let sqlite_singles = || {
        let server = Server::start(&dir, &dir.join("singles.db"));
        let idle = server.cpu_ms();
        let rate = post_all(batches(0, singles, 1), std::slice::from_ref(&server.url), IN_FLIGHT, &rt);
        let lean = post_lean(batches(singles, singles, 1), &server.url, IN_FLIGHT, &rt);
        settle(&server, 2 * singles as u64, &rt);
        let cpu_us = (server.cpu_ms() - idle) * 1000.0 / (2 * singles) as f64;
        server.stop();
        (rate, lean, cpu_us)
    };
    // SQLITE_ONLY=1: the single SQLite node's batched rate and one event per request, alone.
    if std::env::var_os("SQLITE_ONLY").is_some() {
        let (batched, batched_cpu) = sqlite_batched();
        let (rate, lean, single_cpu) = sqlite_singles();
        println!("SQLite, one node: batches of {BATCH}, {CLIENTS} clients: {batched:.0} events/s");
        println!(
            "  one event per request, {IN_FLIGHT} clients in flight, {singles} events: {rate:.0} / {lean:.0} events/s \
             (reqwest / minimal clients; {:.2} / {:.2} of the batched rate)",
            rate / batched,
            lean / batched
        );
        println!(
            "  the server's CPU per event: {batched_cpu:.1} µs batched, {single_cpu:.1} µs one per request \
             ({:.2} of the batched rate in its own CPU)",
            batched_cpu / single_cpu
        );
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    let (raw1, raw1_cpu) = raw(n, 1, None, &rt);
    let (raw4, _) = raw(n, CLIENTS, None, &rt);
    // The size of a stored instance of this journey (postcard), as the runtime writes it.
    const INSTANCE_BYTES: usize = 40;
    let (raw1i, raw1i_cpu) = raw(n, 1, Some(INSTANCE_BYTES), &rt);
    let (sqlite, sqlite_cpu) = sqlite_batched();
    let mut pg = Vec::new();
    // NODES=1: only as many node counts (and no other measurement after the table).
    let most: usize = std::env::var("NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    for nodes in 1..=most {
        let db = Db::new(&format!("n{nodes}"));
        let servers = cluster(&dir, &db.url(), nodes, &rt);
        let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
        let cpu = || (servers.iter().map(Server::cpu_ms).sum::<f64>(), postgres_cpu_ms());
        let before = cpu();
        let rate = post_all(batches(0, n, BATCH), &urls, CLIENTS, &rt);
        let posted = cpu();
        settle(&servers[0], n as u64, &rt);
        let settled = cpu();
        for s in servers {
            s.stop();
        }
        if nodes == 1 {
            let size = db.number("SELECT avg(octet_length(data))::float8 FROM instances");
            println!("(a stored instance of the journey: {size:.0} bytes; the raw baseline's: {INSTANCE_BYTES})");
        }
        let per_event =
            |from: (f64, f64), to: (f64, f64)| ((to.0 - from.0) * 1e3 / n as f64, (to.1 - from.1) * 1e3 / n as f64);
        pg.push((rate, per_event(before, posted), per_event(before, settled)));
    }
    println!("durable events/s: {n} events, batches of {BATCH}, {CLIENTS} clients");
    println!(
        "  raw PostgreSQL inserts, 1 connection:        {raw1:>10.0}   (PostgreSQL's CPU per event {raw1_cpu:.1} µs)"
    );
    println!("  raw PostgreSQL inserts, {CLIENTS} connections:       {raw4:>10.0}");
    println!(
        "  raw, log and instance rows, 1 connection:    {raw1i:>10.0}   (PostgreSQL's CPU per event {raw1i_cpu:.1} µs)"
    );
    println!("  journey serve, SQLite, one node:             {sqlite:>10.0}");
    for (i, (rate, posted, settled)) in pg.iter().enumerate() {
        println!(
            "  journey serve, PostgreSQL, {} node{}:         {rate:>10.0}   ({:.2} of raw with 1 connection, {:.2} of {CLIENTS}, {:.2} of log and instance rows)",
            i + 1,
            if i == 0 { " " } else { "s" },
            rate / raw1,
            rate / raw4,
            rate / raw1i
        );
        println!(
            "      CPU per event, nodes / PostgreSQL: {:.1} / {:.1} µs while posting, {:.1} / {:.1} µs until applied",
            posted.0, posted.1, settled.0, settled.1
        );
    }

    if most < 3 {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // One event per request, 200 in flight: by reqwest clients, then by the minimal client
    // (each on a server of its own, with new events). Every event sent is applied.
    let (single_rate, single_lean, single_cpu) = sqlite_singles();
    let single_sqlite = (single_rate, single_lean);
    let single_pg = {
        let db = Db::new("singles");
        let servers = cluster(&dir, &db.url(), 1, &rt);
        let rate = post_all(batches(0, singles, 1), &[servers[0].url.clone()], IN_FLIGHT, &rt);
        let lean = post_lean(batches(singles, singles, 1), &servers[0].url, IN_FLIGHT, &rt);
        settle(&servers[0], 2 * singles as u64, &rt);
        for s in servers {
            s.stop();
        }
        (rate, lean)
    };
    println!(
        "one event per request, {IN_FLIGHT} clients in flight, {singles} events (reqwest clients / minimal clients):"
    );
    for (store, (rate, lean), batched) in [("SQLite:    ", single_sqlite, sqlite), ("PostgreSQL:", single_pg, pg[0].0)]
    {
        println!(
            "  {store} {rate:>8.0} / {lean:>8.0} events/s ({:.2} / {:.2} of its batched rate)",
            rate / batched,
            lean / batched
        );
    }
    println!(
        "  SQLite server's own CPU per event: {sqlite_cpu:.1} µs batched, {single_cpu:.1} µs one per request ({:.2})",
        sqlite_cpu / single_cpu
    );
    if quick {
        println!("(quick mode: the failover and the memory per node are measured by `cargo bench` only)");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // Memory per waiting instance, per node, and failover after a kill.
    let db = Db::new("failover");
    let mut servers = cluster(&dir, &db.url(), 3, &rt);
    let empty: Vec<u64> = servers.iter().map(Server::rss_kb).collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    post_all(batches(0, n, BATCH), &urls, CLIENTS, &rt);
    settle(&servers[0], n as u64, &rt);
    let per_node: Vec<f64> = servers
        .iter()
        .zip(&empty)
        .map(|(s, e)| (s.rss_kb().saturating_sub(*e) * 1024) as f64 / (n as f64 / 3.0))
        .collect();
    println!("memory per waiting instance, per node (3 nodes, {n} instances): {per_node:.0?} bytes");
    let victim = servers.remove(1);
    let killed = Instant::now();
    victim.kill();
    spread(&servers[0], 2, Duration::from_millis(20), &rt);
    let took_over = killed.elapsed();
    println!(
        "failover (lease TTL 10 s, {n} waiting instances): every partition held and loaded again {:.2} s after kill -9",
        took_over.as_secs_f64()
    );
    for s in servers {
        s.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

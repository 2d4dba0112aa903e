//! What the `journey serve` tests share: a server on a free port (killed when dropped), an HTTP
//! client that waits with a deadline until the engine has applied the whole log, and a receiver
//! that records the calls journeys make.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::Router;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Running `journey` itself.
pub mod cli;

/// How long any wait in these tests may take before it fails (a debug build on a busy machine).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// An empty folder of its own for a test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("journey-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The `Notify(user)` action of the serve tests' projects: a POST of `{ user }` to the receiver
/// on `port`, timing out after 2 s, tried again 5 times.
pub fn notify_action(port: u16) -> String {
    format!(
        r#"action Notify(user: string) = http POST "http://127.0.0.1:{port}/notify" {{
  body {{ user: user }}
  timeout 2s
  retry 5 backoff 100ms
}}"#
    )
}

/// Runs a test's `case` (project folder, database, extra `serve` arguments) in a fresh folder
/// `name` with a SQLite database in it.
pub fn on_sqlite<T>(name: &str, args: &[&str], case: impl FnOnce(&Path, &Path, &[&str]) -> T) -> T {
    let dir = temp_dir(name);
    case(&dir, &dir.join("j.db"), args)
}

/// Runs a test's `case` in a fresh folder with a fresh PostgreSQL database `name` (see
/// [`PgDb::new`]).
pub fn on_postgres<T>(name: &str, args: &[&str], case: impl FnOnce(&Path, &Path, &[&str]) -> T) -> T {
    let dir = temp_dir(&format!("{name}-pg"));
    let pg = PgDb::new(name);
    case(&dir, pg.path(), args)
}

/// Waits until `f` gives a value, polling; panics with `what` and the last thing `f` said when
/// `DEADLINE` passes first.
pub fn wait_until<T>(what: &str, f: impl FnMut() -> Result<T, String>) -> T {
    wait_within(DEADLINE, what, f)
}

/// As [`wait_until`], with a deadline of `limit` from now.
pub fn wait_within<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) => {
                assert!(Instant::now() < deadline, "waited {limit:?} for {what}; last: {last}");
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }
}

/// A `journey serve` child process, killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its process id.
    pub pid: u32,
    /// The port it listens on.
    pub port: u16,
    /// Its stderr so far, when started by [`Server::start_logged`].
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `journey serve DIR --db DB` on a free port with `args`, and waits until it answers.
    pub fn start(dir: &Path, db: &Path, args: &[&str]) -> Server {
        Server::start_with_token(dir, db, args, None)
    }

    /// As [`Server::start`], with `JOURNEY_TOKEN` set to `token`.
    pub fn start_with_token(dir: &Path, db: &Path, args: &[&str], token: Option<&str>) -> Server {
        Server::start_command(Command::new(env!("CARGO_BIN_EXE_journey")), dir, db, args, token)
    }

    /// As [`Server::start_with_token`], with `cmd` (which runs `journey`, e.g. through a shell
    /// that sets a limit first) given the arguments.
    pub fn start_command(cmd: Command, dir: &Path, db: &Path, args: &[&str], token: Option<&str>) -> Server {
        Server::spawn(cmd, dir, db, args, token, false)
    }

    /// As [`Server::start_command`], keeping what the server writes to stderr ([`Server::log`]).
    pub fn start_logged(cmd: Command, dir: &Path, db: &Path, args: &[&str]) -> Server {
        Server::spawn(cmd, dir, db, args, None, true)
    }

    /// What the server wrote to stderr so far (empty unless started by [`Server::start_logged`]).
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    fn spawn(mut cmd: Command, dir: &Path, db: &Path, args: &[&str], token: Option<&str>, logged: bool) -> Server {
        let port = free_port();
        cmd.arg("serve").arg(dir).arg("--db").arg(db).args(["--listen", &format!("127.0.0.1:{port}")]).args(args);
        cmd.env_remove("JOURNEY_TOKEN");
        if let Some(t) = token {
            cmd.env("JOURNEY_TOKEN", t);
        }
        let stderr = if logged { Stdio::piped() } else { Stdio::null() };
        let mut child = cmd.stdout(Stdio::null()).stderr(stderr).spawn().expect("journey serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            // Drained as it comes, so that the server never blocks on a full pipe.
            let log = log.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = std::io::Read::read(&mut err, &mut buf) {
                    log.lock().expect("log").push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut server =
            Server { pid: child.id(), child: Some(child), url: format!("http://127.0.0.1:{port}"), port, log };
        wait_until("journey serve to listen", || {
            if let Some(status) = server.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("journey serve exited before listening: {status}");
            }
            std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()).map_err(|e| e.to_string())
        });
        server
    }

    /// Its exit status once it has exited by itself (`None` while it runs).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Something that kills this server with SIGKILL from another thread.
    pub fn killer(&self) -> Killer {
        Killer(self.pid)
    }

    /// SIGKILL: no graceful shutdown, no final checkpoint.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGINT, as ctrl-c: the server writes a final checkpoint and exits 0.
    pub fn interrupt(mut self) {
        let mut c = self.child.take().expect("running");
        signal("-INT", self.pid);
        let code = wait_until("journey serve to exit after SIGINT", || {
            c.try_wait().map_err(|e| e.to_string())?.ok_or_else(|| "still running".to_string())
        });
        assert!(code.success(), "journey serve exits cleanly on SIGINT: {code}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

/// Kills a server by its process id; the process stays unreaped (so its id stays its own) until
/// the [`Server`] is killed or dropped.
#[derive(Clone, Copy)]
pub struct Killer(u32);

impl Killer {
    /// SIGKILL now.
    pub fn kill(self) {
        signal("-KILL", self.0);
    }

    /// SIGSTOP: the process stops where it is (its leases run out), until [`Killer::resume`].
    pub fn pause(self) {
        signal("-STOP", self.0);
    }

    /// SIGCONT: a paused process goes on.
    pub fn resume(self) {
        signal("-CONT", self.0);
    }
}

/// A blocking HTTP client for the tests (its own async runtime inside).
pub struct Api {
    /// The runtime the client and any [`Receiver`] run on.
    pub rt: tokio::runtime::Runtime,
    /// The client.
    pub client: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

impl Api {
    /// A client with a 10 s timeout per request.
    pub fn new() -> Api {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        Api { rt, client }
    }

    /// Sends a request; its status and JSON body (`null` when the body is not JSON), or the
    /// transport error.
    pub fn try_send(&self, method: &str, url: &str, body: &str) -> Result<(u16, Value), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.rt.block_on(async {
            let resp =
                self.client.request(method, url).body(body.to_string()).send().await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
        })
    }

    /// Sends a request that must get an answer: its status and JSON body.
    pub fn send(&self, method: &str, url: &str, body: &str) -> (u16, Value) {
        self.try_send(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// POST; the status and the JSON answer.
    pub fn post(&self, url: &str, body: &str) -> (u16, Value) {
        self.send("POST", url, body)
    }

    /// GET that must answer 200 with JSON.
    pub fn get(&self, url: &str) -> Value {
        let (status, v) = self.send("GET", url, "");
        assert_eq!(status, 200, "GET {url}: {v}");
        v
    }

    /// The value of counter or gauge `name` (without labels) in the server at `url`'s
    /// `/metrics`; fails the test when it is missing.
    pub fn metric(&self, url: &str, name: &str) -> u64 {
        let (status, text) = self.text(&format!("{url}/metrics"));
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    }

    /// GET; the status and the body as text.
    pub fn text(&self, url: &str) -> (u16, String) {
        self.rt.block_on(async {
            let resp = self.client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_else(|e| panic!("GET {url}: {e}")))
        })
    }

    /// Waits until the engine has applied every log entry (`applied == log_entries` in
    /// `/status`); returns that status.
    pub fn settle(&self, url: &str) -> Value {
        wait_until("the engine to apply the whole log", || {
            let (_, s) = self.try_send("GET", &format!("{url}/status"), "")?;
            if s["applied"].is_i64() && s["applied"] == s["log_entries"] {
                Ok(s)
            } else {
                Err(s.to_string())
            }
        })
    }

    /// Waits until `ok` holds of the answer to GET `url`; returns that answer.
    pub fn wait_get(&self, what: &str, url: &str, ok: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, || {
            let (_, v) = self.try_send("GET", url, "")?;
            if ok(&v) {
                Ok(v)
            } else {
                Err(v.to_string())
            }
        })
    }

    /// One version's report of a journey (`report` of `versions[i]`).
    pub fn report(&self, url: &str, journey: &str, version_index: usize) -> Value {
        self.get(&format!("{url}/journeys/{journey}/report"))["versions"][version_index]["report"].clone()
    }
}

/// One call a journey made.
#[derive(Debug, Clone)]
pub struct Call {
    /// The path called (`/notify`).
    pub path: String,
    /// Its `Idempotency-Key` header ("" when missing).
    pub key: String,
    /// Its body as JSON (`null` when not JSON).
    pub body: Value,
    /// Its `Authorization` header ("" when missing).
    pub auth: String,
}

/// An HTTP server that records every request and answers it (`200 {}` unless started with
/// [`Receiver::start_answering`]).
#[derive(Clone)]
pub struct Receiver {
    /// Where it listens.
    pub port: u16,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// What a [`Receiver`] answers a request for a path: a status and a JSON body.
pub type Answer = fn(&str) -> (u16, &'static str);

async fn record(
    State((calls, answer)): State<(Arc<Mutex<Vec<Call>>>, Answer)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, [(axum::http::header::HeaderName, &'static str); 1], &'static str) {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    calls.lock().expect("lock").push(Call { path: uri.path().to_string(), key, body, auth });
    let (status, text) = answer(uri.path());
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    (axum::http::StatusCode::from_u16(status).expect("a status"), json, text)
}

impl Receiver {
    /// Starts one on `api`'s runtime that answers every request `200 {}`.
    pub fn start(api: &Api) -> Receiver {
        Receiver::start_answering(api, |_| (200, "{}"))
    }

    /// Starts one on `api`'s runtime that answers as `answer` says for the request's path.
    pub fn start_answering(api: &Api, answer: Answer) -> Receiver {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let listener = api.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new().fallback(record).with_state((calls.clone(), answer));
        api.rt.spawn(async move { axum::serve(listener, app).await });
        Receiver { port, calls }
    }

    /// Every call so far, in arrival order (retries included).
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    /// How many calls arrived so far.
    pub fn count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }
}

/// The local PostgreSQL server the cluster tests use (trust auth, as `.ci/run` starts it).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh PostgreSQL database of a test's own, dropped (with its connections) when dropped.
pub struct PgDb {
    /// `postgres://postgres@127.0.0.1:5432/NAME`, for `--db`.
    pub url: String,
    /// The server's address without a database.
    server: String,
    name: String,
    rt: tokio::runtime::Runtime,
}

impl PgDb {
    /// Makes database `journey_test_NAME_PID` on the local server (dropping one left by an
    /// earlier run).
    pub fn new(test: &str) -> PgDb {
        PgDb::on(POSTGRES, test)
    }

    /// As [`PgDb::new`], on the server at `server` (`postgres://USER@HOST:PORT`).
    pub fn on(server: &str, test: &str) -> PgDb {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let name = format!("journey_test_{test}_{}", std::process::id());
        let db = PgDb { url: format!("{server}/{name}"), server: server.to_string(), name, rt };
        db.admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.admin(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// The address as a path, for `Server::start`.
    pub fn path(&self) -> &Path {
        Path::new(&self.url)
    }

    fn admin(&self, sql: &str) {
        let url = format!("{}/postgres", self.server);
        self.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("the local PostgreSQL at {url} answers (is it running?): {e}"));
            let task = tokio::spawn(conn);
            client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            drop(client);
            let _ = task.await;
        });
    }

    /// Runs `sql` in the test's database; each row's columns as text (NULL as "").
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.expect("connect");
            let task = tokio::spawn(conn);
            let mut out = Vec::new();
            for m in client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")) {
                if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                    out.push((0..r.len()).map(|i| r.get(i).unwrap_or("").to_string()).collect());
                }
            }
            drop(client);
            let _ = task.await;
            out
        })
    }

    /// One number from `sql`.
    pub fn number(&self, sql: &str) -> i64 {
        self.query(sql)[0][0].parse().unwrap_or_else(|e| panic!("{sql}: not a number: {e}"))
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let url = format!("{}/postgres", self.server);
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = self.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            let task = tokio::spawn(conn);
            let r = client.batch_execute(&sql).await;
            drop(client);
            let _ = task.await;
            r
        });
    }
}

/// A PostgreSQL server of a test's own: a cluster made by `initdb` in a temporary folder, on a
/// free port, which the test stops and starts as a database restart or crash would. Stopped and
/// removed when dropped.
pub struct OwnPostgres {
    dir: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl OwnPostgres {
    /// Makes and starts the server (`initdb` and `pg_ctl` from the PATH, as Debian's PostgreSQL
    /// package installs them; run as the `postgres` user when the tests run as root, which
    /// PostgreSQL refuses).
    pub fn start(name: &str) -> OwnPostgres {
        let dir = temp_dir(&format!("pg-{name}"));
        if is_root() {
            run_pg(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir), "chown");
        }
        let pg = OwnPostgres { dir, port: free_port() };
        run_pg(
            pg.tool("initdb").arg("-D").arg(pg.dir.join("data")).args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]),
            "initdb",
        );
        pg.up();
        pg
    }

    /// `postgres://postgres@127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the server again (on the same port and data) and waits until it accepts.
    pub fn up(&self) {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        run_pg(
            self.tool("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-o", &opts, "-l"])
                .arg(self.dir.join("log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, every
    /// connection cut at once).
    pub fn crash(&self) {
        run_pg(
            self.tool("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    fn tool(&self, name: &str) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", name]);
            c
        } else {
            Command::new(name)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run_pg(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{what} runs (PostgreSQL's server programs on the PATH, as `.ci/run` has them): {e}")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

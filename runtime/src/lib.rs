//! The durable journey runtime behind `journey serve`: an embedded store, one engine loop over
//! every published version, and an HTTP API.
//!
//! Data flows one way: the API validates and appends to the durable log (group commit), the
//! worker applies the log in order to the engines, and checkpoints their state with the log
//! position; a restart loads the checkpoint and replays the rest of the log.

#![warn(missing_docs)]

pub mod api;
pub mod cluster;
pub mod console;
mod fields;
pub mod listen;
pub mod metrics;
pub mod shard;
pub mod store;
pub mod worker;

use api::{AppState, AppendRequest, Validators};
use journey_compiler::artifact;
use journey_compiler::driver::BuildError;
use journey_vm::engine::{Engine, Options};
use journey_vm::http::HttpExecutor;
use journey_vm::machine::Image;
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use store::sqlite::SqliteStore;
use store::{LogKind, NewEntry, Store};
use worker::{wall_ms, Wake, Worker};

/// Threads serving HTTP requests (each validates with its own engine).
pub(crate) const API_THREADS: usize = 2;

/// How `journey serve` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project folder.
    pub project: PathBuf,
    /// Extra schema folders.
    pub schemas: Vec<PathBuf>,
    /// The database file, or a PostgreSQL database's address (`postgres://USER@HOST:PORT/DB`):
    /// then the process is a node of a cluster ([`cluster`]).
    pub db: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token (required on a non-loopback address).
    pub token: Option<String>,
    /// Profiles per second that scheduled audience reads enter.
    pub read_rate: Option<u32>,
    /// Shares of the profiles the engine runs in parallel (when unset: one per core, but one
    /// when a journey has a `cap`).
    pub shards: Option<usize>,
    /// Log entries the engine may be behind before changes are refused with 429
    /// ([`api::MAX_ENGINE_LAG`] when unset).
    pub max_lag: Option<i64>,
    /// What clients may hold open or send.
    pub limits: Limits,
}

/// Limits on what clients may hold open or send; each has a default when unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Connections served at once ([`MAX_CONNECTIONS`], or fewer when the open-file limit is
    /// low); the ones over it are answered 503.
    pub max_connections: Option<usize>,
    /// How long a request head may take to arrive, and a body may pause ([`IDLE_TIMEOUT`]).
    pub idle_timeout: Option<std::time::Duration>,
    /// The most one profile write may hold ([`api::MAX_PROFILE_BYTES`]).
    pub max_profile_bytes: Option<usize>,
}

/// Connections served at once by default.
pub const MAX_CONNECTIONS: usize = 10_000;
/// The most file descriptors kept for the store, the log and outgoing calls, beside the
/// connections (a quarter of the limit when that is less).
const RESERVED_FILES: u64 = 1_024;
/// By default, how long a request head may take to arrive (from the connection's opening or
/// its previous answer), and a request body may pause.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Raises the soft limit on open files to the hard limit (each connection and each outgoing
/// call holds one), and returns how many connections fit under it beside the files the
/// runtime needs.
fn connections_that_fit() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(RESERVED_FILES)
        }
    };
    let reserved = RESERVED_FILES.min(limit / 4);
    usize::try_from(limit.saturating_sub(reserved).max(16)).unwrap_or(usize::MAX)
}

/// Why the runtime cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// The project does not compile.
    #[error("the project does not compile:\n{0}")]
    Compile(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

/// Compiles the project into artifact bytes, or says why not (the rendered errors when it has
/// any), through the compiler's one driver.
pub fn compile_project(dir: &Path, schemas: &[PathBuf]) -> Result<Vec<u8>, BuildError> {
    journey_compiler::driver::artifact_of(dir, schemas)
}

/// Stores a new version of the project; returns its number.
pub fn store_version(db: &Path, bytes: &[u8]) -> Result<u32, String> {
    let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let next = store.versions().map_err(|e| e.to_string())?.last().map(|v| v.version + 1).unwrap_or(1);
    store.save_version(next, bytes, wall_ms()).map_err(|e| e.to_string())?;
    Ok(next)
}

/// Publishes the project in `dir` into the database `db` and appends `events` (client id, event
/// name, payload) to its log at `at_ms`, as if they had been accepted while no server ran: the
/// next `journey serve` replays them. For tests and benchmarks of replay, backpressure and
/// timer storms.
pub fn write_log(
    dir: &Path,
    db: &Path,
    at_ms: i64,
    events: impl IntoIterator<Item = (String, String, serde_json::Value)>,
) -> Result<(), String> {
    let bytes = compile_project(dir, &[]).map_err(|e| e.to_string())?;
    let version = store_version(db, &bytes)?;
    let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let publish = NewEntry::new(None, at_ms, &LogKind::Publish { version, journeys: Vec::new() });
    store.append(&[publish.map_err(|e| e.to_string())?]).map_err(|e| e.to_string())?;
    let mut batch = Vec::with_capacity(5_000);
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        batch.clear();
        for (id, name, payload) in events.by_ref().take(5_000) {
            batch.push(NewEntry::new(Some(id), at_ms, &LogKind::Event { name, payload }).map_err(|e| e.to_string())?);
        }
        store.append(&batch).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn validator_for(db: &Path) -> Result<Engine, String> {
    let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let rows = store.versions().map_err(|e| e.to_string())?;
    let row = rows.last().ok_or("no published version")?;
    let a = artifact::from_bytes(&row.artifact).map_err(|e| e.to_string())?;
    let image = Arc::new(Image::load(a.program).map_err(|e| e.to_string())?);
    Ok(Engine::new(image, wall_ms(), Options::default()))
}

/// Every stored version's program (the worker loads them all).
fn stored_programs(db: &Path) -> Result<Vec<journey_bytecode::Program>, String> {
    let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let rows = store.versions().map_err(|e| e.to_string())?;
    rows.iter().map(|r| artifact::from_bytes(&r.artifact).map(|a| a.program).map_err(|e| e.to_string())).collect()
}

/// Starts the runtime and serves until ctrl-c.
pub fn serve(config: Config) -> Result<(), StartError> {
    serve_until(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Starts a node of the cluster on the PostgreSQL database `config.db` and serves until
/// ctrl-c; then hands its partitions over and leaves.
pub fn serve_cluster(config: Config, options: cluster::ClusterOptions) -> Result<(), StartError> {
    cluster::serve_until(config, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Checks the token and the address, and works out the connection limits.
fn connection_limits(config: &Config) -> Result<listen::Limits, StartError> {
    if config.token.as_ref().is_some_and(|t| t.trim().is_empty()) {
        return Err(StartError::Config("the bearer token is empty".into()));
    }
    if !config.listen.ip().is_loopback() && config.token.is_none() {
        return Err(StartError::Config(format!(
            "refusing to listen on {} without a token: set JOURNEY_TOKEN or --token-file, or listen on 127.0.0.1",
            config.listen
        )));
    }
    let fit = connections_that_fit();
    let max_connections = match config.limits.max_connections {
        Some(n) if n > fit => {
            tracing::warn!("--max-connections {n} is over what the open-file limit allows; serving at most {fit}");
            fit
        }
        Some(n) => n,
        None => MAX_CONNECTIONS.min(fit),
    };
    Ok(listen::Limits { max_connections, idle_timeout: config.limits.idle_timeout.unwrap_or(IDLE_TIMEOUT) })
}

/// Whether the database is PostgreSQL's (an address) rather than a SQLite file.
pub fn is_postgres(config: &Config) -> bool {
    config.db.to_str().is_some_and(store::postgres::is_url)
}

/// Starts the runtime and serves until `shutdown` completes (then checkpoints and returns). On
/// PostgreSQL, as a node of a cluster with the default [`cluster::ClusterOptions`].
pub fn serve_until(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    if is_postgres(&config) {
        return cluster::serve_until(config, cluster::ClusterOptions::default(), shutdown);
    }
    let connection_limits = connection_limits(&config)?;
    let mut store = SqliteStore::open(&config.db).map_err(|e| StartError::Store(e.to_string()))?;
    if store.versions().map_err(|e| StartError::Store(e.to_string()))?.is_empty() {
        let bytes = compile_project(&config.project, &config.schemas).map_err(|e| match e {
            BuildError::Errors(rendered) => StartError::Compile(rendered),
            other => StartError::Config(other.to_string()),
        })?;
        let v = store_version(&config.db, &bytes).map_err(StartError::Store)?;
        let publish = NewEntry::new(None, wall_ms(), &LogKind::Publish { version: v, journeys: Vec::new() })
            .map_err(|e| StartError::Store(e.to_string()))?;
        store.append(&[publish]).map_err(|e| StartError::Store(e.to_string()))?;
        tracing::info!("published the project as version {v}");
    }
    // The engine's checkpoints are derived from the durable log: they need not sync.
    let mut checkpoints = SqliteStore::open(&config.db).map_err(|e| StartError::Store(e.to_string()))?;
    checkpoints.relax_checkpoint_sync().map_err(|e| StartError::Store(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(API_THREADS)
        // Named, to tell the server's threads from others in a profile.
        .thread_name("journey-api")
        .enable_all()
        .build()
        .map_err(|e| StartError::Config(format!("cannot start the async runtime: {e}")))?;
    let metrics = Arc::new(Metrics::default());
    let executor = Arc::new(rt.block_on(async { HttpExecutor::builder().build() }).map_err(StartError::Config)?);
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<Wake>();
    // Loaded on a thread of its own that then ends: an allocator that keeps a thread's freed
    // memory for reuse (mimalloc, in the `journey` binary) hands back what loading used only
    // for a while (the stored rows) when the thread ends, instead of keeping it resident.
    let (handle, load_wake, load_metrics) = (rt.handle().clone(), wake_tx.clone(), metrics.clone());
    let read_rate = config.read_rate;
    let shards = config.shards;
    let worker = std::thread::Builder::new()
        .name("journey-load".into())
        .spawn(move || {
            Worker::load(
                Box::new(store),
                executor,
                handle,
                load_wake,
                load_metrics,
                worker::Layout { read_rate, shards, partition: None },
                Some(Box::new(checkpoints)),
            )
        })
        .map_err(|e| StartError::Config(e.to_string()))?
        .join()
        .map_err(|_| StartError::Store("loading the stored state failed".into()))?
        .map_err(StartError::Store)?;
    let worker_thread = std::thread::Builder::new()
        .name("journey-engine".into())
        .spawn(move || worker.run(wake_rx))
        .map_err(|e| StartError::Config(e.to_string()))?;

    let (append_tx, append_rx) = tokio::sync::mpsc::channel::<AppendRequest>(1024);
    let appender_store = SqliteStore::open(&config.db).map_err(|e| StartError::Store(e.to_string()))?;
    let appender_wake = wake_tx.clone();
    let appender_metrics = metrics.clone();
    let appender = std::thread::Builder::new()
        .name("journey-log".into())
        .spawn(move || group_commit(appender_store, append_rx, appender_wake, appender_metrics))
        .map_err(|e| StartError::Config(e.to_string()))?;

    let first = validator_for(&config.db).map_err(StartError::Store)?;
    let image = first.image().clone();
    let validators =
        Arc::new(Validators::new(API_THREADS, || Engine::new(image.clone(), wall_ms(), Options::default())));
    validators.add_business(&stored_programs(&config.db).map_err(StartError::Store)?);
    let db = config.db.clone();
    let read_db = config.db.clone();
    let (publish, canvases) = publisher(
        &config,
        validators.clone(),
        move |bytes| store_version(&db, bytes).map_err(|e| (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e)),
        Box::new(move || SqliteStore::open(&read_db).and_then(|mut s| s.versions()).map_err(|e| e.to_string())),
    );
    let state = Arc::new(AppState {
        appender: append_tx,
        worker: Mutex::new(wake_tx.clone()),
        validators,
        token: config.token.clone(),
        metrics,
        publish,
        max_lag: config.max_lag.unwrap_or(api::MAX_ENGINE_LAG),
        max_profile_bytes: config.limits.max_profile_bytes.unwrap_or(api::MAX_PROFILE_BYTES),
        canvases,
    });
    let app = api::router(state);
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        tracing::info!("listening on http://{}", config.listen);
        eprintln!(
            "journey serve: listening on http://{} (database {}, at most {} connections at once)",
            config.listen,
            config.db.display(),
            connection_limits.max_connections
        );
        listen::serve(listener, app, connection_limits, shutdown).await.map_err(|e| StartError::Config(e.to_string()))
    });
    let _ = wake_tx.send(Wake::Shutdown);
    let _ = worker_thread.join();
    drop(appender);
    served
}

/// A request's reply, with how many of a group's entries are its own.
pub(crate) type Reply = (usize, tokio::sync::oneshot::Sender<Result<Vec<store::Appended>, String>>);

/// Waits for a request, then takes every other one waiting (up to 512): their entries in one
/// list, and each request's count and reply in order. `None` once every sender is gone.
pub(crate) fn take_group(rx: &mut tokio::sync::mpsc::Receiver<AppendRequest>) -> Option<(Vec<NewEntry>, Vec<Reply>)> {
    let mut group = vec![rx.blocking_recv()?];
    while let Ok(more) = rx.try_recv() {
        group.push(more);
        if group.len() >= 512 {
            break;
        }
    }
    let mut all: Vec<NewEntry> = Vec::with_capacity(group.iter().map(|(e, _)| e.len()).sum());
    let mut replies = Vec::with_capacity(group.len());
    for (entries, reply) in group {
        replies.push((entries.len(), reply));
        all.extend(entries);
    }
    Some((all, replies))
}

/// The log writer: takes every request waiting, appends them in one transaction (one sync for
/// the whole group), answers each, and hands the entries it appended to the engine (which
/// applies them without reading them back; what it does not get so, such as an entry another
/// connection appended, it reads from the log).
fn group_commit(
    mut store: SqliteStore,
    mut rx: tokio::sync::mpsc::Receiver<AppendRequest>,
    wake: std::sync::mpsc::Sender<Wake>,
    metrics: Arc<Metrics>,
) {
    while let Some((all, replies)) = take_group(&mut rx) {
        match store.append(&all) {
            Ok(results) => {
                let appended: Vec<store::Entry> = all
                    .into_iter()
                    .zip(&results)
                    .filter_map(|(e, r)| match r {
                        store::Appended::New(seq) => Some(store::Entry { seq: *seq, at_ms: e.at_ms, kind: e.kind }),
                        store::Appended::Duplicate(_) => None,
                    })
                    .collect();
                // Far behind, the engine would drop what it is handed (it keeps a bounded hand)
                // and read it back anyway: it is told where the log ends instead, so that the
                // entries do not wait in its inbox meanwhile (up to the lag limit of them).
                let behind = metrics.engine_lag() > worker::HANDED_MAX as i64;
                if let Some(last) = appended.last() {
                    metrics.appended_seq.fetch_max(last.seq, std::sync::atomic::Ordering::Relaxed);
                }
                let mut rest = results.into_iter();
                for (n, reply) in replies {
                    let mine: Vec<_> = rest.by_ref().take(n).collect();
                    let _ = reply.send(Ok(mine));
                }
                match appended.last() {
                    Some(last) if behind => {
                        let _ = wake.send(Wake::Appended(last.seq));
                    }
                    Some(_) => {
                        let _ = wake.send(Wake::Logged(appended));
                    }
                    None => {}
                }
            }
            Err(e) => {
                tracing::error!("appending to the log failed: {e}");
                for (_, reply) in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// What `POST /journeys/NAME/publish` does, whatever the backend: compile the project, refuse a
/// journey it lacks, store the version with `store`, then let the payload validators and the
/// console's canvases follow it. Returns it with the console's canvases, which `read` the stored
/// versions.
pub(crate) fn publisher(
    config: &Config,
    validators: Arc<Validators>,
    store: impl Fn(&[u8]) -> Result<u32, (axum::http::StatusCode, String)> + Send + Sync + 'static,
    read: Box<console::ReadVersions>,
) -> (Box<api::PublishFn>, Arc<console::Canvases>) {
    use axum::http::StatusCode;
    let canvases = Arc::new(console::Canvases::new(config.project.clone(), config.schemas.clone(), read));
    let publish_canvases = canvases.clone();
    let (project_dir, schemas) = (config.project.clone(), config.schemas.clone());
    let publish = move |journey: &str| -> Result<u32, (StatusCode, String)> {
        let bytes =
            compile_project(&project_dir, &schemas).map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let a = artifact::from_bytes(&bytes).map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        if !a.program.journeys.iter().any(|j| j.name == journey) {
            return Err((StatusCode::NOT_FOUND, format!("the project has no journey `{journey}`")));
        }
        let v = store(&bytes)?;
        publish_canvases.keep(v, &a);
        if let Ok(image) = Image::load(a.program) {
            let image = Arc::new(image);
            validators.replace(|| Engine::new(image.clone(), wall_ms(), Options::default()));
        }
        Ok(v)
    };
    (Box::new(publish), canvases)
}

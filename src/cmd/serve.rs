//! `journey serve` (the durable runtime) and `journey status` (ask a running one).

use super::project::SchemaArgs;
use super::{Format, FAILED, OK};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `journey serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The project folder (published as version 1 on the first start).
    #[arg(value_name = "DIR")]
    project: PathBuf,
    /// The database: a SQLite file (created if absent), or a PostgreSQL database's address,
    /// `postgres://USER@HOST:PORT/DB`, to run as a node of a cluster (see "Running several
    /// nodes" in the README).
    #[arg(long, value_name = "FILE|URL", default_value = "journey.db", env = "JOURNEY_DB")]
    db: PathBuf,
    /// On PostgreSQL: this node's name in the cluster [default: the host's name and the process id].
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// On PostgreSQL: partitions of the profiles in a new database [default: 64]; an existing
    /// database keeps the number it was made with.
    #[arg(long, value_name = "N")]
    partitions: Option<u32>,
    /// On PostgreSQL: seconds a node holds a partition without renewing its lease; a node that
    /// stops renewing has its partitions taken over after it.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    lease_ttl: std::time::Duration,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file holding the bearer token (else the JOURNEY_TOKEN environment variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(flatten)]
    schemas: SchemaArgs,
    /// Profiles per second a scheduled audience read enters (Adobe's range is 500 to 20,000).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    read_rate: u32,
    /// Shares of the profiles the engine runs in parallel, each on a thread (default: one per
    /// core, but one when a journey has a `cap`: with more, a cap still lets exactly N through,
    /// but which N depends on thread timing, and a replay after a crash may choose others). A
    /// profile's events are always applied one at a time, in log order.
    #[arg(long, value_name = "N")]
    shards: Option<std::num::NonZeroUsize>,
    /// Log entries the engine may be behind (replaying after a restart, or under a burst)
    /// before new events, profile writes and audience changes are answered 429 [default: 200000].
    #[arg(long, value_name = "N")]
    max_lag: Option<i64>,
    /// Connections served at once; more are answered 503 [default: 10000, or fewer when the
    /// open-file limit is low]. The open-file limit is raised to its hard limit at start.
    #[arg(long, value_name = "N")]
    max_connections: Option<std::num::NonZeroUsize>,
    /// Seconds a connection may take to send a whole request head (from its opening or its
    /// previous answer: idle keep-alive connections are closed after it), and a request body
    /// may pause (else it is answered 408).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    idle_timeout: std::time::Duration,
    /// The most bytes one profile write (PUT or PATCH /profiles/{key}) may hold.
    #[arg(long, value_name = "BYTES", default_value_t = journey_runtime::api::MAX_PROFILE_BYTES)]
    max_profile_bytes: usize,
    /// How log lines are written, to stderr.
    #[arg(long, value_enum, default_value_t)]
    log_format: LogFormat,
}

/// How `journey serve` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
enum LogFormat {
    /// Text for people (coloured on a terminal).
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// A number of seconds above 0, such as `10` or `0.5`.
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    let why = || format!("`{text}` is not a number of seconds above 0, such as 10 or 0.5");
    let n: f64 = text.parse().map_err(|_| why())?;
    match std::time::Duration::try_from_secs_f64(n) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(why()),
    }
}

/// The bearer token: from `file`, else JOURNEY_TOKEN (unset or empty: none). Surrounding
/// whitespace is dropped; a token file with nothing else, or a token an `Authorization`
/// header cannot carry, is refused.
pub fn token(file: Option<&PathBuf>) -> Result<Option<String>, String> {
    let token = match file {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| format!("cannot read the token file `{}`: {e}", f.display()))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(format!("the token file `{}` is empty: put the bearer token in it", f.display()));
            }
            token.to_string()
        }
        None => match std::env::var("JOURNEY_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => return Ok(None),
        },
    };
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "the bearer token holds {c:?}, which an Authorization header cannot carry: use visible ASCII characters"
        ));
    }
    Ok(Some(token))
}

/// Runs `journey serve`.
pub fn serve(args: ServeArgs) -> u8 {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JOURNEY_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
    }

    let token = match token(args.token_file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let postgres = args.db.to_str().is_some_and(journey_runtime::store::postgres::is_url);
    if !postgres && (args.node.is_some() || args.partitions.is_some()) {
        eprintln!(
            "error: --node and --partitions are for a cluster on PostgreSQL: give --db postgres://USER@HOST:PORT/DB"
        );
        return FAILED;
    }
    let cluster = journey_runtime::cluster::ClusterOptions {
        node: args.node,
        partitions: args.partitions,
        lease_ttl: args.lease_ttl,
    };
    let config = journey_runtime::Config {
        project: args.project,
        schemas: args.schemas.dirs,
        db: args.db,
        listen: args.listen,
        token,
        read_rate: Some(args.read_rate),
        shards: args.shards.map(usize::from),
        max_lag: args.max_lag,
        limits: journey_runtime::Limits {
            max_connections: args.max_connections.map(usize::from),
            idle_timeout: Some(args.idle_timeout),
            max_profile_bytes: Some(args.max_profile_bytes),
        },
    };
    let served =
        if postgres { journey_runtime::serve_cluster(config, cluster) } else { journey_runtime::serve(config) };
    match served {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

/// Arguments of `journey status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The server's address.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A file holding the bearer token (else JOURNEY_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Runs `journey status`.
pub fn status(args: StatusArgs) -> u8 {
    let token = match token(args.token_file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let url = format!("{}/status", args.url.trim_end_matches('/'));
    let result: Result<serde_json::Value, String> = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.get(&url);
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("cannot reach {url}: {e}; is `journey serve` running?"))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.map_err(|e| format!("bad answer from {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {}", body["error"].as_str().unwrap_or("")));
        }
        Ok(body)
    });
    match result {
        Ok(v) => {
            match args.format {
                Format::Json => println!("{v}"),
                Format::Human => {
                    println!("versions published:  {}", v["versions"]);
                    println!("journeys:            {}", v["journeys"]);
                    println!("events stored:       {}", v["events"]);
                    println!("log applied up to:   {} of {}", v["applied"], v["log_entries"]);
                    println!("instances waiting:   {}", v["instances_waiting"]);
                    println!("accepted / rejected: {} / {} (since start)", v["accepted"], v["rejected"]);
                    if let Some(c) = v.get("cluster") {
                        println!("cluster:             {} partitions, {} not held", c["partitions"], c["unowned"]);
                        for n in c["nodes"].as_array().into_iter().flatten() {
                            let state = match (n["alive"].as_bool(), n["leaving"].as_bool()) {
                                (_, Some(true)) => "leaving",
                                (Some(true), _) => "alive",
                                _ => "silent",
                            };
                            println!(
                                "  node {:<24} {:<8} {:>4} partitions  lag {:>8}  {}",
                                n["name"].as_str().unwrap_or(""),
                                state,
                                n["partitions"],
                                n["lag"],
                                n["address"].as_str().unwrap_or("")
                            );
                        }
                    }
                }
            }
            OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}

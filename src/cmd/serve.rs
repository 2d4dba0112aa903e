//! `journey serve` (the durable runtime) and `journey status` (ask a running one).

use super::{Format, FAILED, OK};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `journey serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The project folder (published as version 1 on the first start).
    #[arg(value_name = "DIR")]
    project: PathBuf,
    /// The database file (created if absent).
    #[arg(long, value_name = "FILE", default_value = "journey.db")]
    db: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file holding the bearer token (else the JOURNEY_TOKEN environment variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Extra schema search folder (repeatable).
    #[arg(long = "schemas", value_name = "DIR")]
    schemas: Vec<PathBuf>,
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
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t)]
    log_format: Format,
}

fn token(file: Option<&PathBuf>) -> Result<Option<String>, String> {
    match file {
        Some(f) => std::fs::read_to_string(f)
            .map(|t| Some(t.trim().to_string()))
            .map_err(|e| format!("cannot read the token file `{}`: {e}", f.display())),
        None => Ok(std::env::var("JOURNEY_TOKEN").ok().filter(|t| !t.is_empty())),
    }
}

/// Runs `journey serve`.
pub fn serve(args: ServeArgs) -> u8 {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JOURNEY_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match args.log_format {
        Format::Json => builder.json().init(),
        Format::Human => builder.init(),
    }
    let token = match token(args.token_file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let config = journey_runtime::Config {
        project: args.project,
        schemas: args.schemas,
        db: args.db,
        listen: args.listen,
        token,
        read_rate: Some(args.read_rate),
        shards: args.shards.map(usize::from),
        max_lag: args.max_lag,
    };
    match journey_runtime::serve(config) {
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

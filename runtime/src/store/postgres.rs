//! PostgreSQL: the store of a cluster of `journey serve` nodes. The log is split into a fixed
//! number of partitions (profiles hashed by key, as the engine's shares are); each partition has
//! its own positions, checkpoint and lease. Any node appends to any partition (group commit: one
//! transaction per batch, durable before "accepted"); only the node holding a partition's lease
//! writes its checkpoints, and every such write checks the lease's fencing token in the same
//! transaction, so a node paused past its lease writes nothing once another took over.
//!
//! The schema is created and migrated by the binary ([`MIGRATIONS`]): a newer binary upgrades
//! an older database; an older binary refuses a newer one.

use super::*;
use deadpool_postgres::{GenericClient, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

/// Partitions of a new database unless `--partitions` says otherwise.
pub const DEFAULT_PARTITIONS: u32 = 64;

/// The transactions one group of appends is split into ([`Pg::append_lanes`]): partition `p`
/// goes to lane `p % LANES`, each lane committed on a connection of its own, at the same time.
pub const LANES: usize = 4;
/// The fewest entries split into lanes: a smaller group locks few partitions, and is one
/// transaction (fewer round trips).
const LANE_MIN: usize = 128;

/// The schema's versions, in order: migration `i` brings the database to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the log, the versions, and each partition's checkpointed state.
    "CREATE TABLE meta(key text PRIMARY KEY, value bigint NOT NULL);
     CREATE TABLE versions(version integer PRIMARY KEY, artifact bytea NOT NULL, published_ms bigint NOT NULL);
     CREATE TABLE partitions(partition integer PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0,
       events bigint NOT NULL DEFAULT 0);
     CREATE TABLE log(partition integer NOT NULL, seq bigint NOT NULL, client_id text UNIQUE,
       at_ms bigint NOT NULL, kind text NOT NULL, PRIMARY KEY(partition, seq));
     CREATE TABLE instances(partition integer NOT NULL, version integer NOT NULL, id bigint NOT NULL,
       data bytea NOT NULL, PRIMARY KEY(partition, version, id));
     CREATE TABLE calls(partition integer NOT NULL, version integer NOT NULL, instance bigint NOT NULL,
       request bytea NOT NULL, PRIMARY KEY(partition, version, instance));
     CREATE TABLE entries(partition integer NOT NULL, version integer NOT NULL, profile text NOT NULL,
       journey text NOT NULL, last_ms bigint NOT NULL, PRIMARY KEY(partition, version, profile, journey));
     CREATE TABLE engine_state(partition integer NOT NULL, version integer NOT NULL, small text NOT NULL,
       report text NOT NULL, PRIMARY KEY(partition, version));
     CREATE TABLE profiles(partition integer NOT NULL, key text NOT NULL, value text NOT NULL,
       PRIMARY KEY(partition, key));
     CREATE TABLE audiences(partition integer NOT NULL, audience text NOT NULL, key text NOT NULL,
       PRIMARY KEY(partition, audience, key));
     CREATE TABLE steps(id bigserial PRIMARY KEY, partition integer NOT NULL, data text NOT NULL);",
    // 2: the cluster: its nodes, and each partition's lease with its fencing token (kept apart
    // from `partitions`, whose rows appends lock, so that checkpoints and appends do not wait
    // on each other).
    "CREATE TABLE nodes(name text PRIMARY KEY, address text NOT NULL, started timestamptz NOT NULL DEFAULT now(),
       heartbeat timestamptz NOT NULL DEFAULT now(), leaving boolean NOT NULL DEFAULT false);
     CREATE TABLE leases(partition integer PRIMARY KEY, owner text, token bigint NOT NULL DEFAULT 0,
       lease_until timestamptz NOT NULL DEFAULT 'epoch', applied_seq bigint NOT NULL DEFAULT 0,
       taken bigint NOT NULL DEFAULT 0);
     INSERT INTO leases(partition) SELECT partition FROM partitions;",
    // 3: `cap` counters shared by the cluster: one row per instance let through, so that a
    // replay after a takeover finds its own row and decides as before.
    "CREATE TABLE cap_takes(version integer NOT NULL, journey integer NOT NULL, node bigint NOT NULL,
       instance bigint NOT NULL, PRIMARY KEY(version, journey, node, instance));",
    // 4: which process runs under a node's name, so that a second process given the same
    // `--node` is refused instead of freeing the first one's leases.
    "ALTER TABLE nodes ADD COLUMN incarnation text NOT NULL DEFAULT '';",
    // 5: messages, with the profile's partition: the message log (what `GET
    // /profiles/{key}/messages` lists, and what the frequency windows are rebuilt from after a
    // restart or takeover), and the messages of live instances (reactions, a queued send).
    "CREATE TABLE messages(partition integer NOT NULL, id text NOT NULL, profile text NOT NULL,
       journey text NOT NULL, version integer NOT NULL, instance bigint NOT NULL, node bigint NOT NULL,
       channel text NOT NULL, template text NOT NULL, address text, category text NOT NULL,
       outcome text NOT NULL, at_ms bigint NOT NULL, opened boolean NOT NULL DEFAULT false,
       clicked boolean NOT NULL DEFAULT false, PRIMARY KEY(partition, id));
     CREATE INDEX messages_profile ON messages(partition, profile, at_ms);
     CREATE INDEX messages_counted ON messages(partition, at_ms) WHERE category = 'marketing';
     CREATE TABLE message_live(partition integer NOT NULL, version integer NOT NULL, instance bigint NOT NULL,
       data bytea NOT NULL, PRIMARY KEY(partition, version, instance));",
    // 6: each profile's goal watches (they outlive the instances), with its partition.
    "CREATE TABLE goal_watches(partition integer NOT NULL, version integer NOT NULL, profile text NOT NULL,
       data bytea NOT NULL, PRIMARY KEY(partition, version, profile));",
    // 7: where each partition's entries began to give their instances an origin (the log's end
    // then; 0 for a database made since): a replay of the entries before keeps their messages'
    // ids as the binary of then gave them.
    "ALTER TABLE partitions ADD COLUMN origins_from bigint NOT NULL DEFAULT 0;
     UPDATE partitions SET origins_from = last_seq;",
];

/// Whether a process may run as a node of a given name ([`Pg::claim_name`]).
#[derive(Debug, PartialEq, Eq)]
pub enum NameClaim {
    /// The name is this process's now.
    Claimed,
    /// Another process runs under that name: it listens on `address` and its last heartbeat is
    /// `age_ms` old.
    Taken {
        /// Where the other process listens.
        address: String,
        /// How old its last heartbeat is, in milliseconds.
        age_ms: i64,
    },
}

/// Whether `db` names a PostgreSQL database (`postgres://` or `postgresql://`) rather than a file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A client error: "unavailable" when the connection failed or the server went away (so that
/// the API answers 503 and clients retry), else what the server refused.
fn pg(e: tokio_postgres::Error) -> StoreError {
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let away = e.is_closed()
        || io
        // Connection exceptions, and the server shutting down or ending the session.
        || e.code().is_some_and(|code| code.code().starts_with("08") || code.code().starts_with("57P"));
    if away {
        StoreError(format!("{}: {e}", StoreError::UNAVAILABLE))
    } else {
        StoreError(format!("{e}{}", e.as_db_error().map(|d| format!(": {}", d.message())).unwrap_or_default()))
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError(format!("{}: {e}", StoreError::UNAVAILABLE))
}

/// The shared handle on the database: a pool of connections and the async runtime that drives
/// them, with the number of partitions. The runtime's threads are not the callers': the store's
/// methods block the calling thread until the database answers.
pub struct Pg {
    rt: tokio::runtime::Handle,
    pool: Pool,
    /// The number of partitions (fixed when the database was made).
    pub partitions: u32,
    /// The database's address, without a password, for messages.
    pub shown: String,
}

/// A published version's number, or why none was stored.
pub type Published = Result<u32>;

impl Pg {
    /// Connects to `url`, creates or migrates the schema, and makes the partitions of a new
    /// database (`partitions`, else [`DEFAULT_PARTITIONS`]). A database made with another number
    /// of partitions than `partitions` asked for, or by a newer binary, is refused.
    pub fn connect(
        url: &str,
        rt: tokio::runtime::Handle,
        partitions: Option<u32>,
        pool_size: usize,
    ) -> Result<Arc<Pg>> {
        Pg::connect_at(url, rt, partitions, pool_size, MIGRATIONS.len())
    }

    /// As [`Pg::connect`], bringing the schema to version `schema` at most (an older binary's).
    pub fn connect_at(
        url: &str,
        rt: tokio::runtime::Handle,
        partitions: Option<u32>,
        pool_size: usize,
        schema: usize,
    ) -> Result<Arc<Pg>> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError(format!("`{url}` is not a PostgreSQL address: {e}")))?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("journey");
        // A node stopped mid-transaction (paused, swapped out, hung) must not hold its rows'
        // locks, the lease rows among them, past a few seconds: PostgreSQL ends a transaction
        // left idle that long, so the other nodes can take its partitions once the leases run
        // out. A working node never leaves a transaction idle for more than a round trip.
        config.options(format!("-c idle_in_transaction_session_timeout={}", IDLE_IN_TRANSACTION.as_millis()));
        let shown = format!(
            "postgres://{}@{}/{}",
            config.get_user().unwrap_or(""),
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
                + &config.get_ports().first().map(|p| format!(":{p}")).unwrap_or_default(),
            config.get_dbname().unwrap_or("")
        );
        let manager = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = {
            let _guard = rt.enter();
            Pool::builder(manager)
                .max_size(pool_size.max(2))
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(Duration::from_secs(10)))
                .create_timeout(Some(Duration::from_secs(5)))
                .recycle_timeout(Some(Duration::from_secs(5)))
                .build()
                .map_err(err)?
        };
        let mut pg = Pg { rt, pool, partitions: 0, shown };
        pg.partitions = pg.run(pg.migrate(partitions, schema)).map_err(|e| {
            if e.is_unavailable() {
                StoreError(format!("cannot reach the database {}: {}", pg.shown, e.0))
            } else {
                e
            }
        })?;
        Ok(Arc::new(pg))
    }

    /// Runs `f` on the store's runtime and waits for it (from any thread: inside the runtime,
    /// the thread is handed over to waiting meanwhile).
    pub fn run<T>(&self, f: impl Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(|| self.rt.block_on(f)),
            Err(_) => self.rt.block_on(f),
        }
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Brings the schema to version `to` (all of [`MIGRATIONS`] but in tests), under a lock
    /// that makes nodes starting together migrate once; returns the number of partitions.
    pub async fn migrate(&self, partitions: Option<u32>, to: usize) -> Result<u32> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7283946501);
             CREATE TABLE IF NOT EXISTS journey_schema(version integer NOT NULL);",
        )
        .await
        .map_err(pg)?;
        let at: i32 = match tx.query_opt("SELECT version FROM journey_schema", &[]).await.map_err(pg)? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO journey_schema(version) VALUES (0)", &[]).await.map_err(pg)?;
                0
            }
        };
        let known = MIGRATIONS.len() as i32;
        if at > known {
            return Err(StoreError(format!(
                "the database {} has schema version {at}, newer than this binary knows (version {known}): \
                 run a newer `journey`, or give another database",
                self.shown
            )));
        }
        let new = at == 0;
        if new {
            let n = partitions.unwrap_or(DEFAULT_PARTITIONS);
            if n == 0 || n > 4096 {
                return Err(StoreError(format!("--partitions {n}: choose between 1 and 4096")));
            }
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(at as usize) {
            tx.batch_execute(sql)
                .await
                .map_err(|e| StoreError(format!("migrating the schema to version {}: {}", i + 1, pg(e).0)))?;
            if i == 0 {
                let n = partitions.unwrap_or(DEFAULT_PARTITIONS) as i64;
                tx.execute("INSERT INTO meta(key, value) VALUES ('partitions', $1)", &[&n]).await.map_err(pg)?;
                tx.execute(
                    "INSERT INTO partitions(partition) SELECT generate_series(0, $1::bigint - 1)::integer",
                    &[&n],
                )
                .await
                .map_err(pg)?;
            }
            tx.execute("UPDATE journey_schema SET version = $1", &[&(i as i32 + 1)]).await.map_err(pg)?;
        }
        let n: i64 = tx.query_one("SELECT value FROM meta WHERE key = 'partitions'", &[]).await.map_err(pg)?.get(0);
        tx.commit().await.map_err(pg)?;
        if let Some(asked) = partitions {
            if i64::from(asked) != n {
                return Err(StoreError(format!(
                    "the database {} was made with {n} partitions: --partitions {asked} cannot change that \
                     (leave --partitions out, or make a new database)",
                    self.shown
                )));
            }
        }
        Ok(n as u32)
    }

    /// The partition of an entry, or `None` for one every partition applies.
    fn partition_of(&self, e: &NewEntry) -> Result<Option<i32>> {
        match &e.key {
            Some(k) => Ok(Some(journey_vm::engine::shard_of(k, self.partitions) as i32)),
            // A business event too: each partition starts its own members of the audience.
            None => Ok(None),
        }
    }

    /// Appends entries in one transaction, in order, each to its partition (to all, for an
    /// entry without a key); a repeated client id is not appended again. Also returns the
    /// partitions written.
    pub fn append(&self, entries: &[NewEntry]) -> Result<(Vec<Appended>, Vec<u32>)> {
        self.run(async {
            let client = self.client().await?;
            append_pipelined(self, &client, &entries.iter().collect::<Vec<_>>()).await
        })
    }

    /// Appends as [`Pg::append`], in up to [`LANES`] transactions committed at the same time,
    /// each on a connection of its own, each holding the entries of its partitions (in order).
    /// A transaction locks only its own partitions' rows: two nodes' groups wait on each other
    /// only lane by lane, and the database works on the lanes of one group side by side.
    ///
    /// Returns each entry's outcome, `None` where its lane failed (with the first failure). A
    /// group with an entry for every partition (publish, close, stop), or of fewer than
    /// [`LANE_MIN`] entries, is one transaction, as [`Pg::append`].
    pub fn append_lanes(&self, entries: &[NewEntry]) -> Result<(Vec<Option<Appended>>, Option<StoreError>)> {
        let whole = |entries: &[NewEntry]| -> Result<(Vec<Option<Appended>>, Option<StoreError>)> {
            let (out, _) = self.append(entries)?;
            Ok((out.into_iter().map(Some).collect(), None))
        };
        if entries.len() < LANE_MIN {
            return whole(entries);
        }
        let mut lanes: Vec<Vec<usize>> = vec![Vec::new(); LANES];
        // A client id given twice in the group, in two lanes, is stored by the first: the later
        // one is its duplicate (two lanes inserting it would wait on each other, then fail on
        // the unique id). Within one lane the transaction finds it itself.
        // A fast hash: one look-up per entry of every group, on ids the clients chose.
        let mut first: HashMap<&str, (usize, usize), foldhash::fast::RandomState> = HashMap::default();
        let mut copy_of: Vec<Option<usize>> = vec![None; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            let Some(p) = self.partition_of(e)? else { return whole(entries) };
            let lane = p as usize % LANES;
            if let Some(id) = e.client_id.as_deref() {
                match first.get(id) {
                    Some(&(f, other)) if other != lane => {
                        copy_of[i] = Some(f);
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        first.insert(id, (i, lane));
                    }
                }
            }
            lanes[lane].push(i);
        }
        let done = self.run(async {
            let work = lanes.into_iter().filter(|l| !l.is_empty()).map(|mine| async move {
                let batch: Vec<&NewEntry> = mine.iter().map(|&i| &entries[i]).collect();
                let out = async {
                    let client = self.client().await?;
                    append_pipelined(self, &client, &batch).await
                }
                .await;
                (mine, out)
            });
            futures::future::join_all(work).await
        });
        let mut out: Vec<Option<Appended>> = vec![None; entries.len()];
        let mut failed = None;
        for (mine, result) in done {
            match result {
                Ok((appended, _)) => {
                    for (i, a) in mine.into_iter().zip(appended) {
                        out[i] = Some(a);
                    }
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        for (i, f) in copy_of.into_iter().enumerate() {
            if let Some(f) = f {
                out[i] = out[f].map(|(Appended::New(s) | Appended::Duplicate(s))| Appended::Duplicate(s));
            }
        }
        Ok((out, failed))
    }

    /// Stores `artifact` as the next version and, when `first` and none was stored yet, logs
    /// its publication in every partition in the same transaction; returns the version, or
    /// `None` when `first` and a version was there (another node published it).
    pub fn store_version(&self, artifact: &[u8], at_ms: i64, first: bool) -> Result<Option<u32>> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            tx.batch_execute("SELECT pg_advisory_xact_lock(7283946502)").await.map_err(pg)?;
            let last: Option<i32> = tx.query_one("SELECT max(version) FROM versions", &[]).await.map_err(pg)?.get(0);
            if first && last.is_some() {
                return Ok(None);
            }
            let version = last.unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO versions(version, artifact, published_ms) VALUES ($1, $2, $3)",
                &[&version, &artifact, &at_ms],
            )
            .await
            .map_err(pg)?;
            if first {
                let publish =
                    NewEntry::new(None, at_ms, &LogKind::Publish { version: version as u32, journeys: Vec::new() })?;
                append_in(self, &tx, &[&publish]).await?;
            }
            tx.commit().await.map_err(pg)?;
            Ok(Some(version as u32))
        })
    }

    /// Every published version, oldest first.
    pub fn versions(&self) -> Result<Vec<VersionRow>> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query("SELECT version, artifact, published_ms FROM versions ORDER BY version", &[])
                .await
                .map_err(pg)?;
            Ok(rows
                .iter()
                .map(|r| VersionRow { version: r.get::<_, i32>(0) as u32, artifact: r.get(1), published_ms: r.get(2) })
                .collect())
        })
    }

    /// The newest version's number (0 when none).
    pub fn last_version(&self) -> Result<u32> {
        self.run(async {
            let client = self.client().await?;
            let stmt = client.prepare_cached("SELECT coalesce(max(version), 0) FROM versions").await.map_err(pg)?;
            Ok(client.query_one(&stmt, &[]).await.map_err(pg)?.get::<_, i32>(0) as u32)
        })
    }
}

/// Locks the partitions a group touches, in the partitions' order (so that two nodes' groups
/// never wait on each other in a circle): each partition's positions are then handed out, and
/// committed, in order.
const LOCK_PARTITIONS: &str =
    "SELECT partition, last_seq FROM partitions WHERE partition = ANY($1) ORDER BY partition FOR UPDATE";
/// The client ids of a group already logged. Run once the partitions are locked, so that a
/// concurrent group with the same id has committed (and is seen) or waits for this one.
const FIND_IDS: &str = "SELECT client_id, seq FROM log WHERE client_id = ANY($1)";
const INSERT_LOG: &str = "INSERT INTO log(partition, seq, client_id, at_ms, kind)
     SELECT * FROM unnest($1::integer[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])";
const MOVE_ENDS: &str = "UPDATE partitions p SET last_seq = c.last, events = p.events + c.events
     FROM unnest($1::integer[], $2::bigint[], $3::bigint[]) AS c(partition, last, events)
     WHERE p.partition = c.partition";

/// A group of entries to append: each one's partition (`None`: every partition) and the
/// partitions touched, in order.
struct Group<'a> {
    entries: &'a [&'a NewEntry],
    targets: Vec<Option<i32>>,
    touched: Vec<i32>,
    ids: Vec<&'a str>,
}

/// What a group writes: the log rows, and each touched partition's new end and event count.
#[derive(Default)]
struct GroupRows<'a> {
    parts: Vec<i32>,
    seqs: Vec<i64>,
    cids: Vec<Option<&'a str>>,
    ats: Vec<i64>,
    kinds: Vec<&'a str>,
    ends: (Vec<i32>, Vec<i64>, Vec<i64>),
}

impl<'a> Group<'a> {
    fn new(pg_: &Pg, entries: &'a [&'a NewEntry]) -> Result<Group<'a>> {
        let mut targets = Vec::with_capacity(entries.len());
        let mut touched = std::collections::BTreeSet::new();
        for e in entries {
            let p = pg_.partition_of(e)?;
            match p {
                Some(p) => {
                    touched.insert(p);
                }
                None => touched.extend(0..pg_.partitions as i32),
            }
            targets.push(p);
        }
        let ids = entries.iter().filter_map(|e| e.client_id.as_deref()).collect();
        Ok(Group { entries, targets, touched: touched.into_iter().collect(), ids })
    }

    /// Each entry's outcome and the rows to write, given the locked partitions' ends and the
    /// client ids already logged.
    fn rows(
        &self,
        pg_: &Pg,
        locked: Vec<tokio_postgres::Row>,
        found: Vec<tokio_postgres::Row>,
    ) -> (Vec<Appended>, GroupRows<'a>) {
        let mut last: HashMap<i32, i64> = locked.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut known: HashMap<&str, i64, foldhash::fast::RandomState> =
            found.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut out = Vec::with_capacity(self.entries.len());
        let mut rows = GroupRows::default();
        let mut events: BTreeMap<i32, i64> = BTreeMap::new();
        for (e, target) in self.entries.iter().zip(&self.targets) {
            if let Some(seq) = e.client_id.as_deref().and_then(|id| known.get(id)) {
                out.push(Appended::Duplicate(*seq));
                continue;
            }
            let all: Vec<i32> = match target {
                Some(p) => vec![*p],
                None => (0..pg_.partitions as i32).collect(),
            };
            let mut first = None;
            for (i, p) in all.into_iter().enumerate() {
                let seq = last.entry(p).or_insert(0);
                *seq += 1;
                first.get_or_insert(*seq);
                rows.parts.push(p);
                rows.seqs.push(*seq);
                // A client id is unique in the whole log: it goes with the first copy only.
                rows.cids.push(if i == 0 { e.client_id.as_deref() } else { None });
                rows.ats.push(e.at_ms);
                rows.kinds.push(e.kind.as_str());
                // An event copied to every partition (a business event) counts once.
                if e.event && i == 0 {
                    *events.entry(p).or_default() += 1;
                }
            }
            if let (Some(id), Some(seq)) = (e.client_id.as_deref(), first) {
                known.insert(id, seq);
            }
            out.push(Appended::New(first.unwrap_or(0)));
        }
        for p in &self.touched {
            rows.ends.0.push(*p);
            rows.ends.1.push(last.get(p).copied().unwrap_or(0));
            rows.ends.2.push(events.get(p).copied().unwrap_or(0));
        }
        (out, rows)
    }

    fn written(&self) -> Vec<u32> {
        self.touched.iter().map(|p| *p as u32).collect()
    }
}

/// Appends within `tx` (see [`Pg::append`]).
async fn append_in(
    pg_: &Pg,
    tx: &deadpool_postgres::Transaction<'_>,
    entries: &[&NewEntry],
) -> Result<(Vec<Appended>, Vec<u32>)> {
    let group = Group::new(pg_, entries)?;
    let lock = tx.prepare_cached(LOCK_PARTITIONS).await.map_err(pg)?;
    let locked = tx.query(&lock, &[&group.touched]).await.map_err(pg)?;
    let found = if group.ids.is_empty() {
        Vec::new()
    } else {
        let find = tx.prepare_cached(FIND_IDS).await.map_err(pg)?;
        tx.query(&find, &[&group.ids]).await.map_err(pg)?
    };
    let (out, rows) = group.rows(pg_, locked, found);
    if !rows.parts.is_empty() {
        let insert = tx.prepare_cached(INSERT_LOG).await.map_err(pg)?;
        let update = tx.prepare_cached(MOVE_ENDS).await.map_err(pg)?;
        let log: [&(dyn ToSql + Sync); 5] = [&rows.parts, &rows.seqs, &rows.cids, &rows.ats, &rows.kinds];
        let ends: [&(dyn ToSql + Sync); 3] = [&rows.ends.0, &rows.ends.1, &rows.ends.2];
        futures::try_join!(tx.execute(&insert, &log), tx.execute(&update, &ends)).map_err(pg)?;
    }
    Ok((out, group.written()))
}

/// Appends `entries` in one transaction of its own on `client`, in two round trips: the
/// transaction's start, the partitions' locks and the look-up of the client ids are sent
/// together; then the rows, the partitions' new ends and the commit. The connection runs what
/// it is sent in order, so each step still runs after the one before it (the look-up once the
/// locks are held); a statement that fails aborts the transaction, and the commit sent behind
/// it then rolls it back, so an entry is answered stored only when all three succeeded.
///
/// Client ids are looked up only when a row's id turns out taken: most ids are new, and the
/// unique index on them refuses a repeated one anyway (after waiting for a concurrent group
/// that holds it to commit). Then the transaction is rolled back and run again with the look-up,
/// which answers those entries "duplicate".
async fn append_pipelined(
    pg_: &Pg,
    client: &deadpool_postgres::Client,
    entries: &[&NewEntry],
) -> Result<(Vec<Appended>, Vec<u32>)> {
    match append_once(pg_, client, entries, false).await {
        Err(e) if e.0.starts_with(ID_TAKEN) => append_once(pg_, client, entries, true).await,
        other => other,
    }
}

/// Marks the error of an append that found a client id already logged (see
/// [`append_pipelined`]).
const ID_TAKEN: &str = "a client id is logged already";

/// One try of [`append_pipelined`], looking the group's client ids up first or not.
async fn append_once(
    pg_: &Pg,
    client: &deadpool_postgres::Client,
    entries: &[&NewEntry],
    look_up: bool,
) -> Result<(Vec<Appended>, Vec<u32>)> {
    let group = Group::new(pg_, entries)?;
    let lock = client.prepare_cached(LOCK_PARTITIONS).await.map_err(pg)?;
    let find = client.prepare_cached(FIND_IDS).await.map_err(pg)?;
    let insert = client.prepare_cached(INSERT_LOG).await.map_err(pg)?;
    let update = client.prepare_cached(MOVE_ENDS).await.map_err(pg)?;
    let c: &tokio_postgres::Client = client;
    let result = async {
        let (touched, ids): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) = ([&group.touched], [&group.ids]);
        let (begun, locked, found) = futures::join!(c.batch_execute("BEGIN"), c.query(&lock, &touched), async {
            if group.ids.is_empty() || !look_up {
                Ok(Vec::new())
            } else {
                c.query(&find, &ids).await
            }
        });
        begun.map_err(pg)?;
        let (out, rows) = group.rows(pg_, locked.map_err(pg)?, found.map_err(pg)?);
        if rows.parts.is_empty() {
            c.batch_execute("COMMIT").await.map_err(pg)?;
        } else {
            let log: [&(dyn ToSql + Sync); 5] = [&rows.parts, &rows.seqs, &rows.cids, &rows.ats, &rows.kinds];
            let ends: [&(dyn ToSql + Sync); 3] = [&rows.ends.0, &rows.ends.1, &rows.ends.2];
            let (inserted, moved, committed) =
                futures::join!(c.execute(&insert, &log), c.execute(&update, &ends), c.batch_execute("COMMIT"));
            inserted.map_err(|e| {
                let taken = e.as_db_error().is_some_and(|d| d.constraint() == Some("log_client_id_key"));
                if taken && !look_up {
                    StoreError(format!("{ID_TAKEN}: {e}"))
                } else {
                    pg(e)
                }
            })?;
            moved.map_err(pg)?;
            committed.map_err(pg)?;
        }
        Ok(out)
    }
    .await;
    match result {
        Ok(out) => Ok((out, group.written())),
        Err(e) => {
            // Not left in a transaction for the pool's next user (after a failed commit, or
            // once the connection is gone, there is nothing to roll back).
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("cannot encode: {e}")))
}

fn bin<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| StoreError(format!("cannot encode: {e}")))
}

/// Decodes a stored instance or call.
pub fn unbin<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|e| StoreError(format!("stored data is damaged: {e}")))
}

fn unjson<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError(format!("stored data is damaged: {e}")))
}

/// Writes one engine's message log changes and its live instances' messages for partition `p`
/// (in the checkpoint's transaction).
/// Deletes the rows of engine `v` of partition `p` in `table` whose `key` is one of `keys`.
async fn delete_keys<K: ToSql + Sync>(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    key: &str,
    (p, v): (i32, i32),
    keys: &[K],
) -> Result<()> {
    let sql = format!("DELETE FROM {table} WHERE partition = $1 AND version = $2 AND {key} = ANY($3)");
    let del = tx.prepare_cached(&sql).await.map_err(pg)?;
    tx.execute(&del, &[&p, &v, &keys]).await.map_err(pg)?;
    Ok(())
}

/// Writes each of `keys` with its encoded `data` in column `col` of `table` (a row per engine
/// `v` of partition `p` and key, of SQL type `key_type`), replacing what was there.
async fn put_blobs<K: ToSql + Sync>(
    tx: &deadpool_postgres::Transaction<'_>,
    (table, key, key_type, col): (&str, &str, &str, &str),
    (p, v): (i32, i32),
    keys: &[K],
    data: &[Vec<u8>],
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table}(partition, version, {key}, {col})
         SELECT $1, $2, * FROM unnest($3::{key_type}[], $4::bytea[])
         ON CONFLICT (partition, version, {key}) DO UPDATE SET {col} = excluded.{col}"
    );
    let put = tx.prepare_cached(&sql).await.map_err(pg)?;
    tx.execute(&put, &[&p, &v, &keys, &data]).await.map_err(pg)?;
    Ok(())
}

async fn write_messages(tx: &deadpool_postgres::Transaction<'_>, p: i32, e: &EngineDelta) -> Result<()> {
    let v = e.version as i32;
    if !e.messages.is_empty() {
        let writes = super::fold_messages(&e.messages);
        let (whole, updates): (Vec<_>, Vec<_>) = writes.iter().partition(|w| w.record.is_some());
        if !whole.is_empty() {
            let records: Vec<(&MessageWrite<'_>, &journey_vm::engine::messages::MessageRecord)> =
                whole.iter().filter_map(|w| Some((*w, w.record?))).collect();
            let ids: Vec<&str> = records.iter().map(|(_, r)| r.id.as_str()).collect();
            let profiles: Vec<&str> = records.iter().map(|(_, r)| r.profile.as_str()).collect();
            let journeys: Vec<&str> = records.iter().map(|(_, r)| r.journey.as_str()).collect();
            let instances: Vec<i64> = records.iter().map(|(_, r)| r.instance as i64).collect();
            let nodes: Vec<i64> = records.iter().map(|(_, r)| i64::from(r.node)).collect();
            let channels: Vec<&str> = records.iter().map(|(_, r)| r.channel.as_str()).collect();
            let templates: Vec<&str> = records.iter().map(|(_, r)| r.template.as_str()).collect();
            let addresses: Vec<Option<&str>> = records.iter().map(|(_, r)| r.to.as_deref()).collect();
            let categories: Vec<&str> = records.iter().map(|(_, r)| r.category).collect();
            let outcomes: Vec<&str> = records.iter().map(|(w, _)| w.outcome().unwrap_or_default()).collect();
            let times: Vec<i64> = records.iter().map(|(_, r)| r.at_ms).collect();
            let opened: Vec<bool> = records.iter().map(|(w, _)| w.opened).collect();
            let clicked: Vec<bool> = records.iter().map(|(w, _)| w.clicked).collect();
            let put = tx
                .prepare_cached(
                    "INSERT INTO messages(partition, version, id, profile, journey, instance, node, channel, template,
                       address, category, outcome, at_ms, opened, clicked)
                     SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::boolean[],
                       $15::boolean[])
                     ON CONFLICT (partition, id) DO UPDATE SET profile = excluded.profile, journey = excluded.journey,
                       version = excluded.version, instance = excluded.instance, node = excluded.node,
                       channel = excluded.channel, template = excluded.template, address = excluded.address,
                       category = excluded.category, outcome = excluded.outcome, at_ms = excluded.at_ms,
                       opened = messages.opened OR excluded.opened, clicked = messages.clicked OR excluded.clicked",
                )
                .await
                .map_err(pg)?;
            tx.execute(
                &put,
                &[
                    &p,
                    &v,
                    &ids,
                    &profiles,
                    &journeys,
                    &instances,
                    &nodes,
                    &channels,
                    &templates,
                    &addresses,
                    &categories,
                    &outcomes,
                    &times,
                    &opened,
                    &clicked,
                ],
            )
            .await
            .map_err(pg)?;
        }
        if !updates.is_empty() {
            let ids: Vec<&str> = updates.iter().map(|w| w.id).collect();
            let outcomes: Vec<Option<&str>> = updates.iter().map(|w| w.outcome).collect();
            let opened: Vec<bool> = updates.iter().map(|w| w.opened).collect();
            let clicked: Vec<bool> = updates.iter().map(|w| w.clicked).collect();
            let update = tx
                .prepare_cached(
                    "UPDATE messages m SET outcome = coalesce(c.outcome, m.outcome), opened = m.opened OR c.opened,
                       clicked = m.clicked OR c.clicked
                     FROM unnest($2::text[], $3::text[], $4::boolean[], $5::boolean[]) AS c(id, outcome, opened, clicked)
                     WHERE m.partition = $1 AND m.id = c.id",
                )
                .await
                .map_err(pg)?;
            tx.execute(&update, &[&p, &ids, &outcomes, &opened, &clicked]).await.map_err(pg)?;
        }
    }
    if !e.instance_messages_done.is_empty() {
        let ids: Vec<i64> = e.instance_messages_done.iter().map(|i| *i as i64).collect();
        delete_keys(tx, "message_live", "instance", (p, v), &ids).await?;
    }
    if !e.instance_messages.is_empty() {
        let mut by_id: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
        for (id, m) in &e.instance_messages {
            by_id.insert(*id as i64, bin(m)?);
        }
        let (ids, data): (Vec<i64>, Vec<Vec<u8>>) = by_id.into_iter().unzip();
        put_blobs(tx, ("message_live", "instance", "bigint", "data"), (p, v), &ids, &data).await?;
    }
    if !e.goals.is_empty() {
        let mut gone: Vec<&str> = Vec::new();
        let mut kept: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for (profile, watches) in &e.goals {
            if watches.is_empty() {
                kept.remove(profile.as_str());
                gone.push(profile);
            } else {
                kept.insert(profile, bin(watches)?);
            }
        }
        delete_keys(tx, "goal_watches", "profile", (p, v), &gone).await?;
        let (profiles, data): (Vec<&str>, Vec<Vec<u8>>) = kept.into_iter().unzip();
        put_blobs(tx, ("goal_watches", "profile", "text", "data"), (p, v), &profiles, &data).await?;
    }
    Ok(())
}

/// How long PostgreSQL lets one of the node's transactions sit idle before ending it.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

/// The prefix of the error of a checkpoint refused because the lease is lost.
pub const LEASE_LOST: &str = "the partition's lease is lost";

/// One partition of the store, as the node holding its lease (`token`) sees it: the [`Store`]
/// its worker applies and checkpoints through.
pub struct PgPartition {
    pg: Arc<Pg>,
    partition: i32,
    owner: String,
    token: i64,
    /// Set when a write found the lease lost (the node stops the worker).
    pub lost: Arc<AtomicBool>,
}

impl PgPartition {
    /// Partition `partition` as held by `owner` under fencing token `token`.
    pub fn new(pg: Arc<Pg>, partition: u32, owner: &str, token: i64) -> PgPartition {
        PgPartition { pg, partition: partition as i32, owner: owner.to_string(), token, lost: Arc::default() }
    }

    /// Passes a write's `result` on, noting a lease found lost (the node then stops the worker).
    fn noting_lost_lease(&self, result: Result<()>) -> Result<()> {
        if result.as_ref().is_err_and(|e| e.0.starts_with(LEASE_LOST)) {
            self.lost.store(true, Relaxed);
        }
        result
    }
}

impl Store for PgPartition {
    fn append(&mut self, entries: &[NewEntry]) -> Result<Vec<Appended>> {
        self.pg.append(entries).map(|(a, _)| a)
    }

    fn entries_after(&mut self, seq: i64, limit: usize) -> Result<Vec<Entry>> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT seq, at_ms, kind FROM log WHERE partition = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .await
                .map_err(pg)?;
            let rows = client.query(&stmt, &[&p, &seq, &(limit as i64)]).await.map_err(pg)?;
            Ok(rows.iter().map(|r| Entry { seq: r.get(0), at_ms: r.get(1), kind: r.get(2) }).collect())
        })
    }

    fn save_version(&mut self, _version: u32, artifact: &[u8], published_ms: i64) -> Result<()> {
        self.pg.store_version(artifact, published_ms, false).map(|_| ())
    }

    fn versions(&mut self) -> Result<Vec<VersionRow>> {
        self.pg.versions()
    }

    fn checkpoint(&mut self, cp: &Checkpoint) -> Result<()> {
        let (pg_, p) = (&self.pg, self.partition);
        let result = pg_.run(async {
            let mut client = pg_.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            // A checkpoint is derived from the log, which is committed durably: its commit need
            // not wait for the disk (as on SQLite). After a crash of the database the last ones
            // may be missing, and the log after the last one kept is replayed.
            tx.batch_execute("SET LOCAL synchronous_commit = off").await.map_err(pg)?;
            // The fence: the lease must still be this node's, under the same token, and not
            // run out; the row stays locked until the commit, so no takeover slips between.
            let fence = tx
                .prepare_cached(
                    "UPDATE leases SET applied_seq = $4 WHERE partition = $1 AND owner = $2 AND token = $3
                     AND lease_until > now()",
                )
                .await
                .map_err(pg)?;
            if tx.execute(&fence, &[&p, &self.owner, &self.token, &cp.applied_seq]).await.map_err(pg)? != 1 {
                return Err(StoreError(format!("{LEASE_LOST} (partition {p}, token {})", self.token)));
            }
            // Every write is sent at once (the connection runs them in order, one round trip
            // for all); they are sent only once the fence has passed, and committed only if all
            // succeeded (a failed one drops the transaction, which rolls it back).
            let t = &tx;
            let mut writes: Vec<futures::future::LocalBoxFuture<'_, Result<()>>> = Vec::new();
            for e in &cp.engines {
                let v = e.version as i32;
                if !e.upserts.is_empty() {
                    writes.push(Box::pin(async move {
                        let ids: Vec<i64> = e.upserts.iter().map(|i| i.id as i64).collect();
                        let data = e.upserts.iter().map(bin).collect::<Result<Vec<_>>>()?;
                        put_blobs(t, ("instances", "id", "bigint", "data"), (p, v), &ids, &data).await?;
                        Ok(())
                    }));
                }
                if !e.created.is_empty() {
                    // New rows: a plain insert costs the database about half an upsert's work.
                    writes.push(Box::pin(async move {
                        let ids: Vec<i64> = e.created.iter().map(|i| i.id as i64).collect();
                        let data = e.created.iter().map(bin).collect::<Result<Vec<_>>>()?;
                        let put = t
                            .prepare_cached(
                                "INSERT INTO instances(partition, version, id, data)
                                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[])",
                            )
                            .await
                            .map_err(pg)?;
                        t.execute(&put, &[&p, &v, &ids, &data]).await.map_err(pg)?;
                        Ok(())
                    }));
                }
                if !e.removed.is_empty() {
                    writes.push(Box::pin(async move {
                        let ids: Vec<i64> = e.removed.iter().map(|i| *i as i64).collect();
                        delete_keys(t, "instances", "id", (p, v), &ids).await?;
                        Ok(())
                    }));
                }
                if !e.calls_done.is_empty() {
                    writes.push(Box::pin(async move {
                        let ids: Vec<i64> = e.calls_done.iter().map(|i| *i as i64).collect();
                        delete_keys(t, "calls", "instance", (p, v), &ids).await?;
                        Ok(())
                    }));
                }
                if !e.calls.is_empty() {
                    writes.push(Box::pin(async move {
                        let mut by_id: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
                        for c in &e.calls {
                            by_id.insert(c.instance as i64, bin(c)?);
                        }
                        let (ids, data): (Vec<i64>, Vec<Vec<u8>>) = by_id.into_iter().unzip();
                        put_blobs(t, ("calls", "instance", "bigint", "request"), (p, v), &ids, &data).await?;
                        Ok(())
                    }));
                }
                if !e.entries.is_empty() {
                    writes.push(Box::pin(async move {
                        let mut rows: BTreeMap<(&str, &str), i64> = BTreeMap::new();
                        for (profile, journey, ms) in &e.entries {
                            rows.insert((profile, journey), *ms);
                        }
                        let mut profiles = Vec::with_capacity(rows.len());
                        let mut journeys = Vec::with_capacity(rows.len());
                        let mut ms = Vec::with_capacity(rows.len());
                        for ((profile, journey), at) in rows {
                            profiles.push(profile);
                            journeys.push(journey);
                            ms.push(at);
                        }
                        let put = t
                            .prepare_cached(
                                "INSERT INTO entries(partition, version, profile, journey, last_ms)
                                 SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[])
                                 ON CONFLICT (partition, version, profile, journey) DO UPDATE SET last_ms = excluded.last_ms",
                            )
                            .await
                            .map_err(pg)?;
                        t.execute(&put, &[&p, &v, &profiles, &journeys, &ms]).await.map_err(pg)?;
                        Ok(())
                    }));
                }
                writes.push(Box::pin(async move {
                    let state = t
                        .prepare_cached(
                            "INSERT INTO engine_state(partition, version, small, report) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (partition, version) DO UPDATE SET small = excluded.small, report = excluded.report",
                        )
                        .await
                        .map_err(pg)?;
                    t.execute(&state, &[&p, &v, &json(&e.small)?, &json(&e.report)?]).await.map_err(pg)?;
                    write_messages(t, p, e).await
                }));
            }
            if !cp.profiles.is_empty() {
                writes.push(Box::pin(async move {
                    // Several versions may write one profile: the last one written counts.
                    let mut rows: BTreeMap<&str, String> = BTreeMap::new();
                    for (k, v) in &cp.profiles {
                        rows.insert(k, json(v)?);
                    }
                    let (keys, values): (Vec<&str>, Vec<String>) = rows.into_iter().unzip();
                    let put = t
                        .prepare_cached(
                            "INSERT INTO profiles(partition, key, value) SELECT $1, * FROM unnest($2::text[], $3::text[])
                             ON CONFLICT (partition, key) DO UPDATE SET value = excluded.value",
                        )
                        .await
                        .map_err(pg)?;
                    t.execute(&put, &[&p, &keys, &values]).await.map_err(pg)?;
                    Ok(())
                }));
            }
            if let Some(members) = &cp.audiences {
                writes.push(Box::pin(async move {
                    t.execute("DELETE FROM audiences WHERE partition = $1", &[&p]).await.map_err(pg)?;
                    let (audiences, keys): (Vec<&str>, Vec<&str>) =
                        members.iter().map(|(a, k)| (a.as_str(), k.as_str())).unzip();
                    let put = t
                        .prepare_cached(
                            "INSERT INTO audiences(partition, audience, key) SELECT $1, * FROM unnest($2::text[], $3::text[])",
                        )
                        .await
                        .map_err(pg)?;
                    t.execute(&put, &[&p, &audiences, &keys]).await.map_err(pg)?;
                    Ok(())
                }));
            }
            if !cp.steps.is_empty() {
                writes.push(Box::pin(async move {
                    let data = cp.steps.iter().map(|(v, s)| super::step_row(*v, s)).collect::<Result<Vec<_>>>()?;
                    let put = t
                        .prepare_cached("INSERT INTO steps(partition, data) SELECT $1, unnest($2::text[])")
                        .await
                        .map_err(pg)?;
                    t.execute(&put, &[&p, &data]).await.map_err(pg)?;
                    Ok(())
                }));
            }
            futures::future::try_join_all(writes).await?;
            tx.commit().await.map_err(pg)?;
            Ok(())
        });
        self.noting_lost_lease(result)
    }

    fn recent_steps(&mut self, limit: usize) -> Result<Vec<(u32, serde_json::Value)>> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let rows = client
                .query("SELECT data FROM steps WHERE partition = $1 ORDER BY id DESC LIMIT $2", &[&p, &(limit as i64)])
                .await
                .map_err(pg)?;
            let mut out: Vec<_> = rows.iter().filter_map(|r| super::step_from_row(r.get(0))).collect();
            out.reverse();
            Ok(out)
        })
    }

    fn applied_seq(&mut self) -> Result<i64> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let row =
                client.query_one("SELECT applied_seq FROM leases WHERE partition = $1", &[&p]).await.map_err(pg)?;
            Ok(row.get(0))
        })
    }

    fn origins_from(&mut self) -> Result<i64> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let row = client
                .query_one("SELECT origins_from FROM partitions WHERE partition = $1", &[&p])
                .await
                .map_err(pg)?;
            Ok(row.get(0))
        })
    }

    fn load_engine(&mut self, version: u32, journey_names: &[String]) -> Result<Stored> {
        let (pg_, p, v) = (&self.pg, self.partition, version as i32);
        pg_.run(async {
            let client = pg_.client().await?;
            let mut stored = Stored::default();
            if let Some(row) = client
                .query_opt("SELECT small, report FROM engine_state WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                stored.small = unjson(row.get::<_, &str>(0))?;
                stored.report = Some(unjson(row.get::<_, &str>(1))?);
            }
            for row in client
                .query("SELECT data FROM instances WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                stored.instances.push(super::decode_instance(row.get::<_, &[u8]>(0))?);
            }
            for row in client
                .query("SELECT request FROM calls WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                stored.pending.push(super::decode_call(row.get::<_, &[u8]>(0))?);
            }
            for row in client
                .query("SELECT profile, journey, last_ms FROM entries WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                if let Some(i) = journey_names.iter().position(|n| n == row.get::<_, &str>(1)) {
                    stored.entries.push((row.get(0), i as u16, row.get(2)));
                }
            }
            for row in client
                .query("SELECT instance, data FROM message_live WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                let id = row.get::<_, i64>(0) as u64;
                let m: journey_vm::engine::messages::InstanceMessages = unbin(row.get::<_, &[u8]>(1))?;
                let state = stored.messages.get_or_insert_with(Default::default);
                if !m.live.is_empty() {
                    state.live.insert(id, m.live);
                }
                if let Some(node) = m.queued {
                    state.queued.insert(id, node);
                }
            }
            for row in client
                .query("SELECT profile, data FROM goal_watches WHERE partition = $1 AND version = $2", &[&p, &v])
                .await
                .map_err(pg)?
            {
                let state = stored.messages.get_or_insert_with(Default::default);
                state.goals.insert(row.get::<_, &str>(0).into(), unbin(row.get::<_, &[u8]>(1))?);
            }
            for row in client.query("SELECT key, value FROM profiles WHERE partition = $1", &[&p]).await.map_err(pg)? {
                stored.profiles.push((row.get(0), unjson(row.get::<_, &str>(1))?));
            }
            for row in client
                .query("SELECT audience, key FROM audiences WHERE partition = $1 ORDER BY audience, key", &[&p])
                .await
                .map_err(pg)?
            {
                stored.audiences.push((row.get(0), row.get(1)));
            }
            Ok(stored)
        })
    }

    fn load_frequency(&mut self, since_ms: i64) -> Result<Vec<(String, Counted)>> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let rows = client
                .query(
                    "SELECT profile, at_ms, channel, id FROM messages WHERE partition = $1 AND category = 'marketing'
                     AND at_ms > $2 AND outcome IN ('sending', 'sent') ORDER BY at_ms",
                    &[&p, &since_ms],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get(0), super::counted(r.get(1), r.get(2), r.get(3)))).collect())
        })
    }

    fn profile_messages(&mut self, key: &str) -> Result<Vec<StoredMessage>> {
        self.pg.profile_messages(key)
    }

    fn load_sending(&mut self, since_ms: i64) -> Result<Vec<(String, String)>> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let rows = client
                .query(
                    "SELECT profile, id FROM messages WHERE partition = $1 AND category = 'marketing' AND at_ms > $2
                     AND outcome = 'sending'",
                    &[&p, &since_ms],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn write_sending(&mut self, engines: &[EngineDelta]) -> Result<()> {
        let (pg_, p) = (&self.pg, self.partition);
        let result = pg_.run(async {
            let mut client = pg_.client().await?;
            // Committed durably (the calls leave once it returns), under the lease's fence as a
            // checkpoint is: a node past its lease decides nothing more.
            let tx = client.transaction().await.map_err(pg)?;
            let fence = tx
                .prepare_cached(
                    "SELECT 1 FROM leases WHERE partition = $1 AND owner = $2 AND token = $3 AND lease_until > now()
                     FOR UPDATE",
                )
                .await
                .map_err(pg)?;
            if tx.query(&fence, &[&p, &self.owner, &self.token]).await.map_err(pg)?.len() != 1 {
                return Err(StoreError(format!("{LEASE_LOST} (partition {p}, token {})", self.token)));
            }
            for e in engines {
                write_messages(&tx, p, e).await?;
            }
            tx.commit().await.map_err(pg)?;
            Ok(())
        });
        self.noting_lost_lease(result)
    }

    fn cap_backend(&self, version: u32) -> Option<Arc<journey_vm::engine::CapBackend>> {
        let pg_ = self.pg.clone();
        Some(Arc::new(move |(journey, node), limit, instance| {
            // The engine waits for the answer; while the database is away, it asks again.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                match pg_.cap_take(version, journey, node, limit, instance) {
                    Ok(taken) => return taken,
                    Err(e) if e.is_unavailable() && std::time::Instant::now() < deadline => {
                        tracing::warn!("a cap counter cannot be read ({e}); asking again");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(e) => {
                        tracing::error!("a cap counter cannot be read ({e}); the instance takes the `else` branch");
                        return false;
                    }
                }
            }
        }))
    }

    fn counts(&mut self) -> Result<(i64, i64)> {
        let (pg_, p) = (&self.pg, self.partition);
        pg_.run(async {
            let client = pg_.client().await?;
            let row = client
                .query_one("SELECT last_seq, events FROM partitions WHERE partition = $1", &[&p])
                .await
                .map_err(pg)?;
            Ok((row.get(0), row.get(1)))
        })
    }
}

/// A partition's row as the cluster sees it.
#[derive(Debug, Clone)]
pub struct PartitionRow {
    /// Its number.
    pub partition: u32,
    /// Its log's last position.
    pub last_seq: i64,
    /// The last position its checkpoint reflects.
    pub applied_seq: i64,
    /// Events in its log.
    pub events: i64,
    /// The node holding its lease (`None` when free).
    pub owner: Option<String>,
    /// Whether the lease is still running.
    pub live: bool,
}

impl Pg {
    /// Every partition's positions and owner.
    pub fn partition_rows(&self) -> Result<Vec<PartitionRow>> {
        self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT p.partition, p.last_seq, l.applied_seq, p.events, l.owner, l.lease_until > now()
                     FROM partitions p JOIN leases l USING (partition) ORDER BY p.partition",
                )
                .await
                .map_err(pg)?;
            Ok(client
                .query(&stmt, &[])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| PartitionRow {
                    partition: r.get::<_, i32>(0) as u32,
                    last_seq: r.get(1),
                    applied_seq: r.get(2),
                    events: r.get(3),
                    owner: r.get(4),
                    live: r.get(5),
                })
                .collect())
        })
    }

    /// Takes the name `name` for the process `incarnation` (listening on `address`), unless
    /// another process's heartbeat under that name is younger than `ttl` (a process that was
    /// killed stops beating, so its name is free again a lease later).
    pub fn claim_name(&self, name: &str, address: &str, incarnation: &str, ttl: Duration) -> Result<NameClaim> {
        let ttl_ms = ttl.as_millis() as f64;
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let row = tx
                .query_opt(
                    "SELECT address, (extract(epoch FROM now() - heartbeat) * 1000)::bigint, incarnation, leaving
                     FROM nodes WHERE name = $1 FOR UPDATE",
                    &[&name],
                )
                .await
                .map_err(pg)?;
            if let Some(r) = row {
                let (other, age_ms, holder, leaving): (String, i64, String, bool) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                if holder != incarnation && !leaving && (age_ms as f64) < ttl_ms {
                    return Ok(NameClaim::Taken { address: other, age_ms });
                }
            }
            tx.execute(
                "INSERT INTO nodes(name, address, incarnation) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET heartbeat = now(), started = now(), address = excluded.address,
                   incarnation = excluded.incarnation, leaving = false",
                &[&name, &address, &incarnation],
            )
            .await
            .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(NameClaim::Claimed)
        })
    }

    /// Says that node `name`, run by the process `incarnation` (listening on `address`), is
    /// alive, for `ttl`; returns the nodes alive and not leaving, by name, or `None` when
    /// another process has taken the name (this one was away longer than a lease).
    pub fn heartbeat(
        &self,
        name: &str,
        address: &str,
        incarnation: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<String>>> {
        let ttl_ms = ttl.as_millis() as f64;
        self.run(async {
            let client = self.client().await?;
            let n = client
                .execute(
                    "INSERT INTO nodes(name, address, incarnation) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET heartbeat = now(), address = excluded.address, leaving = false
                     WHERE nodes.incarnation = excluded.incarnation",
                    &[&name, &address, &incarnation],
                )
                .await
                .map_err(pg)?;
            if n == 0 {
                return Ok(None);
            }
            let rows = client
                .query(
                    "SELECT name FROM nodes WHERE NOT leaving AND heartbeat > now() - make_interval(secs => $1::float8 / 1000.0)
                     ORDER BY name",
                    &[&ttl_ms],
                )
                .await
                .map_err(pg)?;
            Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
        })
    }

    /// Renews every lease `name` holds for `ttl`; returns them with their tokens.
    pub fn renew(&self, name: &str, ttl: Duration) -> Result<Vec<(u32, i64)>> {
        let ttl_ms = ttl.as_millis() as f64;
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "UPDATE leases SET lease_until = now() + make_interval(secs => $2::float8 / 1000.0)
                     WHERE owner = $1 AND lease_until > now() RETURNING partition, token",
                    &[&name, &ttl_ms],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get::<_, i32>(0) as u32, r.get(1))).collect())
        })
    }

    /// Takes up to `n` partitions that nobody holds (free, or whose lease ran out), for `ttl`,
    /// each under a new fencing token; returns them with their tokens.
    pub fn acquire(&self, name: &str, n: usize, ttl: Duration) -> Result<Vec<(u32, i64)>> {
        let ttl_ms = ttl.as_millis() as f64;
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "UPDATE leases SET owner = $1, token = token + 1, taken = taken + 1,
                       lease_until = now() + make_interval(secs => $3::float8 / 1000.0)
                     WHERE partition IN (SELECT partition FROM leases WHERE owner IS NULL OR lease_until <= now()
                       ORDER BY partition LIMIT $2 FOR UPDATE SKIP LOCKED)
                     RETURNING partition, token",
                    &[&name, &(n as i64), &ttl_ms],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get::<_, i32>(0) as u32, r.get(1))).collect())
        })
    }

    /// Hands partition `partition` back (held by `name` under `token`): free at once.
    pub fn release(&self, name: &str, partition: u32, token: i64) -> Result<bool> {
        self.run(async {
            let client = self.client().await?;
            let n = client
                .execute(
                    "UPDATE leases SET owner = NULL, lease_until = 'epoch' WHERE partition = $1 AND owner = $2 AND token = $3",
                    &[&(partition as i32), &name, &token],
                )
                .await
                .map_err(pg)?;
            Ok(n == 1)
        })
    }

    /// Node `name`, run by the process `incarnation`, leaves the cluster (its partitions are
    /// released one by one first).
    pub fn leave(&self, name: &str, incarnation: &str) -> Result<()> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute("DELETE FROM nodes WHERE name = $1 AND incarnation = $2", &[&name, &incarnation])
                .await
                .map_err(pg)?;
            Ok(())
        })
    }

    /// Marks node `name` (run by `incarnation`) as leaving: the others stop counting it in
    /// their shares at once.
    pub fn leaving(&self, name: &str, incarnation: &str) -> Result<()> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute("UPDATE nodes SET leaving = true WHERE name = $1 AND incarnation = $2", &[&name, &incarnation])
                .await
                .map_err(pg)?;
            Ok(())
        })
    }

    /// Every node: name, address, whether alive (a heartbeat within `ttl`), whether leaving.
    pub fn nodes(&self, ttl: Duration) -> Result<Vec<(String, String, bool, bool)>> {
        let ttl_ms = ttl.as_millis() as f64;
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT name, address, heartbeat > now() - make_interval(secs => $1::float8 / 1000.0), leaving
                     FROM nodes ORDER BY name",
                    &[&ttl_ms],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
        })
    }

    /// Each partition's stored state of `version`: its small state and report.
    pub fn engine_states(&self, version: u32) -> Result<Vec<(u32, String, String)>> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT partition, small, report FROM engine_state WHERE version = $1 ORDER BY partition",
                    &[&(version as i32)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get::<_, i32>(0) as u32, r.get(1), r.get(2))).collect())
        })
    }

    /// The latest `limit` step events of every partition (JSON), newest first.
    pub fn recent_steps(&self, limit: i64) -> Result<Vec<String>> {
        self.run(async {
            let client = self.client().await?;
            let rows = client.query("SELECT data FROM steps ORDER BY id DESC LIMIT $1", &[&limit]).await.map_err(pg)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// The stored instances of one partition: (version, encoded instance).
    pub fn partition_instances(&self, partition: u32) -> Result<Vec<(u32, Vec<u8>)>> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT version, data FROM instances WHERE partition = $1 ORDER BY version, id",
                    &[&(partition as i32)],
                )
                .await
                .map_err(pg)?;
            Ok(rows.iter().map(|r| (r.get::<_, i32>(0) as u32, r.get(1))).collect())
        })
    }

    /// Lets instance `instance` through `cap` node `node` of `journey` in `version` if fewer than
    /// `limit` went through in the whole cluster, or if it went through before (a replay).
    pub fn cap_take(&self, version: u32, journey: u16, node: u32, limit: i64, instance: u64) -> Result<bool> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg)?;
            let (v, j, n, i) = (version as i32, i32::from(journey), i64::from(node), instance as i64);
            // One decision at a time per cap node, across the cluster.
            let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtext($1))").await.map_err(pg)?;
            tx.execute(&lock, &[&format!("journey-cap/{v}/{j}/{n}")]).await.map_err(pg)?;
            let mine = tx
                .prepare_cached(
                    "SELECT count(*), count(*) FILTER (WHERE instance = $4) FROM cap_takes
                     WHERE version = $1 AND journey = $2 AND node = $3",
                )
                .await
                .map_err(pg)?;
            let row = tx.query_one(&mine, &[&v, &j, &n, &i]).await.map_err(pg)?;
            let (count, before): (i64, i64) = (row.get(0), row.get(1));
            let taken = before > 0 || count < limit;
            if before == 0 && taken {
                tx.execute(
                    "INSERT INTO cap_takes(version, journey, node, instance) VALUES ($1, $2, $3, $4)",
                    &[&v, &j, &n, &i],
                )
                .await
                .map_err(pg)?;
            }
            tx.commit().await.map_err(pg)?;
            Ok(taken)
        })
    }

    /// A profile's messages (in its partition), oldest first.
    pub fn profile_messages(&self, key: &str) -> Result<Vec<StoredMessage>> {
        let p = journey_vm::engine::shard_of(key, self.partitions) as i32;
        self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT id, profile, journey, version, instance, node, channel, template, address, category, outcome,
                     at_ms, opened, clicked FROM messages WHERE partition = $1 AND profile = $2 ORDER BY at_ms, id",
                )
                .await
                .map_err(pg)?;
            let rows = client.query(&stmt, &[&p, &key]).await.map_err(pg)?;
            Ok(rows
                .iter()
                .map(|r| StoredMessage {
                    id: r.get(0),
                    profile: r.get(1),
                    journey: r.get(2),
                    version: r.get::<_, i32>(3) as u32,
                    instance: r.get::<_, i64>(4) as u64,
                    node: r.get::<_, i64>(5) as u32,
                    channel: r.get(6),
                    template: r.get(7),
                    to: r.get(8),
                    category: r.get(9),
                    outcome: r.get(10),
                    at_ms: r.get(11),
                    opened: r.get(12),
                    clicked: r.get(13),
                })
                .collect())
        })
    }

    /// How many instances are stored (live), in the whole cluster.
    pub fn instance_count(&self) -> Result<i64> {
        self.run(async {
            let client = self.client().await?;
            Ok(client.query_one("SELECT count(*) FROM instances", &[]).await.map_err(pg)?.get(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_postgres_are_told_from_files() {
        assert!(is_url("postgres://postgres@127.0.0.1:5432/journey"));
        assert!(is_url("postgresql://u@h/db"));
        assert!(!is_url("journey.db"));
        assert!(!is_url("/tmp/postgres.db"));
    }

    /// A database of a test's own on the local PostgreSQL, dropped at the end.
    struct TestDb {
        url: String,
        name: String,
        rt: tokio::runtime::Runtime,
    }

    const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

    impl TestDb {
        fn new(test: &str) -> TestDb {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
            let name = format!("journey_unit_{test}_{}", std::process::id());
            let db = TestDb { url: format!("{SERVER}/{name}"), name, rt };
            db.admin(&format!("DROP DATABASE IF EXISTS {0} WITH (FORCE); CREATE DATABASE {0}", db.name));
            db
        }

        fn admin(&self, sql: &str) {
            self.rt.block_on(async {
                let (client, conn) =
                    tokio_postgres::connect(&format!("{SERVER}/postgres"), NoTls).await.expect("the local PostgreSQL");
                tokio::spawn(conn);
                for one in sql.split("; ") {
                    client.batch_execute(one).await.unwrap_or_else(|e| panic!("{one}: {e}"));
                }
            });
        }

        fn pg(&self, partitions: Option<u32>) -> Result<Arc<Pg>> {
            Pg::connect(&self.url, self.rt.handle().clone(), partitions, 4)
        }

        fn exec(&self, pg_: &Pg, sql: &str) {
            pg_.run(async { pg_.client().await.expect("client").batch_execute(sql).await.expect("sql") });
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            self.admin(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }

    /// Every connection of a node asks the server to end a transaction left idle 5 s (so a node
    /// paused mid-transaction cannot keep a lease row locked past its lease).
    #[test]
    fn a_nodes_connections_end_transactions_left_idle() {
        let db = TestDb::new("idle");
        let pg_ = db.pg(Some(2)).expect("connect");
        let shown: String = pg_.run(async {
            let c = pg_.client().await.expect("client");
            c.query_one("SHOW idle_in_transaction_session_timeout", &[]).await.expect("show").get(0)
        });
        assert_eq!(shown, format!("{}s", IDLE_IN_TRANSACTION.as_secs()));
    }

    #[test]
    fn a_node_past_its_lease_writes_nothing_once_another_took_it_over() {
        let db = TestDb::new("fence");
        let pg_ = db.pg(Some(2)).expect("connect");
        let ttl = Duration::from_secs(30);
        let [(p, first)] = pg_.acquire("a", 1, ttl).expect("acquire")[..] else { panic!("one partition") };
        let mut a = PgPartition::new(pg_.clone(), p, "a", first);
        a.checkpoint(&Checkpoint { applied_seq: 1, ..Default::default() }).expect("a writes while it holds the lease");
        // A pause past the lease: it runs out, and node b takes the partition under a new token.
        db.exec(&pg_, "UPDATE leases SET lease_until = now() - interval '1 second'");
        let [(q, second)] = pg_.acquire("b", 1, ttl).expect("acquire")[..] else { panic!("one partition") };
        assert_eq!((q, second), (p, first + 1), "taken over under the next token");
        let refused = a.checkpoint(&Checkpoint { applied_seq: 7, ..Default::default() }).expect_err("fenced");
        assert!(refused.0.starts_with(LEASE_LOST), "{refused}");
        assert!(a.lost.load(Relaxed), "the worker is told");
        // Nor may it decide to send a message.
        let decided = a.write_sending(&[EngineDelta { version: 1, ..Default::default() }]).expect_err("fenced");
        assert!(decided.0.starts_with(LEASE_LOST), "{decided}");
        let mut b = PgPartition::new(pg_.clone(), p, "b", second);
        assert_eq!(b.applied_seq().expect("applied"), 1, "a's late write left nothing");
        b.checkpoint(&Checkpoint { applied_seq: 2, ..Default::default() }).expect("b writes");
        // Even with b's token, another owner cannot write.
        let mut forged = PgPartition::new(pg_.clone(), p, "a", second);
        assert!(forged.checkpoint(&Checkpoint { applied_seq: 9, ..Default::default() }).is_err());
        assert_eq!(b.applied_seq().expect("applied"), 2);
    }

    #[test]
    fn a_newer_binary_upgrades_an_older_database_and_an_older_one_refuses_a_newer() {
        let db = TestDb::new("migrate");
        let old = Pg::connect_at(&db.url, db.rt.handle().clone(), Some(3), 2, 1).expect("made at schema 1");
        let version = |pg_: &Pg| {
            pg_.run(async {
                let c = pg_.client().await.expect("client");
                c.query_one("SELECT version FROM journey_schema", &[]).await.expect("version").get::<_, i32>(0)
            })
        };
        assert_eq!(version(&old), 1);
        let new = db.pg(None).expect("upgraded");
        assert_eq!(version(&new), MIGRATIONS.len() as i32);
        assert_eq!(new.partitions, 3, "the database keeps its partitions");
        assert_eq!(new.partition_rows().expect("rows").len(), 3, "each partition has its lease");
        let again = db.pg(Some(5)).err().expect("the partitions are fixed");
        assert!(again.0.contains("was made with 3 partitions: --partitions 5 cannot change that"), "{again}");
        db.exec(&new, "UPDATE journey_schema SET version = 99");
        let refused = db.pg(None).err().expect("refused");
        let want = format!("has schema version 99, newer than this binary knows (version {})", MIGRATIONS.len());
        assert!(refused.0.contains(&want), "{refused}");
    }

    /// A database from before instances kept their entry's origin: each partition's entries up
    /// to its end then keep origin 0 on a replay (their messages keep their ids); a new
    /// database gives every entry an origin.
    #[test]
    fn entries_appended_before_origins_were_kept_replay_with_origin_zero() {
        let db = TestDb::new("origins");
        let old = Pg::connect_at(&db.url, db.rt.handle().clone(), Some(2), 2, MIGRATIONS.len() - 1).expect("schema 6");
        db.exec(&old, "UPDATE partitions SET last_seq = 40 + partition");
        let new = db.pg(None).expect("upgraded");
        for p in 0..2u32 {
            let mut part = PgPartition::new(new.clone(), p, "a", 0);
            assert_eq!(part.origins_from().expect("origins_from"), 40 + i64::from(p));
        }
        let fresh = TestDb::new("origins_fresh");
        let made = fresh.pg(Some(2)).expect("made");
        assert_eq!(PgPartition::new(made, 1, "a", 0).origins_from().expect("origins_from"), 0);
    }

    /// Nodes started together on a fresh database: each migrates under the lock, so the schema
    /// is made once (without it, two `CREATE TABLE`s race and one start fails).
    #[test]
    fn nodes_starting_together_on_a_fresh_database_migrate_it_once() {
        let db = TestDb::new("together");
        let go = std::sync::Barrier::new(6);
        let starts: Vec<Result<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        go.wait();
                        db.pg(Some(8)).map(|pg_| pg_.partitions)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        });
        for (i, start) in starts.iter().enumerate() {
            assert_eq!(start.as_ref().ok(), Some(&8), "start {i}: {start:?}");
        }
        let pg_ = db.pg(None).expect("connect");
        let rows = |sql: &str| -> Vec<i64> {
            pg_.run(async {
                let c = pg_.client().await.expect("client");
                c.query(sql, &[]).await.expect(sql).iter().map(|r| r.get::<_, i64>(0)).collect()
            })
        };
        assert_eq!(rows("SELECT version::bigint FROM journey_schema"), [MIGRATIONS.len() as i64], "one version row");
        assert_eq!(rows("SELECT value FROM meta WHERE key = 'partitions'"), [8]);
        assert_eq!(rows("SELECT count(*) FROM partitions"), [8], "each partition made once");
        assert_eq!(rows("SELECT count(*) FROM leases"), [8]);
    }

    /// The lanes of one group commit apart: when one lane's transaction fails (here a trigger
    /// refuses one partition's rows), its entries have no outcome (their requests are answered
    /// 503), and the other lanes' entries are stored.
    #[test]
    fn one_lane_failing_leaves_the_other_lanes_stored() {
        let db = TestDb::new("onelane");
        let pg_ = db.pg(Some(8)).expect("connect");
        let refused = 5u32;
        db.exec(
            &pg_,
            &format!(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                   IF NEW.partition = {refused} THEN RAISE EXCEPTION 'partition {refused} refused'; END IF;
                   RETURN NEW; END $$;
                 CREATE TRIGGER refuse BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION refuse();"
            ),
        );
        let ev = |id: &str, key: &str| NewEntry::event(Some(id.into()), 5, "Ping", "{}").keyed(key);
        let keys: Vec<String> = (0..LANE_MIN * 2).map(|i| format!("k{i}")).collect();
        let batch: Vec<NewEntry> = keys.iter().enumerate().map(|(i, k)| ev(&format!("e{i}"), k)).collect();
        let partition = |k: &str| journey_vm::engine::shard_of(k, 8);
        let lane = |k: &str| partition(k) as usize % LANES;
        assert!(keys.iter().any(|k| partition(k) == refused), "a key in the refused partition");
        let (out, failed) = pg_.append_lanes(&batch).expect("append");
        let failed = failed.expect("one lane failed");
        assert!(failed.0.contains(&format!("partition {refused} refused")), "{failed}");
        let bad_lane = refused as usize % LANES;
        for (k, a) in keys.iter().zip(&out) {
            if lane(k) == bad_lane {
                assert!(a.is_none(), "{k} in the failed lane has no outcome: {a:?}");
            } else {
                assert!(matches!(a, Some(Appended::New(_))), "{k} in another lane is stored: {a:?}");
            }
        }
        for p in 0..8u32 {
            let mut part = PgPartition::new(pg_.clone(), p, "x", 0);
            let stored = part.entries_after(0, 1_000).expect("read").len();
            let sent = keys.iter().filter(|k| partition(k) == p).count();
            let want = if p as usize % LANES == bad_lane { 0 } else { sent };
            assert_eq!(stored, want, "partition {p}");
        }
    }

    #[test]
    fn a_cap_counts_across_the_cluster_and_a_replay_decides_as_before() {
        let db = TestDb::new("cap");
        let pg_ = db.pg(Some(2)).expect("connect");
        let take = |instance| pg_.cap_take(1, 0, 3, 2, instance).expect("take");
        assert_eq!([take(1), take(66), take(3)], [true, true, false], "two through a cap of 2");
        assert!(take(66), "the same instance again (a replay) is let through again");
        assert!(!take(3), "and one refused is refused again");
        assert!(pg_.cap_take(2, 0, 3, 2, 3).expect("take"), "another version counts apart");
    }

    #[test]
    fn appends_go_to_their_partitions_in_order_once_per_client_id() {
        let db = TestDb::new("append");
        let pg_ = db.pg(Some(4)).expect("connect");
        let ev = |id: &str, key: &str| NewEntry::event(Some(id.into()), 5, "Ping", "{}").keyed(key);
        let publish = NewEntry::new(None, 1, &LogKind::Publish { version: 1, journeys: vec![] }).expect("entry");
        let (first, written) = pg_.append(&[publish, ev("a", "ann"), ev("b", "bob"), ev("a", "ann")]).expect("append");
        assert_eq!(written, [0, 1, 2, 3], "a publish goes to every partition");
        let ann = journey_vm::engine::shard_of("ann", 4);
        assert_eq!(first[1], Appended::New(2), "after the publish in ann's partition");
        assert_eq!(first[3], Appended::Duplicate(2), "a repeated id in one batch is stored once");
        let (again, _) = pg_.append(&[ev("a", "ann")]).expect("append");
        assert_eq!(again, [Appended::Duplicate(2)], "and once across batches");
        // A logged id refuses the insert without its look-up; the batch is tried again with it.
        let (mixed, _) = pg_.append(&[ev("c", "ann"), ev("a", "ann"), ev("d", "ann")]).expect("append");
        let Appended::New(c) = mixed[0] else { panic!("{mixed:?}") };
        assert_eq!(mixed, [Appended::New(c), Appended::Duplicate(2), Appended::New(c + 1)], "stored, in order");
        let mut part = PgPartition::new(pg_.clone(), ann, "x", 0);
        let seqs: Vec<i64> = part.entries_after(0, 10).expect("read").iter().map(|e| e.seq).collect();
        assert_eq!(seqs.len() as i64, part.counts().expect("counts").0);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "positions without gaps: {seqs:?}");
        // A business event has no key: every partition applies it (each starts its members).
        let unkeyed = NewEntry::event(None, 5, "Restocked", "{}");
        let (_, written) = pg_.append(&[unkeyed]).expect("append");
        assert_eq!(written, [0, 1, 2, 3], "a keyless event goes to every partition");
    }

    /// An append is sent in two round trips with its commit behind its rows: when a row is
    /// refused, nothing of the group is stored, the caller hears the error, and no connection
    /// is left inside the transaction (the next appends go through, at the next positions).
    #[test]
    fn an_append_refused_by_the_database_stores_nothing_and_the_next_ones_go_through() {
        let db = TestDb::new("refused");
        let pg_ = db.pg(Some(1)).expect("connect");
        let ev = |id: &str| NewEntry::event(Some(id.into()), 5, "Ping", "{}").keyed("ann");
        assert_eq!(pg_.append(&[ev("a")]).expect("append").0, [Appended::New(1)]);
        // A row at the next position that the partition's end does not know of: the group's
        // insert collides with it.
        db.exec(&pg_, "INSERT INTO log(partition, seq, at_ms, kind) VALUES (0, 3, 0, '{}')");
        let refused = pg_.append(&[ev("b"), ev("c")]).expect_err("the insert collides");
        assert!(refused.0.contains("duplicate key"), "{refused}");
        db.exec(&pg_, "DELETE FROM log WHERE seq = 3");
        let open: i64 = pg_.run(async {
            let c = pg_.client().await.expect("client");
            c.query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in%'",
                &[],
            )
            .await
            .expect("activity")
            .get(0)
        });
        assert_eq!(open, 0, "no connection left in a transaction");
        for (i, id) in ["b", "c", "d", "e"].into_iter().enumerate() {
            assert_eq!(pg_.append(&[ev(id)]).expect("append").0, [Appended::New(i as i64 + 2)], "{id}");
        }
        let mut part = PgPartition::new(pg_.clone(), 0, "x", 0);
        assert_eq!(part.counts().expect("counts"), (5, 5), "five events, none of the refused group twice");
    }

    #[test]
    fn appends_in_lanes_keep_each_partitions_order_and_store_a_repeated_id_once() {
        let db = TestDb::new("lanes");
        let pg_ = db.pg(Some(8)).expect("connect");
        let ev = |id: &str, key: &str| NewEntry::event(Some(id.into()), 5, "Ping", "{}").keyed(key);
        // Keys in every lane; "e0" sent again under a key of another lane, and "y" twice under
        // the same key.
        let keys: Vec<String> = (0..LANE_MIN * 2).map(|i| format!("k{i}")).collect();
        let n = keys.len();
        let mut batch: Vec<NewEntry> = keys.iter().enumerate().map(|(i, k)| ev(&format!("e{i}"), k)).collect();
        let lane = |k: &str| journey_vm::engine::shard_of(k, 8) as usize % LANES;
        let other = keys.iter().find(|k| lane(k.as_str()) != lane("k0")).expect("a key in another lane");
        batch.push(ev("e0", other));
        batch.push(ev("y", "k1"));
        batch.push(ev("y", "k1"));
        let (out, failed) = pg_.append_lanes(&batch).expect("append");
        assert!(failed.is_none(), "{failed:?}");
        let out: Vec<Appended> = out.into_iter().map(|a| a.expect("stored")).collect();
        assert!(out[..n].iter().all(|a| matches!(a, Appended::New(_))), "{out:?}");
        let Appended::New(first) = out[0] else { panic!("{:?}", out[0]) };
        assert_eq!(out[n], Appended::Duplicate(first), "the same id in another lane is the first one's duplicate");
        let Appended::New(y) = out[n + 1] else { panic!("{:?}", out[n + 1]) };
        assert_eq!(out[n + 2], Appended::Duplicate(y), "and in the same lane too");
        // Each partition holds its entries in the order sent, at positions without gaps.
        for p in 0..8 {
            let mut part = PgPartition::new(pg_.clone(), p, "x", 0);
            let seqs: Vec<i64> = part.entries_after(0, 1_000).expect("read").iter().map(|e| e.seq).collect();
            assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "partition {p}");
        }
        let mut sent: Vec<(u32, i64)> = Vec::new();
        for (e, a) in batch.iter().zip(&out) {
            if let Appended::New(seq) = a {
                sent.push((journey_vm::engine::shard_of(e.key.as_deref().unwrap_or(""), 8), *seq));
            }
        }
        for p in 0..8 {
            let mine: Vec<i64> = sent.iter().filter(|(q, _)| *q == p).map(|(_, s)| *s).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "partition {p} in the order sent: {mine:?}");
        }
        // Sent again: every one is a duplicate now.
        let (again, _) = pg_.append_lanes(&batch[..n]).expect("append");
        assert!(again.iter().all(|a| matches!(a, Some(Appended::Duplicate(_)))), "{again:?}");
    }

    /// The message log and the live instances' messages are written with a partition's
    /// checkpoint, in the profile's partition: the frequency windows are rebuilt from it, and
    /// any node lists a profile's messages.
    #[test]
    fn messages_are_kept_in_the_profiles_partition() {
        use journey_vm::engine::messages::{InstanceMessages, MessageChange, MessageRecord};
        let db = TestDb::new("messages");
        let pg_ = db.pg(Some(4)).expect("connect");
        let held = pg_.acquire("a", 4, Duration::from_secs(30)).expect("acquire");
        let p = journey_vm::engine::shard_of("ann", 4);
        let token = held.iter().find(|(q, _)| *q == p).expect("ann's partition").1;
        let mut part = PgPartition::new(pg_.clone(), p, "a", token);
        let message = |id: &str, outcome: &str, at_ms: i64| MessageRecord {
            id: id.into(),
            instance: 7,
            profile: "ann".into(),
            journey: "Flow".into(),
            node: 2,
            channel: "email".into(),
            template: "hello".into(),
            to: None,
            category: "marketing",
            outcome: outcome.into(),
            at_ms,
        };
        let delta = |messages, live: Vec<(u64, InstanceMessages)>, done: Vec<u64>| EngineDelta {
            version: 1,
            messages,
            instance_messages: live,
            instance_messages_done: done,
            ..Default::default()
        };
        let queued = InstanceMessages { live: Vec::new(), queued: Some(2) };
        let first = vec![
            MessageChange::Record(message("m1", "sending", 1_000)),
            MessageChange::Record(message("m2", "queued", 1_500)),
        ];
        part.checkpoint(&Checkpoint {
            applied_seq: 1,
            engines: vec![delta(first, vec![(8, queued)], vec![])],
            ..Default::default()
        })
        .expect("checkpoint");
        let stored = part.load_engine(1, &["Flow".to_string()]).expect("load");
        assert_eq!(stored.messages.expect("kept").queued.get(&8), Some(&2));
        let second = vec![
            MessageChange::Outcome { id: "m1".into(), outcome: "sent" },
            MessageChange::Reaction { id: "m1".into(), opened: false },
            MessageChange::Record(message("m2", "suppressed:frequency", 2_000)),
        ];
        part.checkpoint(&Checkpoint {
            applied_seq: 2,
            engines: vec![delta(second, vec![], vec![8])],
            ..Default::default()
        })
        .expect("checkpoint");
        let listed: Vec<(String, String, bool)> =
            pg_.profile_messages("ann").expect("list").into_iter().map(|m| (m.id, m.outcome, m.clicked)).collect();
        assert_eq!(listed, [("m1".into(), "sent".into(), true), ("m2".into(), "suppressed:frequency".into(), false)]);
        assert_eq!(
            part.load_frequency(0).expect("frequency"),
            [("ann".to_string(), super::super::counted(1_000, "email", "m1"))]
        );
        assert!(part.load_engine(1, &["Flow".to_string()]).expect("load").messages.is_none());
        // Another partition holds none of them.
        let q = (p + 1) % 4;
        let other = held.iter().find(|(x, _)| *x == q).expect("another partition").1;
        assert!(PgPartition::new(pg_.clone(), q, "a", other).load_frequency(0).expect("frequency").is_empty());
        // A message decided to go, written before its delivery: counted, and listed as decided.
        part.write_sending(&[delta(vec![MessageChange::Record(message("m3", "sending", 3_000))], vec![], vec![])])
            .expect("written");
        assert_eq!(part.load_sending(0).expect("sending"), [("ann".to_string(), "m3".to_string())]);
        assert_eq!(part.load_frequency(0).expect("frequency").len(), 2);
    }

    #[test]
    fn goal_watches_are_kept_in_the_profiles_partition() {
        use journey_vm::engine::goals::GoalWatch;
        let db = TestDb::new("goals");
        let pg_ = db.pg(Some(2)).expect("connect");
        let held = pg_.acquire("a", 2, Duration::from_secs(30)).expect("acquire");
        let p = journey_vm::engine::shard_of("ann", 2);
        let token = held.iter().find(|(q, _)| *q == p).expect("ann's partition").1;
        let mut part = PgPartition::new(pg_.clone(), p, "a", token);
        let watch = GoalWatch {
            journey: 0,
            entered_ms: 5,
            converted: 0,
            arms: vec![(1, 0)],
            event: Box::new([]),
            end: Some(4),
        };
        let goals = |goals| Checkpoint {
            applied_seq: 1,
            engines: vec![EngineDelta { version: 1, goals, ..Default::default() }],
            ..Default::default()
        };
        part.checkpoint(&goals(vec![("ann".into(), vec![watch.clone()])])).expect("checkpoint");
        let stored = part.load_engine(1, &["Flow".to_string()]).expect("load").messages.expect("the watches");
        assert_eq!(stored.goals.get("ann"), Some(&vec![watch]));
        part.checkpoint(&goals(vec![("ann".into(), Vec::new())])).expect("checkpoint");
        assert!(part.load_engine(1, &["Flow".to_string()]).expect("load").messages.is_none(), "gone");
    }
}

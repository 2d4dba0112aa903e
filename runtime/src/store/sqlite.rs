//! The embedded store: SQLite (bundled), WAL mode with full synchronous commits. Durability
//! costs one sync per transaction, and a transaction carries a whole batch (group commit).

use super::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// The SQLite store.
pub struct SqliteStore {
    conn: Connection,
    /// Commits are not synced ([`Store::relax_checkpoint_sync`]).
    relaxed: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log(seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT UNIQUE, at_ms INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions(version INTEGER PRIMARY KEY, artifact BLOB NOT NULL, published_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS instances(version INTEGER NOT NULL, id INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(version, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calls(version INTEGER NOT NULL, instance INTEGER NOT NULL, request BLOB NOT NULL, PRIMARY KEY(version, instance)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries(version INTEGER NOT NULL, profile TEXT NOT NULL, journey TEXT NOT NULL, last_ms INTEGER NOT NULL, PRIMARY KEY(version, profile, journey)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engine_state(version INTEGER PRIMARY KEY, small TEXT NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audiences(audience TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY(audience, key));
CREATE TABLE IF NOT EXISTS steps(id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS share_ids(version INTEGER NOT NULL, share INTEGER NOT NULL, next_id INTEGER NOT NULL, PRIMARY KEY(version, share)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages(id TEXT PRIMARY KEY, profile TEXT NOT NULL, journey TEXT NOT NULL, version INTEGER NOT NULL, instance INTEGER NOT NULL, node INTEGER NOT NULL, channel TEXT NOT NULL, template TEXT NOT NULL, address TEXT, category TEXT NOT NULL, outcome TEXT NOT NULL, at_ms INTEGER NOT NULL, opened INTEGER NOT NULL DEFAULT 0, clicked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_profile ON messages(profile, at_ms);
CREATE INDEX IF NOT EXISTS messages_counted ON messages(at_ms) WHERE category = 'marketing';
CREATE TABLE IF NOT EXISTS message_live(version INTEGER NOT NULL, instance INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY(version, instance)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS goal_watches(version INTEGER NOT NULL, profile TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY(version, profile)) WITHOUT ROWID;
";

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("cannot encode: {e}")))
}

/// Instances and calls are many and written often: a compact binary encoding.
fn bin<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| StoreError(format!("cannot encode: {e}")))
}

fn unbin<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|e| StoreError(format!("stored data is damaged: {e}")))
}

fn unjson<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError(format!("stored data is damaged: {e}")))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError(format!("cannot open database `{}`: {e}", path.display())))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")?;
        conn.execute_batch(SCHEMA)?;
        // The log's counts are kept beside it (a database from before they were counted once).
        let counted: Option<i64> =
            conn.query_row("SELECT value FROM meta WHERE key = 'log_entries'", [], |r| r.get(0)).optional()?;
        if counted.is_none() {
            conn.execute_batch(
                "BEGIN IMMEDIATE;
                 INSERT OR IGNORE INTO meta(key, value) SELECT 'log_entries', count(*) FROM log;
                 INSERT OR IGNORE INTO meta(key, value)
                   SELECT 'log_events', count(*) FROM log WHERE kind LIKE '{\"kind\":\"event\"%';
                 COMMIT;",
            )?;
        }
        // Where instances began to keep their entry's origin: the log's end when a binary that
        // keeps them first opened the database (0 for a database it made).
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) SELECT 'origins_from', coalesce(max(seq), 0) FROM log",
            [],
        )?;
        Ok(SqliteStore { conn, relaxed: false })
    }
}

/// Writes one engine's message log changes and its live instances' messages (in the
/// checkpoint's transaction).
fn write_messages(tx: &rusqlite::Transaction<'_>, e: &EngineDelta) -> Result<()> {
    if !e.messages.is_empty() {
        let mut put = tx.prepare_cached(
            "INSERT INTO messages(id, profile, journey, version, instance, node, channel, template, address, category,
             outcome, at_ms, opened, clicked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT(id) DO UPDATE SET profile = excluded.profile, journey = excluded.journey,
             version = excluded.version, instance = excluded.instance, node = excluded.node,
             channel = excluded.channel, template = excluded.template, address = excluded.address,
             category = excluded.category, outcome = excluded.outcome, at_ms = excluded.at_ms,
             opened = opened OR excluded.opened, clicked = clicked OR excluded.clicked",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE messages SET outcome = coalesce(?2, outcome), opened = opened OR ?3, clicked = clicked OR ?4
             WHERE id = ?1",
        )?;
        for w in super::fold_messages(&e.messages) {
            match w.record {
                Some(r) => {
                    put.execute(params![
                        r.id,
                        r.profile,
                        r.journey,
                        e.version,
                        r.instance as i64,
                        r.node,
                        r.channel,
                        r.template,
                        r.to,
                        r.category,
                        w.outcome(),
                        r.at_ms,
                        w.opened,
                        w.clicked
                    ])?;
                }
                None => {
                    update.execute(params![w.id, w.outcome, w.opened, w.clicked])?;
                }
            }
        }
    }
    let mut del = tx.prepare_cached("DELETE FROM message_live WHERE version = ?1 AND instance = ?2")?;
    for id in &e.instance_messages_done {
        del.execute(params![e.version, *id as i64])?;
    }
    let mut put =
        tx.prepare_cached("INSERT OR REPLACE INTO message_live(version, instance, data) VALUES (?1, ?2, ?3)")?;
    for (id, m) in &e.instance_messages {
        put.execute(params![e.version, *id as i64, bin(m)?])?;
    }
    let mut del = tx.prepare_cached("DELETE FROM goal_watches WHERE version = ?1 AND profile = ?2")?;
    let mut put =
        tx.prepare_cached("INSERT OR REPLACE INTO goal_watches(version, profile, data) VALUES (?1, ?2, ?3)")?;
    for (profile, watches) in &e.goals {
        if watches.is_empty() {
            del.execute(params![e.version, profile])?;
        } else {
            put.execute(params![e.version, profile, bin(watches)?])?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn append(&mut self, entries: &[NewEntry]) -> Result<Vec<Appended>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(entries.len());
        {
            let mut find = tx.prepare_cached("SELECT seq FROM log WHERE client_id = ?1")?;
            let mut insert = tx.prepare_cached("INSERT INTO log(client_id, at_ms, kind) VALUES (?1, ?2, ?3)")?;
            let (mut added, mut events) = (0i64, 0i64);
            for e in entries {
                if let Some(id) = &e.client_id {
                    if let Some(seq) = find.query_row(params![id], |r| r.get::<_, i64>(0)).optional()? {
                        out.push(Appended::Duplicate(seq));
                        continue;
                    }
                }
                insert.execute(params![e.client_id, e.at_ms, e.kind])?;
                out.push(Appended::New(tx.last_insert_rowid()));
                added += 1;
                events += i64::from(e.event);
            }
            let mut count = tx.prepare_cached("UPDATE meta SET value = value + ?2 WHERE key = ?1")?;
            count.execute(params!["log_entries", added])?;
            count.execute(params!["log_events", events])?;
        }
        tx.commit()?;
        Ok(out)
    }

    fn entries_after(&mut self, seq: i64, limit: usize) -> Result<Vec<Entry>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, at_ms, kind FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let rows = stmt.query_map(params![seq, limit as i64], |r| {
            Ok(Entry { seq: r.get(0)?, at_ms: r.get(1)?, kind: r.get(2)? })
        })?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    fn save_version(&mut self, version: u32, artifact: &[u8], published_ms: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO versions(version, artifact, published_ms) VALUES (?1, ?2, ?3)",
            params![version, artifact, published_ms],
        )?;
        Ok(())
    }

    fn versions(&mut self) -> Result<Vec<VersionRow>> {
        let mut stmt = self.conn.prepare("SELECT version, artifact, published_ms FROM versions ORDER BY version")?;
        let rows = stmt
            .query_map([], |r| Ok(VersionRow { version: r.get(0)?, artifact: r.get(1)?, published_ms: r.get(2)? }))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    fn checkpoint(&mut self, cp: &Checkpoint) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put_inst =
                tx.prepare_cached("INSERT OR REPLACE INTO instances(version, id, data) VALUES (?1, ?2, ?3)")?;
            let mut del_inst = tx.prepare_cached("DELETE FROM instances WHERE version = ?1 AND id = ?2")?;
            let mut put_call =
                tx.prepare_cached("INSERT OR REPLACE INTO calls(version, instance, request) VALUES (?1, ?2, ?3)")?;
            let mut del_call = tx.prepare_cached("DELETE FROM calls WHERE version = ?1 AND instance = ?2")?;
            let mut put_entry = tx.prepare_cached(
                "INSERT OR REPLACE INTO entries(version, profile, journey, last_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut put_state =
                tx.prepare_cached("INSERT OR REPLACE INTO engine_state(version, small, report) VALUES (?1, ?2, ?3)")?;
            for e in &cp.engines {
                for i in e.upserts.iter().chain(&e.created) {
                    put_inst.execute(params![e.version, i.id as i64, bin(i)?])?;
                }
                for id in &e.removed {
                    del_inst.execute(params![e.version, *id as i64])?;
                }
                for id in &e.calls_done {
                    del_call.execute(params![e.version, *id as i64])?;
                }
                for c in &e.calls {
                    put_call.execute(params![e.version, c.instance as i64, bin(c)?])?;
                }
                for (p, j, ms) in &e.entries {
                    put_entry.execute(params![e.version, p, j, ms])?;
                }
                put_state.execute(params![e.version, json(&e.small)?, json(&e.report)?])?;
                write_messages(&tx, e)?;
                if !e.share_next_ids.is_empty() {
                    tx.execute("DELETE FROM share_ids WHERE version = ?1", params![e.version])?;
                    let mut put =
                        tx.prepare_cached("INSERT INTO share_ids(version, share, next_id) VALUES (?1, ?2, ?3)")?;
                    for (share, id) in e.share_next_ids.iter().enumerate() {
                        put.execute(params![e.version, share as i64, *id as i64])?;
                    }
                }
            }
            let mut put_profile = tx.prepare_cached("INSERT OR REPLACE INTO profiles(key, value) VALUES (?1, ?2)")?;
            for (k, v) in &cp.profiles {
                put_profile.execute(params![k, json(v)?])?;
            }
            if let Some(members) = &cp.audiences {
                tx.execute("DELETE FROM audiences", [])?;
                let mut put = tx.prepare_cached("INSERT INTO audiences(audience, key) VALUES (?1, ?2)")?;
                for (a, k) in members {
                    put.execute(params![a, k])?;
                }
            }
            let mut put_step = tx.prepare_cached("INSERT INTO steps(data) VALUES (?1)")?;
            for (version, s) in &cp.steps {
                put_step.execute(params![super::step_row(*version, s)?])?;
            }
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('applied_seq', ?1)", params![cp.applied_seq])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn recent_steps(&mut self, limit: usize) -> Result<Vec<(u32, serde_json::Value)>> {
        let mut q = self.conn.prepare("SELECT data FROM steps ORDER BY id DESC LIMIT ?1")?;
        let rows = q.query_map(params![limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(super::step_from_row(&row?));
        }
        out.reverse();
        Ok(out)
    }

    fn applied_seq(&mut self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'applied_seq'", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn origins_from(&mut self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'origins_from'", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn load_engine(&mut self, version: u32, journey_names: &[String]) -> Result<Stored> {
        let mut stored = Stored::default();
        if let Some((small, report)) = self
            .conn
            .query_row("SELECT small, report FROM engine_state WHERE version = ?1", params![version], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        {
            stored.small = unjson(&small)?;
            stored.report = Some(unjson(&report)?);
        }
        // Sized first: a million instances loaded into a growing list would leave the memory of
        // every smaller list it outgrew behind.
        let count = |table: &str| -> Result<usize> {
            let n: i64 = self.conn.query_row(
                &format!("SELECT count(*) FROM {table} WHERE version = ?1"),
                params![version],
                |r| r.get(0),
            )?;
            Ok(n as usize)
        };
        stored.instances.reserve_exact(count("instances")?);
        stored.entries.reserve_exact(count("entries")?);
        let mut stmt = self.conn.prepare("SELECT data FROM instances WHERE version = ?1")?;
        let mut rows = stmt.query(params![version])?;
        while let Some(row) = rows.next()? {
            let data = row.get_ref(0)?.as_blob().map_err(|e| StoreError(e.to_string()))?;
            stored.instances.push(super::decode_instance(data)?);
        }
        let mut stmt = self.conn.prepare("SELECT request FROM calls WHERE version = ?1")?;
        for row in stmt.query_map(params![version], |r| r.get::<_, Vec<u8>>(0))? {
            stored.pending.push(super::decode_call(&row?)?);
        }
        // A scan of the table, not a search of the key's index (the same order for a database
        // whose table is keyed by its columns; in the order written, about the instances', for
        // one made before).
        let mut stmt = self.conn.prepare("SELECT profile, journey, last_ms FROM entries WHERE +version = ?1")?;
        let mut rows = stmt.query(params![version])?;
        while let Some(row) = rows.next()? {
            let journey = row.get_ref(1)?.as_str().map_err(|e| StoreError(e.to_string()))?;
            if let Some(i) = journey_names.iter().position(|n| n == journey) {
                stored.entries.push((row.get(0)?, i as u16, row.get(2)?));
            }
        }
        let mut stmt = self.conn.prepare("SELECT instance, data FROM message_live WHERE version = ?1")?;
        let mut rows = stmt.query(params![version])?;
        while let Some(row) = rows.next()? {
            let id = row.get::<_, i64>(0)? as u64;
            let data = row.get_ref(1)?.as_blob().map_err(|e| StoreError(e.to_string()))?;
            let m: InstanceMessages = unbin(data)?;
            let state = stored.messages.get_or_insert_with(Default::default);
            if !m.live.is_empty() {
                state.live.insert(id, m.live);
            }
            if let Some(node) = m.queued {
                state.queued.insert(id, node);
            }
        }
        let mut stmt = self.conn.prepare("SELECT profile, data FROM goal_watches WHERE version = ?1")?;
        let mut rows = stmt.query(params![version])?;
        while let Some(row) = rows.next()? {
            let profile: String = row.get(0)?;
            let data = row.get_ref(1)?.as_blob().map_err(|e| StoreError(e.to_string()))?;
            let state = stored.messages.get_or_insert_with(Default::default);
            state.goals.insert(profile.into(), unbin(data)?);
        }
        let mut stmt = self.conn.prepare("SELECT key, value FROM profiles")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (k, v) = row?;
            stored.profiles.push((k, unjson(&v)?));
        }
        let mut stmt = self.conn.prepare("SELECT audience, key FROM audiences")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            stored.audiences.push(row?);
        }
        Ok(stored)
    }

    fn relax_checkpoint_sync(&mut self) -> Result<()> {
        // WAL mode: commits are not synced (the log's commits, with FULL on their connection,
        // sync the shared write-ahead log, with everything before them).
        self.conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        self.relaxed = true;
        Ok(())
    }

    fn write_sending(&mut self, engines: &[EngineDelta]) -> Result<()> {
        // Synced, unlike checkpoints: the calls leave once it returns.
        if self.relaxed {
            self.conn.execute_batch("PRAGMA synchronous=FULL;")?;
        }
        let written = (|| {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for e in engines {
                write_messages(&tx, e)?;
            }
            tx.commit()?;
            Ok(())
        })();
        if self.relaxed {
            self.conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        }
        written
    }

    fn load_sending(&mut self, since_ms: i64) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT profile, id FROM messages WHERE category = 'marketing' AND at_ms > ?1 AND outcome = 'sending'",
        )?;
        let rows = stmt.query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    fn load_frequency(&mut self, since_ms: i64) -> Result<Vec<(String, Counted)>> {
        let mut stmt = self.conn.prepare(
            "SELECT profile, at_ms, channel, id FROM messages WHERE category = 'marketing' AND at_ms > ?1
             AND outcome IN ('sending', 'sent') ORDER BY at_ms",
        )?;
        let rows = stmt.query_map(params![since_ms], |r| {
            let (channel, id): (String, String) = (r.get(2)?, r.get(3)?);
            Ok((r.get::<_, String>(0)?, super::counted(r.get(1)?, &channel, &id)))
        })?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    fn profile_messages(&mut self, key: &str) -> Result<Vec<StoredMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, profile, journey, version, instance, node, channel, template, address, category, outcome,
             at_ms, opened, clicked FROM messages WHERE profile = ?1 ORDER BY at_ms, id",
        )?;
        let rows = stmt.query_map(params![key], |r| {
            Ok(StoredMessage {
                id: r.get(0)?,
                profile: r.get(1)?,
                journey: r.get(2)?,
                version: r.get(3)?,
                instance: r.get::<_, i64>(4)? as u64,
                node: r.get(5)?,
                channel: r.get(6)?,
                template: r.get(7)?,
                to: r.get(8)?,
                category: r.get(9)?,
                outcome: r.get(10)?,
                at_ms: r.get(11)?,
                opened: r.get(12)?,
                clicked: r.get(13)?,
            })
        })?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    fn share_next_ids(&mut self, version: u32) -> Result<Vec<u64>> {
        let mut stmt = self.conn.prepare("SELECT next_id FROM share_ids WHERE version = ?1 ORDER BY share")?;
        let rows = stmt.query_map(params![version], |r| r.get::<_, i64>(0))?;
        rows.map(|r| r.map(|id| id as u64).map_err(Into::into)).collect()
    }

    fn counts(&mut self) -> Result<(i64, i64)> {
        let mut count = self.conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
        let total: i64 = count.query_row(params!["log_entries"], |r| r.get(0)).optional()?.unwrap_or(0);
        let events: i64 = count.query_row(params!["log_events"], |r| r.get(0)).optional()?.unwrap_or(0);
        Ok((total, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("journey-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir.join("j.db")
    }

    fn event(id: Option<&str>, n: i64) -> NewEntry {
        let kind = LogKind::Event { name: "Ping".into(), payload: json!({"n": n}) };
        NewEntry::new(id.map(str::to_string), 1_000 + n, &kind).expect("entry")
    }

    /// A database from before instances kept their entry's origin: its entries up to the log's
    /// end when this binary first opened it keep origin 0 on a replay; a new database gives
    /// every entry an origin, and opening it again changes nothing.
    #[test]
    fn entries_appended_before_origins_were_kept_replay_with_origin_zero() {
        let db = temp_db("origins");
        let mut s = SqliteStore::open(&db).expect("open");
        assert_eq!(s.origins_from().expect("origins_from"), 0, "a new database");
        s.append(&[event(Some("a"), 1), event(Some("b"), 2)]).expect("append");
        assert_eq!(SqliteStore::open(&db).expect("again").origins_from().expect("origins_from"), 0);
        // As a binary from before left it: no such row.
        s.conn.execute("DELETE FROM meta WHERE key = 'origins_from'", []).expect("delete");
        let mut upgraded = SqliteStore::open(&db).expect("upgraded");
        assert_eq!(upgraded.origins_from().expect("origins_from"), 2);
        upgraded.append(&[event(Some("c"), 3)]).expect("append");
        assert_eq!(SqliteStore::open(&db).expect("again").origins_from().expect("origins_from"), 2);
    }

    #[test]
    fn appended_entries_come_back_in_order_after_any_position() {
        let db = temp_db("append");
        let mut s = SqliteStore::open(&db).expect("open");
        let put = NewEntry::new(None, 5, &LogKind::ProfilePut { key: "k".into(), attributes: json!({"a": 1}) })
            .expect("entry");
        let first = s.append(&[event(Some("a"), 1), put, event(None, 2)]).expect("append");
        assert_eq!(first, [Appended::New(1), Appended::New(2), Appended::New(3)]);
        let second = s.append(&[event(Some("b"), 3), event(Some("c"), 4)]).expect("append");
        assert_eq!(second, [Appended::New(4), Appended::New(5)]);
        let all = s.entries_after(0, 100).expect("read");
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(
            all[1].decode().expect("decode"),
            LogKind::ProfilePut { key: "k".into(), attributes: json!({"a": 1}) }
        );
        assert_eq!(all[3].at_ms, 1_003);
        let after = s.entries_after(2, 2).expect("read");
        assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4], "after 2, at most 2");
        assert!(s.entries_after(5, 10).expect("read").is_empty());
        assert_eq!(s.counts().expect("counts"), (5, 4), "five entries, four of them events");
        // Another connection (a restart) reads the same log and counts.
        drop(s);
        let mut again = SqliteStore::open(&db).expect("reopen");
        assert_eq!(again.entries_after(0, 100).expect("read").len(), 5);
        assert_eq!(again.counts().expect("counts"), (5, 4));
    }

    #[test]
    fn a_repeated_client_id_is_not_appended_again() {
        let db = temp_db("dup");
        let mut s = SqliteStore::open(&db).expect("open");
        assert_eq!(s.append(&[event(Some("a"), 1)]).expect("append"), [Appended::New(1)]);
        // Again in a later batch, and twice within one batch; entries without an id are
        // never duplicates.
        let out =
            s.append(&[event(Some("a"), 9), event(Some("b"), 2), event(Some("b"), 3), event(None, 4), event(None, 4)]);
        assert_eq!(
            out.expect("append"),
            [Appended::Duplicate(1), Appended::New(2), Appended::Duplicate(2), Appended::New(3), Appended::New(4)]
        );
        let all = s.entries_after(0, 100).expect("read");
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].at_ms, 1_001, "the first one is kept as it was");
        assert_eq!(s.counts().expect("counts"), (4, 4), "duplicates are not counted");
    }

    fn checkpoint(applied_seq: i64, profile: &str, audiences: Vec<(String, String)>) -> Checkpoint {
        let mut small = journey_vm::engine::durable::SmallState { now_ms: applied_seq * 10, ..Default::default() };
        small.next_id = applied_seq as u64 + 1;
        Checkpoint {
            applied_seq,
            engines: vec![EngineDelta {
                version: 1,
                entries: vec![(profile.to_string(), "Flow".to_string(), applied_seq)],
                small,
                ..Default::default()
            }],
            profiles: vec![(profile.to_string(), Value::from_json(&json!({"seq": applied_seq})))],
            audiences: Some(audiences),
            steps: Vec::new(),
            retired: Vec::new(),
        }
    }

    #[test]
    fn a_checkpoint_is_written_whole_or_not_at_all() {
        let db = temp_db("checkpoint");
        let mut s = SqliteStore::open(&db).expect("open");
        s.save_version(1, b"artifact", 7).expect("version");
        assert_eq!(s.applied_seq().expect("applied"), 0, "no checkpoint yet");
        s.checkpoint(&checkpoint(3, "ann", vec![("VIP".into(), "ann".into())])).expect("checkpoint");
        let names = ["Flow".to_string()];
        let load = |s: &mut SqliteStore| s.load_engine(1, &names).expect("load");
        let stored = load(&mut s);
        assert_eq!(s.applied_seq().expect("applied"), 3);
        assert_eq!(stored.small.next_id, 4);
        assert_eq!(stored.entries, [("ann".to_string(), 0, 3)]);
        assert_eq!(stored.audiences, [("VIP".to_string(), "ann".to_string())]);
        // A checkpoint that fails part way (a membership listed twice breaks the audiences
        // table's key, after the entries and profiles are written) leaves the last one whole.
        let twice = vec![("VIP".to_string(), "bob".to_string()), ("VIP".to_string(), "bob".to_string())];
        assert!(s.checkpoint(&checkpoint(9, "bob", twice)).is_err());
        let after = load(&mut s);
        assert_eq!(s.applied_seq().expect("applied"), 3, "the position did not move");
        assert_eq!(after.small.next_id, 4);
        assert_eq!(after.entries, stored.entries, "no entry of the failed checkpoint");
        assert_eq!(after.profiles.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["ann"]);
        assert_eq!(after.audiences, stored.audiences);
        // The next good one lands whole.
        s.checkpoint(&checkpoint(12, "bob", vec![("VIP".into(), "bob".into())])).expect("checkpoint");
        let last = load(&mut SqliteStore::open(&db).expect("reopen"));
        assert_eq!(last.small.next_id, 13);
        assert_eq!(last.entries.len(), 2);
        assert_eq!(last.audiences, [("VIP".to_string(), "bob".to_string())], "membership replaced as a whole");
        assert_eq!(SqliteStore::open(&db).expect("reopen").applied_seq().expect("applied"), 12);
    }

    fn message(id: &str, profile: &str, outcome: &str, at_ms: i64, category: &'static str) -> MessageRecord {
        MessageRecord {
            id: id.into(),
            instance: 7,
            profile: profile.into(),
            journey: "Flow".into(),
            node: 2,
            channel: "email".into(),
            template: "hello".into(),
            to: Some(format!("{profile}@example.com")),
            category,
            outcome: outcome.into(),
            at_ms,
        }
    }

    /// The message log, the frequency windows rebuilt from it, and the live instances'
    /// messages are written with the checkpoint; a database made before them opens.
    #[test]
    fn messages_are_written_with_the_checkpoint_and_read_back() {
        use journey_vm::engine::messages::LiveMessage;
        let db = temp_db("messages");
        {
            let old = Connection::open(&db).expect("open");
            old.execute_batch(
                "CREATE TABLE log(seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT UNIQUE, at_ms INTEGER NOT NULL, kind TEXT NOT NULL);
                 CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
            )
            .expect("a database from before the message log");
        }
        let mut s = SqliteStore::open(&db).expect("an older database opens");
        let live = LiveMessage { id: "m1".into(), node: 2, opened: false, clicked: false };
        let mut first = checkpoint(1, "ann", Vec::new());
        first.engines[0].messages = vec![
            MessageChange::Record(message("m1", "ann", "sending", 1_000, "marketing")),
            MessageChange::Outcome { id: "m1".into(), outcome: "sent" },
            MessageChange::Record(message("m2", "ann", "queued", 2_000, "marketing")),
            MessageChange::Record(message("m3", "bob", "sending", 3_000, "transactional")),
        ];
        first.engines[0].instance_messages = vec![
            (7, InstanceMessages { live: vec![live.clone()], queued: None }),
            (8, InstanceMessages { live: Vec::new(), queued: Some(4) }),
        ];
        s.checkpoint(&first).expect("checkpoint");
        let stored = s.load_engine(1, &["Flow".to_string()]).expect("load");
        let state = stored.messages.expect("the live instances' messages");
        assert_eq!(state.live.get(&7), Some(&vec![live]));
        assert_eq!(state.queued.get(&8), Some(&4));
        // Later: an open, the queued message handed over and failing; instance 7 ended.
        let mut second = checkpoint(2, "ann", Vec::new());
        second.engines[0].messages = vec![
            MessageChange::Reaction { id: "m1".into(), opened: true },
            MessageChange::Record(message("m2", "ann", "sending", 5_000, "marketing")),
            MessageChange::Outcome { id: "m2".into(), outcome: "failed" },
            MessageChange::Outcome { id: "m3".into(), outcome: "sent" },
        ];
        second.engines[0].instance_messages_done = vec![7, 8];
        s.checkpoint(&second).expect("checkpoint");
        let mut again = SqliteStore::open(&db).expect("reopen");
        let ann: Vec<(String, String, i64, bool, bool)> = again
            .profile_messages("ann")
            .expect("messages")
            .into_iter()
            .map(|m| (m.id, m.outcome, m.at_ms, m.opened, m.clicked))
            .collect();
        assert_eq!(
            ann,
            [("m1".into(), "sent".into(), 1_000, true, false), ("m2".into(), "failed".into(), 5_000, false, false)]
        );
        let bob = again.profile_messages("bob").expect("messages");
        assert_eq!((bob[0].outcome.as_str(), bob[0].category.as_str()), ("sent", "transactional"));
        assert_eq!(bob[0].to.as_deref(), Some("bob@example.com"));
        // Only marketing messages sent (or being delivered) count, from the time asked.
        let counted = again.load_frequency(0).expect("frequency");
        assert_eq!(counted, [("ann".to_string(), super::super::counted(1_000, "email", "m1"))]);
        assert!(again.load_frequency(1_000).expect("frequency").is_empty(), "a window ending at 1000 holds none");
        assert!(again.load_engine(1, &["Flow".to_string()]).expect("load").messages.is_none(), "nothing left live");
    }

    /// A profile's goal watches are written whole with a checkpoint, read back with the engine's
    /// state, and gone once written empty.
    #[test]
    fn goal_watches_are_written_with_the_checkpoint_and_read_back() {
        use journey_vm::engine::goals::GoalWatch;
        let db = temp_db("goals");
        let mut s = SqliteStore::open(&db).expect("open");
        let watch = GoalWatch {
            journey: 0,
            entered_ms: 1_000,
            converted: 1,
            arms: vec![(3, 1)],
            event: Box::new([]),
            end: None,
        };
        let mut first = checkpoint(1, "ann", Vec::new());
        first.engines[0].goals = vec![("ann".into(), vec![watch.clone()]), ("bob".into(), vec![watch.clone()])];
        s.checkpoint(&first).expect("checkpoint");
        let goals = |s: &mut SqliteStore| s.load_engine(1, &["Flow".to_string()]).expect("load").messages;
        let state = goals(&mut SqliteStore::open(&db).expect("reopen")).expect("the goal watches");
        assert_eq!(state.goals.get("ann"), Some(&vec![watch.clone()]));
        assert_eq!(state.goals.len(), 2);
        let mut second = checkpoint(2, "ann", Vec::new());
        second.engines[0].goals = vec![("ann".into(), Vec::new())];
        s.checkpoint(&second).expect("checkpoint");
        let state = goals(&mut s).expect("bob's watch");
        assert_eq!(state.goals.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["bob"], "ann's are gone");
    }
}

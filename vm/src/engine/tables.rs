//! Compact storage for what the engine keeps per waiting instance and per profile, so a million
//! waiting instances fit in a few hundred megabytes (see `BENCHMARKS.md`, VM memory).
//!
//! - [`Instances`]: the live instances in one vector, found by id through a table of 4-byte
//!   positions (a `HashMap<InstanceId, Instance>` spends a 120-byte bucket per slot, half of
//!   them empty right after it grows).
//! - [`Profiles`]: every profile key seen, interned once to a number, with each journey's
//!   running instance and last entry in a dense array (two maps keyed by `(profile, journey)`
//!   before).

use super::instance::{Instance, InstanceId};
use arcstr::ArcStr;
use std::hash::BuildHasher;

/// An open-addressing table of positions into a vector kept elsewhere, found by a hash and an
/// equality test on the position: 4 bytes a slot, linear probing, removal by backward shift.
#[derive(Debug, Clone, Default)]
struct PosTable {
    /// 0 is empty, otherwise the position plus one.
    slots: Vec<u32>,
    len: usize,
}

impl PosTable {
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot and position of the entry `eq` accepts.
    fn find(&self, hash: u64, eq: impl Fn(u32) -> bool) -> Option<(usize, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            match self.slots[i] {
                0 => return None,
                p if eq(p - 1) => return Some((i, p - 1)),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Adds a position (not present yet); `hash_of` gives the hash of any stored position (for
    /// growing).
    fn insert(&mut self, hash: u64, pos: u32, hash_of: impl Fn(u32) -> u64) {
        // At most 3/4 full.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![0; (self.slots.len() * 2).max(16)];
            let old = std::mem::replace(&mut self.slots, grown);
            for p in old.into_iter().filter(|p| *p != 0) {
                self.place(hash_of(p - 1), p - 1);
            }
        }
        self.place(hash, pos);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, pos: u32) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = pos + 1;
    }

    /// Points slot `i` at another position.
    fn set(&mut self, i: usize, pos: u32) {
        self.slots[i] = pos + 1;
    }

    /// Empties slot `i`, moving back the entries after it that belong before it.
    fn remove_at(&mut self, mut i: usize, hash_of: impl Fn(u32) -> u64) {
        let mask = self.mask();
        self.slots[i] = 0;
        self.len -= 1;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let p = self.slots[j];
            if p == 0 {
                return;
            }
            let home = hash_of(p - 1) as usize & mask;
            // Move the entry at j to the hole at i unless its home lies cyclically in (i, j].
            let stays = if i <= j { i < home && home <= j } else { i < home || home <= j };
            if !stays {
                self.slots[i] = p;
                self.slots[j] = 0;
                i = j;
            }
        }
    }
}

/// Hash of an instance id (engine-made sequential numbers).
fn id_hash(id: InstanceId) -> u64 {
    let m = u128::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The live instances: one vector, and a table of positions by id.
#[derive(Debug, Default)]
pub struct Instances {
    items: Vec<Instance>,
    table: PosTable,
    /// How many are live in each journey (by journey index): a report reads it on every query
    /// and checkpoint, where counting a million instances took milliseconds.
    per_journey: Vec<u64>,
}

impl Instances {
    fn counted(&mut self, journey: u16, live: bool) {
        let j = journey as usize;
        if self.per_journey.len() <= j {
            self.per_journey.resize(j + 1, 0);
        }
        if live {
            self.per_journey[j] += 1;
        } else {
            self.per_journey[j] -= 1;
        }
    }

    /// How many instances of journey `journey` are live.
    pub fn live_in(&self, journey: u16) -> u64 {
        self.per_journey.get(journey as usize).copied().unwrap_or(0)
    }

    fn slot(&self, id: InstanceId) -> Option<(usize, u32)> {
        self.table.find(id_hash(id), |p| self.items[p as usize].id == id)
    }

    /// An instance by id.
    pub fn get(&self, id: &InstanceId) -> Option<&Instance> {
        self.slot(*id).map(|(_, p)| &self.items[p as usize])
    }

    /// An instance by id, to change it.
    pub fn get_mut(&mut self, id: &InstanceId) -> Option<&mut Instance> {
        let (_, p) = self.slot(*id)?;
        Some(&mut self.items[p as usize])
    }

    /// Whether an instance is live.
    pub fn contains_key(&self, id: &InstanceId) -> bool {
        self.slot(*id).is_some()
    }

    /// Adds (or replaces) the instance with id `id` (`inst.id`).
    pub fn insert(&mut self, id: InstanceId, inst: Instance) {
        debug_assert_eq!(id, inst.id);
        if let Some((_, p)) = self.slot(id) {
            let (before, after) = (self.items[p as usize].journey, inst.journey);
            self.items[p as usize] = inst;
            self.counted(before, false);
            self.counted(after, true);
            return;
        }
        self.counted(inst.journey, true);
        let pos = u32::try_from(self.items.len()).expect("fewer than 2^32 live instances");
        self.items.push(inst);
        let items = &self.items;
        self.table.insert(id_hash(id), pos, |p| id_hash(items[p as usize].id));
    }

    /// Takes an instance out.
    pub fn remove(&mut self, id: &InstanceId) -> Option<Instance> {
        let (slot, pos) = self.slot(*id)?;
        let items = &self.items;
        self.table.remove_at(slot, |p| id_hash(items[p as usize].id));
        let inst = self.items.swap_remove(pos as usize);
        self.counted(inst.journey, false);
        // The last instance moved into `pos`: point its slot there.
        if let Some(moved) = self.items.get(pos as usize) {
            let last = self.items.len() as u32;
            let (slot, _) = self.table.find(id_hash(moved.id), |p| p == last).expect("the moved instance is indexed");
            self.table.set(slot, pos);
        }
        Some(inst)
    }

    /// Every live instance (in no particular order).
    pub fn values(&self) -> std::slice::Iter<'_, Instance> {
        self.items.iter()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// What the engine knows of a profile in one journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// The running instance (0: none; ids start at 1).
    active: InstanceId,
    /// The last entry (epoch ms), `i64::MIN` for never.
    last_entry: i64,
}

const EMPTY: Slot = Slot { active: 0, last_entry: i64::MIN };

/// Profile keys interned to numbers, and per profile and journey the running instance and the
/// last entry.
#[derive(Debug)]
pub struct Profiles {
    keys: Vec<ArcStr>,
    table: PosTable,
    hasher: foldhash::fast::RandomState,
    /// `journeys` slots per profile.
    slots: Vec<Slot>,
    journeys: usize,
}

impl Profiles {
    /// An empty set for a program of `journeys` journeys.
    pub fn new(journeys: usize) -> Profiles {
        Profiles {
            keys: Vec::new(),
            table: PosTable::default(),
            hasher: Default::default(),
            slots: Vec::new(),
            journeys: journeys.max(1),
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.table.find(self.hasher.hash_one(key), |p| self.keys[p as usize].as_str() == key).map(|(_, p)| p as usize)
    }

    fn intern(&mut self, key: &ArcStr) -> usize {
        if let Some(p) = self.find(key) {
            return p;
        }
        let pos = self.keys.len();
        self.keys.push(key.clone());
        self.slots.extend(std::iter::repeat_n(EMPTY, self.journeys));
        let (keys, hasher) = (&self.keys, &self.hasher);
        self.table.insert(hasher.hash_one(key.as_str()), pos as u32, |p| hasher.hash_one(keys[p as usize].as_str()));
        pos
    }

    fn slot(&self, key: &str, journey: u16) -> Option<&Slot> {
        let p = self.find(key)?;
        self.slots.get(p * self.journeys + journey as usize)
    }

    fn slot_mut(&mut self, key: &ArcStr, journey: u16) -> &mut Slot {
        let p = self.intern(key);
        &mut self.slots[p * self.journeys + journey as usize]
    }

    /// The shared key for `key`, if the profile was seen.
    pub fn key(&self, key: &str) -> Option<&ArcStr> {
        self.find(key).map(|p| &self.keys[p])
    }

    /// The instance a profile runs in a journey.
    pub fn active(&self, key: &str, journey: u16) -> Option<InstanceId> {
        self.slot(key, journey).map(|s| s.active).filter(|id| *id != 0)
    }

    /// Sets or clears the instance a profile runs in a journey.
    pub fn set_active(&mut self, key: &ArcStr, journey: u16, id: Option<InstanceId>) {
        if id.is_none() && self.find(key).is_none() {
            return;
        }
        self.slot_mut(key, journey).active = id.unwrap_or(0);
    }

    /// When a profile last entered a journey.
    pub fn last_entry(&self, key: &str, journey: u16) -> Option<i64> {
        self.slot(key, journey).map(|s| s.last_entry).filter(|ms| *ms != i64::MIN)
    }

    /// Records an entry.
    pub fn set_last_entry(&mut self, key: &ArcStr, journey: u16, ms: i64) {
        self.slot_mut(key, journey).last_entry = ms;
    }

    /// Every profile that entered a journey, with when it last did.
    pub fn entries(&self, journey: u16) -> impl Iterator<Item = (&ArcStr, i64)> + '_ {
        let j = journey as usize;
        self.keys.iter().enumerate().filter_map(move |(p, key)| {
            let ms = self.slots.get(p * self.journeys + j)?.last_entry;
            (ms != i64::MIN).then_some((key, ms))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::instance::Waiting;
    use std::collections::HashMap;

    fn inst(id: InstanceId) -> Instance {
        Instance::from(crate::engine::instance::InstanceData {
            id,
            journey: 0,
            version: 1,
            profile: ArcStr::from("p"),
            pc: id as u32,
            locals: Box::new([]),
            event: Box::new([]),
            waiting: Waiting::Running,
            entered_ms: 0,
            node: 0,
            node_ms: 0,
            token: 0,
            origin: 0,
        })
    }

    /// Random inserts and removals against a `HashMap`.
    #[test]
    fn instances_behave_as_a_map() {
        let mut ours = Instances::default();
        let mut theirs: HashMap<InstanceId, u32> = HashMap::new();
        let mut seed: u64 = 7;
        let mut next_id = 1;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if !seed.is_multiple_of(3) || theirs.is_empty() {
                let mut i = inst(next_id);
                i.journey = (next_id % 3) as u16;
                ours.insert(next_id, i);
                theirs.insert(next_id, next_id as u32);
                next_id += 1;
            } else {
                // Remove a random earlier id (maybe already gone).
                let id = 1 + seed % next_id;
                assert_eq!(ours.remove(&id).map(|i| i.pc), theirs.remove(&id));
            }
            let probe = 1 + (seed >> 20) % (next_id + 5);
            assert_eq!(ours.get(&probe).map(|i| i.pc), theirs.get(&probe).copied());
        }
        assert_eq!(ours.len(), theirs.len());
        // An instance replaced by one of another journey moves between the counts.
        let (&moved, _) = theirs.iter().find(|(id, _)| **id % 3 == 0).expect("one in journey 0");
        let before = (ours.live_in(0), ours.live_in(1));
        let mut again = inst(moved);
        again.journey = 1;
        ours.insert(moved, again);
        assert_eq!((ours.live_in(0), ours.live_in(1)), (before.0 - 1, before.1 + 1));
        let mut back = inst(moved);
        back.journey = 0;
        ours.insert(moved, back);
        for j in 0..4u16 {
            let live = theirs.keys().filter(|id| **id % 3 == u64::from(j)).count() as u64;
            assert_eq!(ours.live_in(j), if j < 3 { live } else { 0 }, "journey {j}");
        }
        let mut a: Vec<u32> = ours.values().map(|i| i.pc).collect();
        let mut b: Vec<u32> = theirs.values().copied().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }

    #[test]
    fn profiles_keep_per_journey_slots() {
        let mut p = Profiles::new(2);
        let k = |s: &str| ArcStr::from(s);
        for i in 0..10_000 {
            p.set_last_entry(&k(&format!("user{i}")), (i % 2) as u16, i as i64);
        }
        p.set_active(&k("user3"), 1, Some(42));
        assert_eq!(p.active("user3", 1), Some(42));
        assert_eq!(p.active("user3", 0), None);
        assert_eq!(p.last_entry("user3", 1), Some(3));
        assert_eq!(p.last_entry("user3", 0), None);
        assert_eq!(p.last_entry("nobody", 0), None);
        let mut entered: Vec<(String, i64)> = p.entries(1).map(|(k, ms)| (k.to_string(), ms)).collect();
        entered.sort();
        assert_eq!(entered.len(), 5000, "every other profile entered journey 1");
        assert_eq!(entered[0], ("user1".to_string(), 1));
        p.set_active(&k("user3"), 1, None);
        assert_eq!(p.active("user3", 1), None);
        p.set_active(&k("new"), 0, None);
        assert!(p.key("new").is_none(), "clearing creates nothing");
        assert_eq!(p.last_entry("user9999", 1), Some(9999));
    }
}

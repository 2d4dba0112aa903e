//! Which parts of an event's payload a program reads, so an incoming payload is converted only
//! that far.
//!
//! A payload is read by its event's `key` and `when` (`Event` followed by field reads), by the
//! journeys it starts (their event paths), and by the awaits and goals that take it (`on E as p`:
//! the slot `p` followed by field reads). A read that is not a plain chain of field names (the whole
//! payload, an index, a function argument) keeps everything below where the chain stops. The
//! rest of the payload is never looked at, so it is not converted: the values at every path the
//! program reads are the values the full conversion gives.

use crate::engine::list_index;
use arcstr::ArcStr;
use journey_bytecode::{Code, Op, Program, Start};

/// The part of a value that is read.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Projection {
    /// All of it.
    #[default]
    All,
    /// Only these fields of a record (each with its own part); nothing of a record not listed.
    /// The names are the program's shared strings: a converted record takes them without
    /// allocating its own.
    Fields(Vec<(ArcStr, Projection)>),
}

impl Projection {
    /// Nothing (no field of the value is read).
    pub fn none() -> Projection {
        Projection::Fields(Vec::new())
    }

    /// Adds the value at `path` (all of it).
    pub fn add(&mut self, path: &[String]) {
        let Projection::Fields(fields) = self else { return };
        let Some((first, rest)) = path.split_first() else {
            *self = Projection::All;
            return;
        };
        match fields.iter_mut().find(|(k, _)| k.as_str() == first) {
            Some((_, sub)) => sub.add(rest),
            None => {
                let mut sub = Projection::none();
                sub.add(rest);
                fields.push((crate::machine::shared_static(first), sub));
            }
        }
    }

    /// The projections of every event of a program, by event index.
    pub fn of_events(program: &Program) -> Vec<Projection> {
        let name = |n: u32| program.names.get(n as usize).cloned().unwrap_or_default();
        program
            .events
            .iter()
            .map(|e| {
                let mut p = Projection::none();
                // `key` and `when`: the payload is `Event`.
                for path in chains(&e.code, |op| matches!(op, Op::Event), &name) {
                    p.add(&path);
                }
                // Reactions: the field that holds the message id.
                for c in &program.channels {
                    for r in c.opened.iter().chain(&c.clicked).filter(|r| r.event == e.name) {
                        p.add(&r.by);
                    }
                }
                for j in &program.journeys {
                    // Journeys it starts keep their event paths.
                    let starts = match &j.start {
                        Start::Event(s) | Start::EventForAudience { event: s, .. } => *s == e.name,
                        _ => false,
                    };
                    if starts {
                        for path in &j.event_paths {
                            // All of a list a path indexes (`[n]`).
                            let fields = path.iter().position(|f| list_index(f).is_some()).unwrap_or(path.len());
                            p.add(&path[..fields]);
                        }
                    }
                    // Awaits that take it read it through their slot.
                    for arm in j.awaits.iter().flat_map(|a| &a.arms).filter(|arm| arm.event == e.name) {
                        if let Some(slot) = arm.slot {
                            for path in chains(&j.code, |op| *op == Op::Local(slot), &name) {
                                p.add(&path);
                            }
                        }
                    }
                    // So do goals on it (`goal "g" on E as p`).
                    for slot in j.goals.iter().filter(|g| g.event == e.name).filter_map(|g| g.slot) {
                        for path in chains(&j.code, |op| *op == Op::Local(slot), &name) {
                            p.add(&path);
                        }
                    }
                }
                p
            })
            .collect()
    }
}

/// The field-name chains that follow each instruction `start` matches (empty: the value itself
/// is used some other way).
fn chains(code: &Code, start: impl Fn(&Op) -> bool, name: &dyn Fn(u32) -> String) -> Vec<Vec<String>> {
    let ops = &code.ops;
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if !start(op) {
            continue;
        }
        let mut path = Vec::new();
        for next in &ops[i + 1..] {
            match next {
                Op::Field(n) => path.push(name(*n)),
                _ => break,
            }
        }
        out.push(path);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(paths: &[&[&str]]) -> Projection {
        let mut p = Projection::none();
        for path in paths {
            p.add(&path.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        p
    }

    #[test]
    fn paths_merge_and_a_whole_value_wins() {
        let got = p(&[&["a", "b"], &["a", "c"], &["d"]]);
        let want = Projection::Fields(vec![
            ("a".into(), Projection::Fields(vec![("b".into(), Projection::All), ("c".into(), Projection::All)])),
            ("d".into(), Projection::All),
        ]);
        assert_eq!(got, want);
        assert_eq!(p(&[&["a", "b"], &["a"]]), Projection::Fields(vec![("a".into(), Projection::All)]));
        assert_eq!(p(&[&["a"], &[]]), Projection::All);
        assert_eq!(p(&[]), Projection::none());
    }
}

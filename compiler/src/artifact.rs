//! Artifacts of a checked project: the bytecode crate's format ([`journey_bytecode::artifact`]),
//! with the source hash taken over a project's [`Sources`].

pub use journey_bytecode::artifact::*;

use crate::sources::{FileId, Sources};

/// SHA-256 of the given sources' names and texts, in order, as hex.
pub fn source_hash(sources: &Sources, files: &[FileId]) -> String {
    journey_bytecode::artifact::source_hash(files.iter().map(|&f| {
        let s = sources.get(f);
        (s.name.as_str(), s.text.as_str())
    }))
}

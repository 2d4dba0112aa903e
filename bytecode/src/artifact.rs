//! Writing and reading compiled artifacts: a magic prefix and the format version, then the serde
//! (postcard) encoding of [`Artifact`]. Reading one verifies it ([`crate::verify`]), so the VM
//! loads it without the sources and runs it without checking instructions one by one.

use crate::verify::{verify, VerifyError};
use crate::{Program, FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first bytes of every artifact file.
pub const MAGIC: &[u8; 8] = b"JOURNEY\x01";

/// A versioned artifact: what `journey build` writes and the VM loads without the sources.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Artifact {
    /// Format version, tool version and source hash.
    pub header: Header,
    /// The compiled program.
    pub program: Program,
}

/// The artifact header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The `journey` version that wrote it.
    pub tool_version: String,
    /// SHA-256 of the sources (file names and texts, in order), hex.
    pub source_hash: String,
}

/// Why an artifact cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Not an artifact at all.
    #[error("not a journey artifact (it does not start with the journey magic bytes); build one with `journey build`")]
    NotAnArtifact,
    /// Written by an incompatible format version.
    #[error("artifact format version {found} is not supported (this journey reads version {supported}); rebuild it with `journey build`")]
    Version {
        /// The version in the file.
        found: u32,
        /// The version this tool reads.
        supported: u32,
    },
    /// Damaged or truncated.
    #[error("the artifact is damaged: {0}; rebuild it with `journey build`")]
    Corrupt(String),
    /// Decodes, but is not a program the VM can run safely.
    #[error("the artifact holds invalid bytecode: {0}; rebuild it with `journey build`")]
    Invalid(VerifyError),
}

/// SHA-256 of the sources' names and texts, in order, as hex.
pub fn source_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Wraps a program with its header.
pub fn artifact(program: Program, source_hash: String) -> Artifact {
    Artifact {
        header: Header {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source_hash,
        },
        program,
    }
}

/// Encodes an artifact.
pub fn to_bytes(a: &Artifact) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(FORMAT_VERSION.to_le_bytes());
    // Encoding plain data into a Vec cannot fail.
    out.extend(postcard::to_stdvec(a).unwrap_or_default());
    out
}

/// Decodes an artifact, checking the magic and the format version, and verifies its program.
pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(ArtifactError::NotAnArtifact)?;
    let (version, body) = rest.split_at_checked(4).ok_or(ArtifactError::NotAnArtifact)?;
    let found = u32::from_le_bytes([version[0], version[1], version[2], version[3]]);
    if found != FORMAT_VERSION {
        return Err(ArtifactError::Version { found, supported: FORMAT_VERSION });
    }
    let (artifact, rest): (Artifact, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| ArtifactError::Corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ArtifactError::Corrupt(format!("{} unexpected bytes after the program", rest.len())));
    }
    verify(&artifact.program).map_err(ArtifactError::Invalid)?;
    Ok(artifact)
}

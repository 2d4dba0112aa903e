//! Writing and reading compiled artifacts: a magic prefix and the format version, then the serde
//! (postcard) encoding of [`Artifact`]. Reading one verifies it ([`crate::verify`]), so the VM
//! loads it without the sources and runs it without checking instructions one by one.

use crate::graph::Graph;
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
    /// Each journey's canvas, in the order of `program.journeys` (empty in an artifact of
    /// version 5 or older): what a server draws a stored version from.
    pub canvases: Vec<Graph>,
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

/// Wraps a program and its journeys' canvases with its header.
pub fn artifact(program: Program, canvases: Vec<Graph>, source_hash: String) -> Artifact {
    Artifact {
        header: Header {
            format_version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            source_hash,
        },
        program,
        canvases,
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
    let corrupt = |e: postcard::Error| ArtifactError::Corrupt(e.to_string());
    let (artifact, rest): (Artifact, &[u8]) = match found {
        FORMAT_VERSION => postcard::take_from_bytes(body).map_err(corrupt)?,
        5 => {
            let ((header, program), rest) = postcard::take_from_bytes::<(Header, Program)>(body).map_err(corrupt)?;
            (Artifact { header, program, canvases: Vec::new() }, rest)
        }
        4 => old::<crate::HttpCode, old::JourneyV4, old::Messages>(body).map_err(corrupt)?,
        3 => old::<crate::HttpCode, old::JourneyV3, ()>(body).map_err(corrupt)?,
        2 => old::<old::HttpV2, old::JourneyV3, ()>(body).map_err(corrupt)?,
        _ => return Err(ArtifactError::Version { found, supported: FORMAT_VERSION }),
    };
    if !rest.is_empty() {
        return Err(ArtifactError::Corrupt(format!("{} unexpected bytes after the program", rest.len())));
    }
    verify(&artifact.program).map_err(ArtifactError::Invalid)?;
    Ok(artifact)
}

/// Reads an artifact of an older format version whose actions are `H`, journeys `J` and message
/// declarations `M`, and upgrades it to this one (what it lacks is empty).
fn old<H, J, M>(body: &[u8]) -> postcard::Result<(Artifact, &[u8])>
where
    H: serde::de::DeserializeOwned + Into<crate::HttpCode>,
    J: serde::de::DeserializeOwned + Into<crate::JourneyCode>,
    M: serde::de::DeserializeOwned + Into<old::Messages>,
{
    let (a, rest) = postcard::take_from_bytes::<old::Artifact<H, J, M>>(body)?;
    Ok((a.upgrade(), rest))
}

/// The older format versions. Postcard writes a struct as its fields one after another, so each
/// is the fields of the one before plus what it added, and reads as such.
mod old {
    use crate::{
        AuthCode, AwaitCode, CallCode, CapCode, ChannelCode, Code, Const, EventCode, FrequencyCode, HttpKind, NodeInfo,
        Reentry, SendCode, SplitCode, Start, TestCode, Ty, UrlPart,
    };
    use serde::Deserialize;

    /// An artifact of versions 2 to 4: the program's fields up to `tests`, then (version 4) its
    /// message declarations.
    #[derive(Deserialize)]
    pub(super) struct Artifact<H, J, M> {
        header: super::Header,
        consts: Vec<Const>,
        names: Vec<String>,
        shapes: Vec<Vec<u32>>,
        functions: Vec<String>,
        profile: Option<Ty>,
        events: Vec<EventCode>,
        http: Vec<H>,
        audiences: Vec<String>,
        journeys: Vec<J>,
        tests: Vec<TestCode>,
        messages: M,
    }

    impl<H: Into<crate::HttpCode>, J: Into<crate::JourneyCode>, M: Into<Messages>> Artifact<H, J, M> {
        pub(super) fn upgrade(self) -> super::Artifact {
            let Messages { channels, frequencies } = self.messages.into();
            let program = crate::Program {
                consts: self.consts,
                names: self.names,
                shapes: self.shapes,
                functions: self.functions,
                profile: self.profile,
                events: self.events,
                http: self.http.into_iter().map(Into::into).collect(),
                audiences: self.audiences,
                journeys: self.journeys.into_iter().map(Into::into).collect(),
                tests: self.tests,
                channels,
                frequencies,
            };
            super::Artifact { header: self.header, program, canvases: Vec::new() }
        }
    }

    /// Channels and frequency rules, which came with version 4 (before it: none).
    #[derive(Deserialize, Default)]
    pub(super) struct Messages {
        channels: Vec<ChannelCode>,
        frequencies: Vec<FrequencyCode>,
    }

    impl From<()> for Messages {
        fn from((): ()) -> Self {
            Messages::default()
        }
    }

    /// An action or data source of version 2, before `concurrency` (none has a limit of its own).
    #[derive(Deserialize)]
    pub(super) struct HttpV2 {
        kind: HttpKind,
        name: String,
        params: Vec<(String, Ty)>,
        method: String,
        url: Vec<UrlPart>,
        headers: Vec<(String, u32)>,
        query: Vec<(String, u32)>,
        body: Option<u32>,
        auth: AuthCode,
        timeout_ms: i64,
        retries: i64,
        backoff_ms: i64,
        throttle: Option<(i64, i64)>,
        cache_ms: Option<i64>,
        returns: Ty,
        code: Code,
    }

    impl From<HttpV2> for crate::HttpCode {
        fn from(h: HttpV2) -> Self {
            crate::HttpCode {
                kind: h.kind,
                name: h.name,
                params: h.params,
                method: h.method,
                url: h.url,
                headers: h.headers,
                query: h.query,
                body: h.body,
                auth: h.auth,
                settings: crate::HttpSettings {
                    timeout_ms: h.timeout_ms,
                    retries: h.retries,
                    backoff_ms: h.backoff_ms,
                    throttle: h.throttle,
                    concurrency: None,
                    cache_ms: h.cache_ms,
                },
                returns: h.returns,
                code: h.code,
            }
        }
    }

    /// A journey of versions 2 and 3, before messages (`send`, a computed `timezone`) and goals.
    #[derive(Deserialize)]
    pub(super) struct JourneyV3 {
        name: String,
        start: Start,
        reentry: Reentry,
        timezone: String,
        timeout_ms: i64,
        active: Option<(String, String)>,
        exit_on: Vec<String>,
        locals: u16,
        event_paths: Vec<Vec<String>>,
        code: Code,
        nodes: Vec<NodeInfo>,
        awaits: Vec<AwaitCode>,
        calls: Vec<CallCode>,
        splits: Vec<SplitCode>,
        caps: Vec<CapCode>,
        updates: Vec<Vec<Vec<String>>>,
    }

    impl From<JourneyV3> for crate::JourneyCode {
        fn from(j: JourneyV3) -> Self {
            crate::JourneyCode {
                name: j.name,
                start: j.start,
                reentry: j.reentry,
                timezone: j.timezone,
                timeout_ms: j.timeout_ms,
                active: j.active,
                exit_on: j.exit_on,
                locals: j.locals,
                event_paths: j.event_paths,
                code: j.code,
                nodes: j.nodes,
                awaits: j.awaits,
                calls: j.calls,
                splits: j.splits,
                caps: j.caps,
                updates: j.updates,
                sends: Vec::new(),
                timezone_expr: None,
                goals: Vec::new(),
            }
        }
    }

    /// A journey of version 4: version 3's, then its sends and computed `timezone`; no goals.
    #[derive(Deserialize)]
    pub(super) struct JourneyV4 {
        before: JourneyV3,
        sends: Vec<SendCode>,
        timezone_expr: Option<u32>,
    }

    impl From<JourneyV4> for crate::JourneyCode {
        fn from(j: JourneyV4) -> Self {
            crate::JourneyCode { sends: j.sends, timezone_expr: j.timezone_expr, ..j.before.into() }
        }
    }
}

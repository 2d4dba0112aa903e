//! Errors of the schema loader: one line each, with what to do in [`SchemaError::help`].

use crate::registry::SchemaKind;
use std::path::PathBuf;

/// Why a schema could not be loaded. The message is one line; `help()` says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// No schema in the search paths or the standard XDM components has this `$id`.
    #[error("unknown XDM schema `{id}`")]
    UnknownId {
        /// The `$id` asked for.
        id: String,
        /// The nearest known `$id`, if one is close.
        suggestion: Option<String>,
    },
    /// A schema file or search path that does not exist.
    #[error("schema file `{}` not found", path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A schema file or search path that exists but cannot be read.
    #[error("cannot read schema path `{}`: {reason}", path.display())]
    Unreadable {
        /// The unreadable path.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A schema file that is not valid JSON.
    #[error("invalid JSON in `{}` at line {line}, column {column}: {reason}", path.display())]
    InvalidJson {
        /// The file (embedded components show as `<xdm>/...`).
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json expected.
        reason: String,
    },
    /// A `$ref` that names no known schema, file or definition.
    #[error("`$ref` \"{reference}\" in `{}` does not resolve", path.display())]
    UnresolvedRef {
        /// The file that holds the `$ref`.
        path: PathBuf,
        /// The `$ref` as written.
        reference: String,
        /// The nearest known `$id`, when the reference names an unknown one.
        suggestion: Option<String>,
    },
    /// A field group (`with "..."`) that does not describe an object.
    #[error("field group `{id}` is not an object schema")]
    NotAnObject {
        /// The field group's `$id`.
        id: String,
        /// What kind of schema it is, when known.
        kind: Option<SchemaKind>,
    },
    /// Two user schema files declare the same `$id`; the first one found is used.
    #[error("duplicate `$id` `{id}` in `{}` (the one in `{}` is used)", path.display(), first.display())]
    DuplicateId {
        /// The duplicated `$id`.
        id: String,
        /// The file that is ignored.
        path: PathBuf,
        /// The file that is used.
        first: PathBuf,
    },
}

impl SchemaError {
    /// The nearest existing `$id`, for a "did you mean" note.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            SchemaError::UnknownId { suggestion, .. } | SchemaError::UnresolvedRef { suggestion, .. } => {
                suggestion.as_deref()
            }
            _ => None,
        }
    }

    /// One line saying what to do about the error.
    pub fn help(&self) -> String {
        match self {
            SchemaError::UnknownId { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            SchemaError::UnknownId { .. } => {
                "add the folder holding this schema to `[schemas] paths` in journey.toml, or check the `$id`".into()
            }
            SchemaError::NotFound { .. } => {
                "check the path; a relative path is read from the folder of the file that names it".into()
            }
            SchemaError::Unreadable { .. } => "check the file's permissions".into(),
            SchemaError::InvalidJson { .. } => "fix the JSON syntax at that position".into(),
            SchemaError::UnresolvedRef { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            SchemaError::UnresolvedRef { .. } => {
                "add the schema it names to a search path, or fix the reference".into()
            }
            SchemaError::NotAnObject { kind: Some(k), .. } => {
                format!("this `$id` is a {k}; list only field groups after `with`")
            }
            SchemaError::NotAnObject { .. } => "list only field groups after `with`".into(),
            SchemaError::DuplicateId { .. } => "give each schema file its own `$id`".into(),
        }
    }

    /// An [`SchemaError::InvalidJson`] from a serde_json error.
    pub(crate) fn json(path: PathBuf, e: &serde_json::Error) -> SchemaError {
        let text = e.to_string();
        let reason = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        SchemaError::InvalidJson { path, line: e.line(), column: e.column(), reason }
    }

    /// An error for a path that cannot be read.
    pub(crate) fn io(path: PathBuf, e: &std::io::Error) -> SchemaError {
        if e.kind() == std::io::ErrorKind::NotFound {
            SchemaError::NotFound { path }
        } else {
            SchemaError::Unreadable { path, reason: e.to_string() }
        }
    }
}

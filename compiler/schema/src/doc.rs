//! A parsed schema file and where it came from.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a schema file lives: in the embedded components or on disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum DocKey {
    /// A path under the embedded `xdm/components/`.
    Embedded(&'static str),
    /// A canonical path on disk.
    File(PathBuf),
}

impl DocKey {
    /// The path to show in messages (`<xdm>/classes/profile.schema.json` for embedded files).
    pub(crate) fn display(&self) -> PathBuf {
        match self {
            DocKey::Embedded(p) => PathBuf::from(format!("<xdm>/{p}")),
            DocKey::File(p) => p.clone(),
        }
    }
}

/// One parsed schema file.
#[derive(Debug)]
pub(crate) struct Doc {
    pub key: DocKey,
    pub value: Value,
}

impl Doc {
    /// The file's `$id`, if it has one.
    pub(crate) fn base_id(&self) -> Option<&str> {
        self.value.get("$id").and_then(Value::as_str)
    }

    /// The folder that relative file references are read from (on disk only).
    pub(crate) fn dir(&self) -> Option<&Path> {
        match &self.key {
            DocKey::File(p) => p.parent(),
            DocKey::Embedded(_) => None,
        }
    }
}

/// Reads and parses a JSON file; errors name the path (and line/column for bad JSON).
pub(crate) fn read_file(path: &Path) -> Result<Doc, crate::SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::SchemaError::io(path.to_path_buf(), &e))?;
    let value = serde_json::from_str(&text).map_err(|e| crate::SchemaError::json(path.to_path_buf(), &e))?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(Doc { key: DocKey::File(canonical), value })
}

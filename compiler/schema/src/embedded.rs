//! The standard Adobe XDM components, embedded in the binary, and a process-wide cache of their
//! parsed files (they never change, so every registry shares them).

use crate::doc::{Doc, DocKey};
use crate::error::SchemaError;
use crate::xdm::Header;
use include_dir::{include_dir, Dir, File};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static COMPONENTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/xdm/components");

/// One indexed embedded schema: its `$id`, its path under `components/` and its header.
pub(crate) struct EmbeddedEntry {
    pub id: String,
    pub path: &'static str,
    pub header: Header,
}

/// Every embedded `*.schema.json` that has an `$id`, in path order (scanned once per process).
pub(crate) fn index() -> &'static [EmbeddedEntry] {
    static INDEX: OnceLock<Vec<EmbeddedEntry>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut files = Vec::new();
        walk(&COMPONENTS, &mut files);
        files.sort_by_key(|f| f.path());
        files
            .into_iter()
            .filter_map(|f| {
                let path = f.path().to_str()?;
                if !path.ends_with(".schema.json") {
                    return None;
                }
                // The embedded files are valid JSON (a test checks); a broken one is skipped.
                let header: Header = serde_json::from_slice(f.contents()).ok()?;
                let id = header.id.clone()?;
                Some(EmbeddedEntry { id, path, header })
            })
            .collect()
    })
}

fn walk(dir: &'static Dir<'static>, out: &mut Vec<&'static File<'static>>) {
    out.extend(dir.files());
    for d in dir.dirs() {
        walk(d, out);
    }
}

/// The embedded file at `path` (relative to `components/`), if there is one.
pub(crate) fn file(path: &str) -> Option<&'static File<'static>> {
    COMPONENTS.get_file(path)
}

/// The parsed embedded file at `path`, parsed once per process.
pub(crate) fn doc(path: &'static str) -> Result<Arc<Doc>, SchemaError> {
    static DOCS: OnceLock<Mutex<HashMap<&'static str, Arc<Doc>>>> = OnceLock::new();
    let docs = DOCS.get_or_init(Default::default);
    if let Some(d) = docs.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return Ok(d.clone());
    }
    let key = DocKey::Embedded(path);
    let bytes = file(path).map(|f| f.contents()).unwrap_or_default();
    let value = serde_json::from_slice(bytes).map_err(|e| SchemaError::json(key.display(), &e))?;
    let d = Arc::new(Doc { key, value });
    docs.lock().unwrap_or_else(|e| e.into_inner()).insert(path, d.clone());
    Ok(d)
}

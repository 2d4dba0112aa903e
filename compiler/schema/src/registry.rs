//! The schema registry: every schema of the user's search paths, then the embedded standard XDM
//! components, indexed by `$id`; resolved types are cached.

use crate::doc::{read_file, Doc, DocKey};
use crate::embedded;
use crate::error::SchemaError;
use crate::part::Part;
use crate::resolve::{NodeKey, Resolver};
use crate::types::Ty;
pub use crate::xdm::SchemaKind;
use crate::xdm::{looks_like_xdm, Header};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// One indexed `$id`.
#[derive(Debug)]
struct Entry {
    key: DocKey,
    kind: SchemaKind,
    title: Option<String>,
    intended: Vec<String>,
}

/// Schemas by `$id` (user search paths first, then the embedded XDM components) and the types
/// resolved from them. Cheap to query repeatedly: every result is cached. `Send + Sync`.
#[derive(Debug)]
pub struct SchemaRegistry {
    ids: IndexMap<String, Entry>,
    warnings: Vec<SchemaError>,
    files: Mutex<HashMap<PathBuf, Arc<Doc>>>,
    parts: Mutex<HashMap<NodeKey, Part>>,
    composed: Mutex<HashMap<(String, Vec<String>), Ty>>,
    json_files: Mutex<HashMap<PathBuf, Ty>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SchemaRegistry {
    /// A registry of the `*.json` files under `paths` (searched recursively, earlier paths
    /// win), then the embedded XDM components. A missing or unreadable path is an error; a JSON
    /// file that does not parse is skipped and listed in [`SchemaRegistry::warnings`].
    pub fn new(paths: &[PathBuf]) -> Result<SchemaRegistry, SchemaError> {
        let mut reg = SchemaRegistry {
            ids: IndexMap::new(),
            warnings: Vec::new(),
            files: Mutex::default(),
            parts: Mutex::default(),
            composed: Mutex::default(),
            json_files: Mutex::default(),
        };
        for root in paths {
            let meta = std::fs::metadata(root).map_err(|e| SchemaError::io(root.clone(), &e))?;
            let mut files = Vec::new();
            if meta.is_dir() {
                walk(root, &mut files)?;
            } else {
                files.push(root.clone());
            }
            for f in files {
                // The kind may come from folder names, but only those inside the search path.
                let rel = f.strip_prefix(root).unwrap_or(&f).to_string_lossy().into_owned();
                reg.add_file(&f, &rel);
            }
        }
        for e in embedded::index() {
            reg.ids.entry(e.id.clone()).or_insert_with(|| Entry {
                key: DocKey::Embedded(e.path),
                kind: e.header.kind(e.path),
                title: e.header.title.clone(),
                intended: e.header.intended(),
            });
        }
        Ok(reg)
    }

    fn add_file(&mut self, path: &Path, rel: &str) {
        let doc = match read_file(path) {
            Ok(d) => Arc::new(d),
            Err(e) => return self.warnings.push(e),
        };
        let header = Header::of(&doc.value);
        let DocKey::File(canonical) = doc.key.clone() else {
            return;
        };
        lock(&self.files).insert(canonical.clone(), doc);
        // `http://x/s.json#` and `http://x/s.json` are the same `$id`.
        let Some(id) = header.id.as_deref().map(|i| i.trim_end_matches('#').to_string()) else {
            return;
        };
        if let Some(first) = self.ids.get(&id) {
            let first = first.key.display();
            self.warnings.push(SchemaError::DuplicateId { id, path: canonical, first });
            return;
        }
        let entry = Entry {
            kind: header.kind(rel),
            title: header.title.clone(),
            intended: header.intended(),
            key: DocKey::File(canonical),
        };
        self.ids.insert(id, entry);
    }

    /// Problems found while indexing the search paths (bad JSON, duplicate `$id`s): worth a
    /// warning, not fatal.
    pub fn warnings(&self) -> &[SchemaError] {
        &self.warnings
    }

    /// An XDM class (or any schema by `$id`) plus field groups, composed into one record.
    pub fn xdm(&self, id: &str, with: &[&str]) -> Result<Ty, SchemaError> {
        let key = (id.to_string(), with.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        if let Some(t) = lock(&self.composed).get(&key) {
            return Ok(t.clone());
        }
        let mut r = Resolver::new(self, true);
        let mut part = r.root(&self.doc_by_id(id)?)?;
        for fg in with {
            let p = r.root(&self.doc_by_id(fg)?)?;
            if !p.is_object() {
                return Err(SchemaError::NotAnObject { id: fg.to_string(), kind: self.kind(fg) });
            }
            part = part.and(p);
        }
        let ty = part.finish_base();
        lock(&self.composed).insert(key, ty.clone());
        Ok(ty)
    }

    /// A plain JSON Schema file (draft-06 to 2020-12). A file with `meta:` keys at its root is
    /// read as XDM (field names drop `xdm:`).
    pub fn json_file(&self, path: &Path) -> Result<Ty, SchemaError> {
        let doc = self.file_doc(path)?;
        let DocKey::File(canonical) = &doc.key else { unreachable!("files are on disk") };
        if let Some(t) = lock(&self.json_files).get(canonical) {
            return Ok(t.clone());
        }
        let ty = Resolver::new(self, looks_like_xdm(&doc.value)).root(&doc)?.finish_base();
        lock(&self.json_files).insert(canonical.clone(), ty.clone());
        Ok(ty)
    }

    /// Every indexed `$id`: the user's first, then the embedded components.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.keys().map(String::as_str)
    }

    /// Whether `id` is indexed.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// What kind of schema `id` is (class, field group, data type, ...), if indexed.
    pub fn kind(&self, id: &str) -> Option<SchemaKind> {
        self.ids.get(id).map(|e| e.kind)
    }

    /// The schema's `title`, if indexed and it has one.
    pub fn title(&self, id: &str) -> Option<&str> {
        self.ids.get(id)?.title.as_deref()
    }

    /// Where the schema `id` comes from (`<xdm>/...` for embedded components), for messages.
    pub fn source(&self, id: &str) -> Option<PathBuf> {
        Some(self.ids.get(id)?.key.display())
    }

    /// The field groups whose `meta:intendedToExtend` lists `class` (for completion).
    pub fn field_groups_for<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.ids
            .iter()
            .filter(move |(_, e)| e.kind == SchemaKind::FieldGroup && e.intended.iter().any(|c| c == class))
            .map(|(id, _)| id.as_str())
    }

    /// The indexed `$id` nearest to `id` (same last path segment, else by edit distance), for
    /// "did you mean".
    pub fn suggest_id(&self, id: &str) -> Option<String> {
        let last = |s: &str| s.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
        let want = last(id);
        let same_last = self.ids().filter(|c| last(c) == want).min_by_key(|c| strsim::levenshtein(id, c));
        if let Some(c) = same_last {
            return Some(c.to_string());
        }
        let limit = (id.len() / 3).max(3);
        self.ids()
            .map(|c| (strsim::levenshtein(id, c), c))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c.to_string())
    }

    /// The parsed file with `$id` `id`.
    fn doc_by_id(&self, id: &str) -> Result<Arc<Doc>, SchemaError> {
        match self.ids.get(id).or_else(|| self.ids.get(id.trim_end_matches('#'))) {
            Some(e) => self.doc(&e.key),
            None => Err(SchemaError::UnknownId { id: id.to_string(), suggestion: self.suggest_id(id) }),
        }
    }

    fn doc(&self, key: &DocKey) -> Result<Arc<Doc>, SchemaError> {
        match key {
            DocKey::Embedded(p) => embedded::doc(p),
            DocKey::File(p) => self.file_doc(p),
        }
    }

    /// The parsed file at `path`, read once.
    fn file_doc(&self, path: &Path) -> Result<Arc<Doc>, SchemaError> {
        let canonical = std::fs::canonicalize(path).map_err(|e| SchemaError::io(path.to_path_buf(), &e))?;
        if let Some(d) = lock(&self.files).get(&canonical) {
            return Ok(d.clone());
        }
        let d = Arc::new(read_file(&canonical)?);
        lock(&self.files).insert(canonical, d.clone());
        Ok(d)
    }

    /// The file a `$ref`'s part before `#` names, seen from `doc`: an `$id`, an `$id` relative
    /// to `doc`'s `$id`, or a path relative to `doc`'s folder.
    pub(crate) fn doc_for_ref(&self, doc: &Doc, base: &str, whole: &str) -> Result<Arc<Doc>, SchemaError> {
        let unresolved = |suggestion| SchemaError::UnresolvedRef {
            path: doc.key.display(),
            reference: whole.to_string(),
            suggestion,
        };
        if let Some(e) = self.ids.get(base).or_else(|| self.ids.get(base.trim_end_matches('/'))) {
            return self.doc(&e.key);
        }
        if is_absolute(base) {
            return Err(unresolved(self.suggest_id(base)));
        }
        if let Some(joined) = doc.base_id().filter(|b| is_absolute(b)).map(|b| join(b, base)) {
            if let Some(e) = self.ids.get(&joined) {
                return self.doc(&e.key);
            }
        }
        match &doc.key {
            DocKey::File(_) => {
                let path = doc.dir().unwrap_or(Path::new(".")).join(base);
                if path.exists() {
                    return self.file_doc(&path);
                }
            }
            DocKey::Embedded(p) => {
                if let Some(f) = embedded::file(&join(p, base)) {
                    if let Some(p) = f.path().to_str() {
                        return embedded::doc(p);
                    }
                }
            }
        }
        Err(unresolved(None))
    }

    pub(crate) fn cached_part(&self, key: &NodeKey) -> Option<Part> {
        lock(&self.parts).get(key).cloned()
    }

    pub(crate) fn cache_part(&self, key: NodeKey, part: Part) {
        lock(&self.parts).insert(key, part);
    }
}

/// Collects the `*.json` files under `dir`, sorted; skips hidden folders and `node_modules`,
/// and does not follow symlinked folders.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SchemaError> {
    let rd = std::fs::read_dir(dir).map_err(|e| SchemaError::io(dir.to_path_buf(), &e))?;
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let name = e.file_name();
        let skipped = name.to_string_lossy().starts_with('.') || name == "node_modules";
        if is_dir && !skipped {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn is_absolute(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) && !uri.starts_with("./")
}

/// `rel` resolved against `base` (a URI or an embedded path): replaces the last segment, folds
/// `./` and `../`.
fn join(base: &str, rel: &str) -> String {
    let dir = base.rfind('/').map_or("", |i| &base[..i]);
    let mut parts: Vec<&str> = if dir.is_empty() { Vec::new() } else { dir.split('/').collect() };
    for seg in rel.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

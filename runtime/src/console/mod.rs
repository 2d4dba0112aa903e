//! The web console `journey serve` shows at `/`: static files built into the binary (no CDN,
//! it works offline) and the journeys' canvases (the SVG of `journey graph`, with the node ids
//! reports use). The console reads the same API as any client, with the same bearer token:
//! without it, the page it serves is the login and nothing else.

use crate::store::VersionRow;
use journey_compiler::artifact::{self, Artifact};
use journey_compiler::graph::Graph;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");
/// Its script (a plain ES module).
pub const APP_JS: &str = include_str!("app.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("style.css");

/// Reads every stored version (oldest first) from the store.
pub type ReadVersions = dyn Fn() -> Result<Vec<VersionRow>, String> + Send + Sync;

/// The canvases of the stored versions, each drawn from what its artifact keeps (the canvases
/// of the project as it was published), so that every version is drawn as it runs, on any node
/// of a cluster and whatever the files on disk say now. A version is read from the store the
/// first time it is asked for; each drawing is kept once made.
pub struct Canvases {
    /// Each version's canvases, by version.
    versions: RwLock<HashMap<u32, Arc<Vec<Graph>>>>,
    /// The SVGs drawn so far, by version and journey.
    drawn: RwLock<HashMap<(u32, String), Arc<str>>>,
    read: Box<ReadVersions>,
    /// When the store was last read: a version not found is looked for again only a second
    /// later (each read holds every artifact).
    read_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// The project on disk, for versions stored before artifacts kept canvases.
    project: PathBuf,
    schemas: Vec<PathBuf>,
}

/// What [`Canvases::svg`] found.
#[derive(Debug)]
pub enum Drawing {
    /// The journey's canvas in that version.
    Svg(Arc<str>),
    /// No version of that number is stored.
    NoVersion,
    /// The version has no journey of that name.
    NoJourney,
    /// The version was stored before artifacts kept canvases, and the project's files have
    /// changed since.
    NotKept,
}

impl Canvases {
    /// Canvases read with `read`; `project` and `schemas` draw the versions stored before
    /// artifacts kept canvases, when the files on disk are still the ones published.
    pub fn new(project: PathBuf, schemas: Vec<PathBuf>, read: Box<ReadVersions>) -> Canvases {
        Canvases {
            versions: Default::default(),
            drawn: Default::default(),
            read,
            read_at: Default::default(),
            project,
            schemas,
        }
    }

    /// Keeps the canvases of a version just stored (no need to read it back).
    pub fn keep(&self, version: u32, a: &Artifact) {
        let kept = Arc::new(self.of(a, &mut None));
        self.versions.write().unwrap_or_else(PoisonError::into_inner).insert(version, kept);
    }

    /// The SVG of `journey` in `version`. Blocks while it reads the store (a version not seen
    /// yet) or draws.
    pub fn svg(&self, journey: &str, version: u32) -> Result<Drawing, String> {
        let key = (version, journey.to_string());
        if let Some(svg) = self.drawn.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(Drawing::Svg(svg.clone()));
        }
        let known = self.versions.read().unwrap_or_else(PoisonError::into_inner).get(&version).cloned();
        let graphs = match known {
            Some(g) => g,
            None => match self.read_version(version)? {
                Some(g) => g,
                None => return Ok(Drawing::NoVersion),
            },
        };
        if graphs.is_empty() {
            return Ok(Drawing::NotKept);
        }
        let Some(g) = graphs.iter().find(|g| g.journey == journey) else { return Ok(Drawing::NoJourney) };
        let svg: Arc<str> = journey_compiler::graph::svg::render(g).into();
        self.drawn.write().unwrap_or_else(PoisonError::into_inner).insert(key, svg.clone());
        Ok(Drawing::Svg(svg))
    }

    /// Reads the versions not kept yet from the store; returns `version`'s canvases.
    fn read_version(&self, version: u32) -> Result<Option<Arc<Vec<Graph>>>, String> {
        // Held through the read: a request that waited for another's read finds the versions
        // it read (rather than being told there is no such version).
        let mut at = self.read_at.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(g) = self.versions.read().unwrap_or_else(PoisonError::into_inner).get(&version) {
            return Ok(Some(g.clone()));
        }
        if at.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1)) {
            return Ok(None);
        }
        *at = Some(std::time::Instant::now());
        let rows = (self.read)()?;
        let mut disk = None;
        let mut read = Vec::new();
        for row in rows {
            if self.versions.read().unwrap_or_else(PoisonError::into_inner).contains_key(&row.version) {
                continue;
            }
            let a = artifact::from_bytes(&row.artifact).map_err(|e| format!("version {}: {e}", row.version))?;
            read.push((row.version, Arc::new(self.of(&a, &mut disk))));
        }
        let mut versions = self.versions.write().unwrap_or_else(PoisonError::into_inner);
        for (v, graphs) in read {
            versions.entry(v).or_insert(graphs);
        }
        Ok(versions.get(&version).cloned())
    }

    /// An artifact's canvases. One written before artifacts kept them is drawn from the files
    /// on disk only while their source hash is the artifact's (`disk` holds the project built
    /// once, with its hash).
    fn of(&self, a: &Artifact, disk: &mut Option<Option<(String, Vec<Graph>)>>) -> Vec<Graph> {
        if !a.canvases.is_empty() || a.program.journeys.is_empty() {
            return a.canvases.clone();
        }
        let built = disk.get_or_insert_with(|| {
            let build =
                journey_compiler::driver::load(std::slice::from_ref(&self.project), &self.schemas).ok()?.check();
            (build.errors() == 0)
                .then(|| (artifact::source_hash(&build.sources, &build.journey_files), build.canvases()))
        });
        match built {
            Some((hash, canvases)) if *hash == a.header.source_hash => canvases.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str =
        "type T = { k: string }\nevent E: T { key k }\njourney J {\n  start on E\n  wait 1h\n  end \"v1\"\n}\n";

    /// Canvases over one stored version, artifact `bytes`, of the project in `dir`.
    fn over(dir: &std::path::Path, bytes: Vec<u8>) -> Canvases {
        let read = move || Ok(vec![VersionRow { version: 1, artifact: bytes.clone(), published_ms: 0 }]);
        Canvases::new(dir.to_path_buf(), Vec::new(), Box::new(read))
    }

    fn nodes(d: Drawing) -> usize {
        match d {
            Drawing::Svg(svg) => svg.matches("<g class=\"node ").count(),
            other => panic!("no drawing: {other:?}"),
        }
    }

    /// A version stored before artifacts kept canvases is drawn from the files on disk while
    /// they are the ones published, and not drawn once they changed.
    #[test]
    fn an_artifact_without_canvases_is_drawn_from_the_disk_only_while_its_hash_matches() {
        let dir = std::env::temp_dir().join(format!("journey-canvases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("p.journey"), V1).expect("write");
        let bytes = journey_compiler::driver::artifact_of(&dir, &[]).expect("compiles");
        let mut old = artifact::from_bytes(&bytes).expect("an artifact");
        assert_eq!(old.canvases.len(), 1);
        // The stored artifact keeps its canvas whatever the disk says.
        std::fs::write(dir.join("p.journey"), V1.replace("wait 1h\n", "")).expect("write");
        assert_eq!(nodes(over(&dir, bytes).svg("J", 1).expect("read")), 3);
        old.canvases.clear();
        let old = artifact::to_bytes(&old);
        assert!(matches!(over(&dir, old.clone()).svg("J", 1), Ok(Drawing::NotKept)));
        std::fs::write(dir.join("p.journey"), V1).expect("write");
        let canvases = over(&dir, old);
        assert_eq!(nodes(canvases.svg("J", 1).expect("read")), 3, "the files are the ones published");
        assert!(matches!(canvases.svg("K", 1), Ok(Drawing::NoJourney)));
        assert!(matches!(canvases.svg("J", 2), Ok(Drawing::NoVersion)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

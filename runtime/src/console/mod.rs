//! The web console `journey serve` shows at `/`: static files built into the binary (no CDN,
//! it works offline) and the journeys' canvases (the SVG of `journey graph`, with the node ids
//! reports use). The console reads the same API as any client, with the same bearer token:
//! without it, the page it serves is the login and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The page.
pub const INDEX_HTML: &str = include_str!("index.html");
/// Its script (a plain ES module).
pub const APP_JS: &str = include_str!("app.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("style.css");

/// Each journey's canvas as SVG, by name: drawn from the project's sources when the server
/// starts and again at each publish (the versions store bytecode, which has no edges).
#[derive(Debug, Clone, Default)]
pub struct Graphs(Arc<RwLock<BTreeMap<String, String>>>);

impl Graphs {
    /// The SVG of a journey.
    pub fn get(&self, journey: &str) -> Option<String> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(journey).cloned()
    }

    /// Draws every journey of the project in `dir` again; keeps the old drawings when it does
    /// not compile.
    pub fn redraw(&self, dir: &Path, schemas: &[PathBuf]) -> Result<(), String> {
        let build = journey_compiler::driver::load(&[dir.to_path_buf()], schemas).map_err(|e| e.to_string())?.check();
        if build.errors() > 0 {
            return Err(build.render_errors());
        }
        let program = &build.checked.program;
        let drawn: BTreeMap<String, String> = program
            .journeys
            .iter()
            .map(|j| {
                let g = journey_compiler::graph::build(j, &build.sources.get(j.file).text, &program.http);
                (j.name.clone(), journey_compiler::graph::svg::render(&g))
            })
            .collect();
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = drawn;
        Ok(())
    }
}

//! The language server: documents in, diagnostics out, and the requests editors make.

use crate::world::{doc_path, lsp_diagnostics, Analysis, World};
use crate::{actions, completion, hover, navigate, tokens};
use journey_compiler::sources::FileId;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{self as l, Uri};
use tower_lsp_server::{Client, LanguageServer};

/// The server's state: the client to notify, and what the checker shares with the handlers.
pub struct Backend {
    client: Client,
    shared: Arc<Shared>,
    watch: AtomicBool,
}

/// What request handlers and the background checker share.
struct Shared {
    world: Mutex<World>,
    /// Work for the checker; see [`Pending`].
    pending: Mutex<Pending>,
    /// What was last published for each URI: for which project root, and document version.
    published: Mutex<HashMap<Uri, Published>>,
    panics: AtomicUsize,
}

/// Diagnostics as last published for a URI.
struct Published {
    root: PathBuf,
    diagnostics: Vec<l::Diagnostic>,
    version: Option<i32>,
}

/// Work waiting for the checker. Edits are queued here rather than applied at once, so that
/// an edit never waits for a check to finish: the next check (or any request) applies every
/// queued edit first, and a burst of edits costs one check of the latest text instead of one
/// per edit.
#[derive(Default)]
struct Pending {
    /// Document changes not yet applied to the world, oldest first.
    changes: Vec<l::DidChangeTextDocumentParams>,
    /// Project roots to check and publish.
    roots: BTreeSet<PathBuf>,
    /// Whether a checker task is running (it runs until nothing is pending).
    running: bool,
}

/// A handle on a running backend, for tests: how much work it did.
#[derive(Clone)]
pub struct Stats(Arc<Shared>);

impl Stats {
    /// How many times a project was checked (edits coalesced into one check count once).
    pub fn checks(&self) -> usize {
        self.0.world().checks()
    }

    /// How many times a request or analysis panicked (and was turned into no answer).
    pub fn panics(&self) -> usize {
        self.0.panics.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The world, with every queued edit applied.
    fn world(&self) -> MutexGuard<'_, World> {
        let mut w = lock(&self.world);
        let changes = std::mem::take(&mut lock(&self.pending).changes);
        if changes.is_empty() {
            return w;
        }
        let mut roots = Vec::new();
        for params in changes {
            let root = self.guard(|| apply_change(&mut w, params)).flatten();
            roots.extend(root);
        }
        lock(&self.pending).roots.extend(roots);
        w
    }

    /// Runs `f`, turning a panic into `None` (counted, and logged on stderr by the hook).
    fn guard<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(t) => Some(t),
            Err(_) => {
                self.panics.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Checks the project at `root` (on the latest text) and returns the diagnostics that
    /// changed since last published, with the document versions they are for.
    fn diff(&self, root: &Path) -> Vec<(Uri, Vec<l::Diagnostic>, Option<i32>)> {
        let Some(list) = ({
            let mut w = self.world();
            self.guard(|| {
                let a = w.analysis(root);
                let diags = lsp_diagnostics(&a);
                diags
                    .into_iter()
                    .map(|(uri, d)| {
                        let version = w.doc(&doc_path(&uri)).map(|d| d.version);
                        (uri, d, version)
                    })
                    .collect::<Vec<_>>()
            })
        }) else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        let mut published = lock(&self.published);
        // Files that left the project (deleted, moved) lose their diagnostics.
        let gone: Vec<Uri> = published
            .iter()
            .filter(|(uri, p)| p.root == root && !p.diagnostics.is_empty() && !list.iter().any(|(u, _, _)| u == *uri))
            .map(|(uri, _)| uri.clone())
            .collect();
        for uri in gone {
            published
                .insert(uri.clone(), Published { root: root.to_path_buf(), diagnostics: Vec::new(), version: None });
            changed.push((uri, Vec::new(), None));
        }
        for (uri, diagnostics, version) in list {
            // Unchanged diagnostics are sent again for a new version of an open document, so
            // the editor knows they hold for what it shows.
            let same = published.get(&uri).is_some_and(|p| p.diagnostics == diagnostics && p.version == version);
            if !same {
                published.insert(
                    uri.clone(),
                    Published { root: root.to_path_buf(), diagnostics: diagnostics.clone(), version },
                );
                changed.push((uri, diagnostics, version));
            }
        }
        changed
    }

    /// The next project to check, or `None` when nothing is pending (then the checker stops).
    fn next_root(&self) -> Option<PathBuf> {
        let mut p = lock(&self.pending);
        if !p.changes.is_empty() {
            drop(p);
            drop(self.world());
            p = lock(&self.pending);
        }
        match p.roots.pop_first() {
            Some(root) => Some(root),
            None if p.changes.is_empty() => {
                p.running = false;
                None
            }
            // Edits came in meanwhile: their roots are known once they are applied.
            None => Some(PathBuf::new()),
        }
    }
}

/// Applies one `didChange` to its document; returns the document's project root.
fn apply_change(w: &mut World, params: l::DidChangeTextDocumentParams) -> Option<PathBuf> {
    let path = doc_path(&params.text_document.uri);
    let version = params.text_document.version;
    w.edit(&path, |doc| {
        for change in params.content_changes {
            match change.range {
                Some(range) => {
                    let lines = crate::position::LineIndex::new(&doc.text);
                    let span = lines.span(&doc.text, range);
                    doc.text.replace_range(span.start..span.end, &change.text);
                }
                None => doc.text = change.text,
            }
        }
        doc.version = version;
    })
}

impl Backend {
    /// A backend notifying `client`, searching `schemas` before each project's schema paths.
    pub fn new(client: Client, schemas: Vec<PathBuf>) -> Self {
        let shared = Shared {
            world: Mutex::new(World::new(schemas)),
            pending: Mutex::default(),
            published: Mutex::default(),
            panics: AtomicUsize::new(0),
        };
        Backend { client, shared: Arc::new(shared), watch: AtomicBool::new(false) }
    }

    /// A handle for counting the backend's work while it serves.
    pub fn stats(&self) -> Stats {
        Stats(self.shared.clone())
    }

    /// How many times a request or analysis panicked (and was turned into no answer).
    pub fn panics(&self) -> usize {
        self.shared.panics.load(Ordering::Relaxed)
    }

    fn guard<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        self.shared.guard(f)
    }

    fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> Option<T> {
        let mut w = self.shared.world();
        self.guard(|| f(&mut w))
    }

    /// Queues `roots` for a check and starts the checker if it is not running.
    fn schedule(&self, roots: impl IntoIterator<Item = PathBuf>, change: Option<l::DidChangeTextDocumentParams>) {
        let mut p = lock(&self.shared.pending);
        p.roots.extend(roots);
        p.changes.extend(change);
        if p.running {
            return;
        }
        p.running = true;
        drop(p);
        let shared = self.shared.clone();
        let client = self.client.clone();
        // Checks run on a blocking thread so the server keeps reading (and queueing edits)
        // meanwhile; one checker at a time keeps what is published in order.
        tokio::spawn(async move {
            loop {
                let s = shared.clone();
                let work = tokio::task::spawn_blocking(move || {
                    let root = s.next_root()?;
                    Some(if root.as_os_str().is_empty() { Vec::new() } else { s.diff(&root) })
                })
                .await;
                let Ok(Some(changed)) = work else {
                    if work.is_err() {
                        lock(&shared.pending).running = false;
                    }
                    return;
                };
                for (uri, diags, version) in changed {
                    client.publish_diagnostics(uri, diags, version).await;
                }
            }
        });
    }

    /// The analysis holding a document, the document's file id, and the byte offset of a
    /// position in it.
    fn locate(&self, uri: &Uri, pos: l::Position) -> Option<(Arc<Analysis>, FileId, usize)> {
        self.with_world(|w| {
            let path = doc_path(uri);
            let a = w.analysis_of(&path);
            let file = a.file_of(&path)?;
            let offset = a.files[file].lines.offset(a.text(file), pos);
            Some((a, file, offset))
        })
        .flatten()
    }

    fn file(&self, uri: &Uri) -> Option<(Arc<Analysis>, FileId)> {
        self.with_world(|w| {
            let path = doc_path(uri);
            let a = w.analysis_of(&path);
            let file = a.file_of(&path)?;
            Some((a, file))
        })
        .flatten()
    }
}

fn capabilities() -> l::ServerCapabilities {
    l::ServerCapabilities {
        position_encoding: Some(l::PositionEncodingKind::UTF16),
        text_document_sync: Some(l::TextDocumentSyncCapability::Options(l::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(l::TextDocumentSyncKind::INCREMENTAL),
            will_save: None,
            will_save_wait_until: None,
            save: Some(l::TextDocumentSyncSaveOptions::Supported(true)),
        })),
        hover_provider: Some(l::HoverProviderCapability::Simple(true)),
        completion_provider: Some(l::CompletionOptions {
            trigger_characters: Some(vec![".".into(), "\"".into()]),
            ..Default::default()
        }),
        definition_provider: Some(l::OneOf::Left(true)),
        references_provider: Some(l::OneOf::Left(true)),
        document_symbol_provider: Some(l::OneOf::Left(true)),
        rename_provider: Some(l::OneOf::Right(l::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        semantic_tokens_provider: Some(l::SemanticTokensServerCapabilities::SemanticTokensOptions(
            l::SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(l::SemanticTokensFullOptions::Bool(true)),
                range: None,
                work_done_progress_options: Default::default(),
            },
        )),
        document_formatting_provider: Some(l::OneOf::Left(true)),
        code_action_provider: Some(l::CodeActionProviderCapability::Options(l::CodeActionOptions {
            code_action_kinds: Some(vec![l::CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        ..Default::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: l::InitializeParams) -> Result<l::InitializeResult> {
        let dynamic = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false);
        self.watch.store(dynamic, Ordering::Relaxed);
        Ok(l::InitializeResult {
            capabilities: capabilities(),
            server_info: Some(l::ServerInfo {
                name: "journey-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: l::InitializedParams) {
        if !self.watch.load(Ordering::Relaxed) {
            return;
        }
        let watchers = ["**/*.journey", "**/journey.toml", "**/*.json"]
            .iter()
            .map(|g| l::FileSystemWatcher { glob_pattern: l::GlobPattern::String(g.to_string()), kind: None })
            .collect();
        let options = l::DidChangeWatchedFilesRegistrationOptions { watchers };
        let registration = l::Registration {
            id: "journey-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        let _ = self.client.register_capability(vec![registration]).await;
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: l::DidOpenTextDocumentParams) {
        let d = params.text_document;
        let root = self.with_world(|w| w.open(d.uri, d.text, d.version));
        self.schedule(root, None);
    }

    async fn did_change(&self, params: l::DidChangeTextDocumentParams) {
        // Queued, not applied: see `Pending`.
        self.schedule(None, Some(params));
    }

    async fn did_save(&self, params: l::DidSaveTextDocumentParams) {
        let path = doc_path(&params.text_document.uri);
        let root = self.with_world(|w| w.reload(&path));
        self.schedule(root, None);
    }

    async fn did_close(&self, params: l::DidCloseTextDocumentParams) {
        let path = doc_path(&params.text_document.uri);
        let root = self.with_world(|w| w.close(&path));
        self.schedule(root, None);
    }

    async fn did_change_watched_files(&self, params: l::DidChangeWatchedFilesParams) {
        let roots: Option<BTreeSet<PathBuf>> = self.with_world(|w| {
            let loaded = w.roots();
            let mut roots: BTreeSet<PathBuf> = params.changes.iter().map(|c| w.reload(&doc_path(&c.uri))).collect();
            if params.changes.iter().any(|c| doc_path(&c.uri).ends_with("journey.toml")) {
                roots.extend(loaded);
            }
            roots
        });
        self.schedule(roots.unwrap_or_default(), None);
    }

    async fn hover(&self, params: l::HoverParams) -> Result<Option<l::Hover>> {
        let p = params.text_document_position_params;
        let Some((a, file, offset)) = self.locate(&p.text_document.uri, p.position) else { return Ok(None) };
        Ok(self.guard(|| hover::hover(&a, file, offset)).flatten())
    }

    async fn completion(&self, params: l::CompletionParams) -> Result<Option<l::CompletionResponse>> {
        let p = params.text_document_position;
        let path = doc_path(&p.text_document.uri);
        let items = self.with_world(|w| {
            let offset = {
                let doc = w.doc(&path)?;
                crate::position::LineIndex::new(&doc.text).offset(&doc.text, p.position)
            };
            Some(completion::complete(w, &path, offset))
        });
        Ok(items.flatten().map(l::CompletionResponse::Array))
    }

    async fn goto_definition(&self, params: l::GotoDefinitionParams) -> Result<Option<l::GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        let Some((a, file, offset)) = self.locate(&p.text_document.uri, p.position) else { return Ok(None) };
        let locs = self.guard(|| match navigate::target_at(&a, file, offset) {
            Some((t, _)) => Some(navigate::locations(&a, navigate::definitions(&a, &t))),
            None => {
                let r = navigate::schema_at(&a, file, offset)?;
                Some(navigate::schema_location(&a, &r).into_iter().collect())
            }
        });
        Ok(locs.flatten().filter(|l| !l.is_empty()).map(l::GotoDefinitionResponse::Array))
    }

    async fn references(&self, params: l::ReferenceParams) -> Result<Option<Vec<l::Location>>> {
        let p = params.text_document_position;
        let Some((a, file, offset)) = self.locate(&p.text_document.uri, p.position) else { return Ok(None) };
        let with_decl = params.context.include_declaration;
        let locs = self.guard(|| {
            let (t, _) = navigate::target_at(&a, file, offset)?;
            let mut places = if with_decl { navigate::definitions(&a, &t) } else { Vec::new() };
            places.extend(navigate::uses(&a, &t));
            Some(navigate::locations(&a, places))
        });
        Ok(locs.flatten())
    }

    async fn prepare_rename(&self, params: l::TextDocumentPositionParams) -> Result<Option<l::PrepareRenameResponse>> {
        let Some((a, file, offset)) = self.locate(&params.text_document.uri, params.position) else { return Ok(None) };
        let range = self.guard(|| {
            let (_, span) = navigate::target_at(&a, file, offset)?;
            let text = &a.text(file)[span.start..span.end];
            let span = if text.starts_with(['"', '\'']) && span.end - span.start >= 2 {
                journey_grammar::ast::Span::new(span.start + 1, span.end - 1)
            } else {
                span
            };
            Some(a.range(file, span))
        });
        Ok(range.flatten().map(l::PrepareRenameResponse::Range))
    }

    async fn rename(&self, params: l::RenameParams) -> Result<Option<l::WorkspaceEdit>> {
        let p = params.text_document_position;
        let Some((a, file, offset)) = self.locate(&p.text_document.uri, p.position) else { return Ok(None) };
        let new_name = params.new_name;
        let result = self.guard(|| {
            let (t, _) = navigate::target_at(&a, file, offset).ok_or("there is nothing to rename here".to_string())?;
            navigate::rename(&a, &t, &new_name)
        });
        match result {
            Some(Ok(changes)) => Ok(Some(l::WorkspaceEdit { changes: Some(changes), ..Default::default() })),
            Some(Err(why)) => Err(Error::invalid_params(why)),
            None => Ok(None),
        }
    }

    async fn document_symbol(&self, params: l::DocumentSymbolParams) -> Result<Option<l::DocumentSymbolResponse>> {
        let Some((a, file)) = self.file(&params.text_document.uri) else { return Ok(None) };
        Ok(self.guard(|| navigate::symbols(&a, file)).map(l::DocumentSymbolResponse::Nested))
    }

    async fn semantic_tokens_full(&self, params: l::SemanticTokensParams) -> Result<Option<l::SemanticTokensResult>> {
        let Some((a, file)) = self.file(&params.text_document.uri) else { return Ok(None) };
        let data = self.guard(|| {
            let decls = navigate::declarations(&a).into_iter().map(|d| (d.name, d.kind));
            let names = tokens::Names::new(&a.index, file, decls);
            tokens::tokens(a.text(file), &names)
        });
        Ok(data.map(|data| l::SemanticTokensResult::Tokens(l::SemanticTokens { result_id: None, data })))
    }

    async fn formatting(&self, params: l::DocumentFormattingParams) -> Result<Option<Vec<l::TextEdit>>> {
        let path = doc_path(&params.text_document.uri);
        let edits = self.with_world(|w| {
            let doc = w.doc(&path)?;
            let lines = crate::position::LineIndex::new(&doc.text);
            let formatted = actions::format(&doc.text)?;
            Some(actions::whole_document_edit(&doc.text, &formatted, &lines))
        });
        Ok(Some(edits.flatten().unwrap_or_default()))
    }

    async fn code_action(&self, params: l::CodeActionParams) -> Result<Option<l::CodeActionResponse>> {
        let Some((a, file)) = self.file(&params.text_document.uri) else { return Ok(None) };
        let actions = self.guard(|| actions::quick_fixes(&a, file, params.range, &params.context.diagnostics));
        Ok(actions)
    }
}

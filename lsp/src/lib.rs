//! The journey language server (`journey lsp`): diagnostics as `journey check` reports them,
//! hover, completion, go to definition, references, rename, document symbols, semantic
//! tokens, formatting and quick fixes, over the Language Server Protocol.

#![warn(missing_docs)]

pub mod actions;
pub mod completion;
pub mod hover;
pub mod incremental;
pub mod lexer;
pub mod navigate;
pub mod position;
pub mod server;
pub mod testing;
pub mod tokens;
pub mod world;

pub use server::Backend;

use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

/// Serves the protocol over `input`/`output` until the client says `exit` or hangs up.
pub async fn serve<I, O>(input: I, output: O, schemas: Vec<PathBuf>)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (service, socket) = LspService::new(|client| Backend::new(client, schemas));
    Server::new(input, output, socket).serve(service).await;
}

/// Serves the protocol on stdin/stdout (for `journey lsp`); returns when the client exits.
pub fn run_stdio(schemas: Vec<PathBuf>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build()?;
    runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout(), schemas));
    Ok(())
}

//! The journey language server (`journey lsp`): diagnostics as `journey check` reports them,
//! hover, completion, go to definition, references, rename, document symbols, semantic
//! tokens, formatting and quick fixes, over the Language Server Protocol.

#![warn(missing_docs)]

pub mod actions;
pub mod completion;
pub mod frames;
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
use tower_lsp_server::{Client, ClientSocket, LspService, Server};

/// Serves the protocol over `input`/`output` until the client says `exit` or hangs up.
pub async fn serve<I, O>(input: I, output: O, schemas: Vec<PathBuf>)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    serve_with(input, output, |client| Backend::new(client, schemas)).await
}

/// Serves the protocol with the backend `make` builds.
pub async fn serve_with<I, O>(input: I, output: O, make: impl FnOnce(Client) -> Backend)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (service, socket) = LspService::new(make);
    serve_service(input, output, service, socket).await
}

/// Serves the protocol with a service already built. Input goes through [`frames`] first: a
/// malformed frame is answered there and never reaches the framework, which would stop
/// reading at it.
pub async fn serve_service<I, O>(input: I, output: O, service: LspService<Backend>, socket: ClientSocket)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let (answers_tx, answers) = tokio::sync::mpsc::unbounded_channel();
    let serving = async {
        tokio::join!(
            Server::new(server_in, server_out, socket).serve(service),
            frames::pump_output(from_server, output, answers),
        );
    };
    let reading = async {
        frames::pump_input(input, to_server, answers_tx).await;
        // The server ends on its own once its input is closed.
        std::future::pending::<()>().await
    };
    // The server may end (`exit`) while the input is still open: stop reading then.
    tokio::select! {
        () = serving => {}
        () = reading => {}
    }
}

/// Serves the protocol on stdin/stdout (for `journey lsp`); returns when the client exits.
pub fn run_stdio(schemas: Vec<PathBuf>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build()?;
    runtime.block_on(serve(tokio::io::stdin(), tokio::io::stdout(), schemas));
    // A read of stdin cannot be cancelled: after `exit` with stdin still open, do not wait
    // for it.
    runtime.shutdown_background();
    Ok(())
}

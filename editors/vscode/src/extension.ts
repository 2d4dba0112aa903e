// The journey extension: starts `journey lsp` (diagnostics, hover, completion, navigation,
// rename, formatting, semantic tokens and quick fixes all come from the server) and restarts it
// on request or when its settings change. Highlighting comes from the TextMate grammar in
// syntaxes/, declared in package.json.

import * as vscode from "vscode";
import {
  Executable,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
} from "vscode-languageclient/node";
import { notFoundMessage, processEnvironment, serverCommand } from "./server";

let client: LanguageClient | undefined;
let watchers: vscode.FileSystemWatcher[] = [];
let output: vscode.OutputChannel;
// Starts and stops run one at a time, in order.
let queue: Promise<void> = Promise.resolve();

function enqueue(task: () => Promise<void>): Promise<void> {
  queue = queue.then(task, task);
  return queue;
}

export function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Journey Language Server");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("journey.restartServer", () => enqueue(restart)),
    vscode.commands.registerCommand("journey.showOutput", () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("journey.server")) {
        void enqueue(restart);
      }
    }),
    // Workspace values of journey.server.* only count in a trusted workspace.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void enqueue(restart)),
  );
  return enqueue(start);
}

export function deactivate(): Promise<void> {
  return enqueue(stop);
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

async function start(): Promise<void> {
  const config = vscode.workspace.getConfiguration("journey");
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file")?.uri.fsPath;
  const cmd = serverCommand(
    { path: config.get<string>("server.path", "journey"), extraArgs: config.get<unknown[]>("server.extraArgs", []) },
    processEnvironment(folder),
  );
  if (cmd.resolved === undefined) {
    const message = notFoundMessage(cmd);
    output.appendLine(message);
    void vscode.window.showErrorMessage(message, "Open Settings", "Show Output").then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "journey.server.path");
      } else if (choice === "Show Output") {
        output.show(true);
      }
    });
    return;
  }

  output.appendLine(`Starting ${cmd.resolved} ${cmd.args.join(" ")}${cmd.cwd ? ` (in ${cmd.cwd})` : ""}`);
  const executable: Executable = { command: cmd.resolved, args: cmd.args, options: { cwd: cmd.cwd } };
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  // Changes on disk to sources, journey.toml and JSON Schema files, sent to the server as
  // workspace/didChangeWatchedFiles. (The server also registers these globs itself when the
  // client allows it; the client batches events, so an event seen twice costs one re-read.)
  watchers = ["**/*.journey", "**/journey.toml", "**/*.json"].map((glob) =>
    vscode.workspace.createFileSystemWatcher(glob),
  );
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "journey" },
      { scheme: "untitled", language: "journey" },
    ],
    synchronize: { fileEvents: watchers },
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  // The id "journey" makes the client read the journey.trace.server setting.
  const c = new LanguageClient("journey", "Journey Language Server", serverOptions, clientOptions);
  client = c;
  try {
    await c.start();
  } catch (err) {
    output.appendLine(`The language server failed to start: ${err instanceof Error ? err.message : String(err)}`);
    void vscode.window
      .showErrorMessage(
        `Journey: the language server (${cmd.resolved} lsp) failed to start. Is it a journey binary with the lsp command?`,
        "Show Output",
      )
      .then((choice) => choice && output.show(true));
    await stop();
  }
}

async function stop(): Promise<void> {
  const c = client;
  client = undefined;
  if (c !== undefined) {
    try {
      if (c.needsStop()) {
        await c.stop(2000);
      }
    } catch (err) {
      output.appendLine(`Stopping the language server: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const w of watchers) {
    w.dispose();
  }
  watchers = [];
}

// The extension's activation, restart and error paths (out/extension.js), with the `vscode`
// module and the language client replaced by fakes: VS Code itself is not needed.

import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, test } from "node:test";
import { root } from "./support/textmate.mjs";

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ fakes

let config = {};
let errorChoice;
const state = { clients: [], errors: [], executed: [], commands: new Map(), configListeners: [], trustListeners: [], output: [] };
let failStart = false;

const vscode = {
  window: {
    createOutputChannel: () => ({ appendLine: (l) => state.output.push(l), show() {}, dispose() {} }),
    showErrorMessage: (message, ...items) => {
      state.errors.push({ message, items });
      return Promise.resolve(errorChoice);
    },
  },
  commands: {
    registerCommand: (id, fn) => {
      state.commands.set(id, fn);
      return { dispose: () => state.commands.delete(id) };
    },
    executeCommand: (...args) => {
      state.executed.push(args);
      return Promise.resolve();
    },
  },
  workspace: {
    workspaceFolders: undefined,
    getConfiguration: (section) => {
      assert.equal(section, "journey");
      return { get: (key, def) => (key in config ? config[key] : def) };
    },
    onDidChangeConfiguration: (fn) => {
      state.configListeners.push(fn);
      return { dispose() {} };
    },
    onDidGrantWorkspaceTrust: (fn) => {
      state.trustListeners.push(fn);
      return { dispose() {} };
    },
    createFileSystemWatcher: (glob) => ({ glob, disposed: false, dispose() { this.disposed = true; } }),
  },
};

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, running: false, stopped: false });
    state.clients.push(this);
  }
  async start() {
    if (failStart) {
      throw new Error("spawn failed");
    }
    this.running = true;
  }
  needsStop() {
    return this.running;
  }
  async stop() {
    this.running = false;
    this.stopped = true;
  }
}
const languageclient = { LanguageClient, RevealOutputChannelOn: { Info: 1, Warn: 2, Error: 3, Never: 4 } };

const originalLoad = Module._load;
Module._load = function (request, ...rest) {
  if (request === "vscode") return vscode;
  if (request === "vscode-languageclient/node") return languageclient;
  return originalLoad.call(this, request, ...rest);
};
const extension = require(join(root, "out", "extension.js"));

// A fake `journey` binary in a fake workspace.
const workspace = mkdtempSync(join(tmpdir(), "journey-ext-"));
const bin = join(workspace, "journey");
writeFileSync(bin, "#!/bin/sh\n");
chmodSync(bin, 0o755);
vscode.workspace.workspaceFolders = [{ uri: { scheme: "file", fsPath: workspace } }];

after(() => {
  Module._load = originalLoad;
  rmSync(workspace, { recursive: true, force: true });
});

function activate() {
  return extension.activate({ subscriptions: [] });
}

const settle = () => new Promise((r) => setTimeout(r, 10));

// ------------------------------------------------------------------ tests

describe("extension (with a fake VS Code)", () => {
  beforeEach(() => {
    config = { "server.path": bin, "server.extraArgs": ["--schemas", "${workspaceFolder}/schemas"] };
    errorChoice = undefined;
    failStart = false;
    Object.assign(state, { clients: [], errors: [], executed: [], configListeners: [], trustListeners: [], output: [] });
    state.commands.clear();
  });

  test("starts `journey lsp` with the extra arguments, over stdio, for journey documents", async () => {
    await activate();
    assert.equal(state.clients.length, 1);
    const c = state.clients[0];
    assert.equal(c.id, "journey"); // makes the client read journey.trace.server
    assert.equal(c.running, true);
    assert.deepEqual(c.serverOptions.run, {
      command: bin,
      args: ["lsp", "--schemas", `${workspace}/schemas`],
      options: { cwd: workspace },
    });
    assert.equal(c.serverOptions.run.transport, undefined); // stdio
    assert.deepEqual(c.clientOptions.documentSelector, [
      { scheme: "file", language: "journey" },
      { scheme: "untitled", language: "journey" },
    ]);
    assert.deepEqual(
      c.clientOptions.synchronize.fileEvents.map((w) => w.glob),
      ["**/*.journey", "**/journey.toml", "**/*.json"],
    );
    assert.deepEqual([...state.commands.keys()].sort(), ["journey.restartServer", "journey.showOutput"]);
    assert.equal(state.errors.length, 0);
    await extension.deactivate();
    assert.equal(c.stopped, true);
    assert.ok(c.clientOptions.synchronize.fileEvents.every((w) => w.disposed));
  });

  test("journey.restartServer stops the client and starts a new one with the current settings", async () => {
    await activate();
    const first = state.clients[0];
    config["server.extraArgs"] = [];
    await state.commands.get("journey.restartServer")();
    assert.equal(first.stopped, true);
    assert.ok(first.clientOptions.synchronize.fileEvents.every((w) => w.disposed));
    assert.equal(state.clients.length, 2);
    assert.deepEqual(state.clients[1].serverOptions.run.args, ["lsp"]);
    assert.equal(state.clients[1].running, true);
    await extension.deactivate();
  });

  test("a change to journey.server.* restarts the server; other changes do not", async () => {
    await activate();
    state.configListeners[0]({ affectsConfiguration: (s) => s === "editor" });
    await settle();
    assert.equal(state.clients.length, 1);
    state.configListeners[0]({ affectsConfiguration: (s) => s === "journey.server" });
    await settle();
    assert.equal(state.clients.length, 2);
    assert.equal(state.clients[0].stopped, true);
    await extension.deactivate();
  });

  test("a missing binary: no client, an error that says what to do, and a way to the setting", async () => {
    config["server.path"] = join(workspace, "missing", "journey");
    errorChoice = "Open Settings";
    await activate();
    await settle();
    assert.equal(state.clients.length, 0);
    assert.equal(state.errors.length, 1);
    assert.match(state.errors[0].message, /does not exist or is not an executable file/);
    assert.match(state.errors[0].message, /Install journey/);
    assert.match(state.errors[0].message, /journey\.server\.path/);
    assert.deepEqual(state.errors[0].items, ["Open Settings", "Show Output"]);
    assert.deepEqual(state.executed, [["workbench.action.openSettings", "journey.server.path"]]);
    await extension.deactivate();
  });

  test("a binary that fails to start is reported and left stopped", async () => {
    failStart = true;
    await activate();
    await settle();
    assert.equal(state.clients.length, 1);
    assert.equal(state.clients[0].running, false);
    assert.equal(state.errors.length, 1);
    assert.match(state.errors[0].message, /failed to start/);
    assert.ok(state.output.some((l) => l.includes("spawn failed")));
    await extension.deactivate();
  });
});

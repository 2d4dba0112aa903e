// A smoke test of the language server the extension starts: the command line built by
// out/server.js (`journey lsp` plus extra arguments) speaks LSP over stdio, registers its file
// watchers and publishes diagnostics. Needs a built binary: $JOURNEY_BIN, else the repository's
// target/debug/journey (which `cargo test` builds); skipped when there is none.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { repo, root } from "./support/textmate.mjs";

const require = createRequire(import.meta.url);
const bin = process.env.JOURNEY_BIN || join(repo, "target", "debug", "journey");
// An explicit $JOURNEY_BIN must exist; the default is skipped when it has not been built.
const skip = existsSync(bin) || process.env.JOURNEY_BIN ? false : `no journey binary at ${bin} (set JOURNEY_BIN or run cargo build)`;

test("journey lsp: initialize, watchers, diagnostics, shutdown", { skip, timeout: 60_000 }, async () => {
  const { serverCommand, processEnvironment } = require(join(root, "out", "server.js"));
  const rpc = require("vscode-jsonrpc/node");
  const dir = mkdtempSync(join(tmpdir(), "journey-lsp-"));
  const cmd = serverCommand(
    { path: bin, extraArgs: ["--schemas", "${workspaceFolder}"] },
    processEnvironment(dir),
  );
  assert.equal(cmd.resolved, bin);
  assert.deepEqual(cmd.args, ["lsp", "--schemas", dir]);

  const proc = spawn(cmd.resolved, cmd.args, { cwd: cmd.cwd, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const conn = rpc.createMessageConnection(
    new rpc.StreamMessageReader(proc.stdout),
    new rpc.StreamMessageWriter(proc.stdin),
  );
  const registrations = [];
  conn.onRequest("client/registerCapability", (params) => {
    registrations.push(...params.registrations);
    return null;
  });
  const uri = pathToFileURL(join(dir, "smoke.journey")).href;
  const diagnostics = new Promise((resolve) => {
    conn.onNotification("textDocument/publishDiagnostics", (p) => {
      if (p.uri === uri && p.diagnostics.length > 0) {
        resolve(p.diagnostics);
      }
    });
  });
  conn.listen();
  try {
    const init = await conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: pathToFileURL(dir).href,
      workspaceFolders: [{ uri: pathToFileURL(dir).href, name: "smoke" }],
      capabilities: { workspace: { didChangeWatchedFiles: { dynamicRegistration: true } } },
    });
    assert.ok(init.capabilities.semanticTokensProvider, "no semantic tokens");
    assert.ok(init.capabilities.hoverProvider, "no hover");
    await conn.sendNotification("initialized", {});
    await conn.sendNotification("textDocument/didOpen", {
      textDocument: { uri, languageId: "journey", version: 1, text: "journey Smoke {\n  wait 1h\n  jump Nowhere\n}\n" },
    });
    const diags = await diagnostics;
    assert.ok(
      diags.some((d) => d.message.includes("Nowhere")),
      JSON.stringify(diags),
    );
    const globs = registrations.flatMap((r) => r.registerOptions?.watchers ?? []).map((w) => w.globPattern);
    assert.ok(globs.includes("**/journey.toml"), `watchers: ${JSON.stringify(globs)}`);
    await conn.sendRequest("shutdown");
    await conn.sendNotification("exit");
  } catch (e) {
    e.message += `\nserver stderr:\n${stderr}`;
    throw e;
  } finally {
    conn.dispose();
    proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

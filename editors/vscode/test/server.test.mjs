// The server command line (src/server.ts, built to out/server.js): settings, path lookup, the
// message when the binary is missing. Runs without VS Code.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { root } from "./support/textmate.mjs";

const require = createRequire(import.meta.url);
const built = join(root, "out", "server.js");
assert.ok(existsSync(built), "out/server.js is missing: run `npm run build` first");
const { expand, findOnPath, notFoundMessage, serverCommand } = require(built);

/** An environment with the given executable files. */
function env(files, over = {}) {
  const set = new Set(files);
  return {
    workspaceFolder: "/work/project",
    env: { PATH: "/usr/local/bin:/usr/bin", HOME: "/home/ann", JOURNEY_HOME: "/opt/journey" },
    platform: "linux",
    home: "/home/ann",
    isExecutable: (f) => set.has(f),
    ...over,
  };
}

describe("server command", () => {
  test("the default finds `journey` on the PATH and runs `journey lsp`", () => {
    const c = serverCommand({ path: "journey", extraArgs: [] }, env(["/usr/bin/journey"]));
    assert.equal(c.command, "journey");
    assert.equal(c.resolved, "/usr/bin/journey");
    assert.deepEqual(c.args, ["lsp"]);
    assert.equal(c.cwd, "/work/project");
    assert.equal(c.onPath, true);
  });

  test("the first PATH entry wins", () => {
    const c = serverCommand({ path: "journey", extraArgs: [] }, env(["/usr/bin/journey", "/usr/local/bin/journey"]));
    assert.equal(c.resolved, "/usr/local/bin/journey");
  });

  test("an empty path setting means the default", () => {
    const c = serverCommand({ path: "  ", extraArgs: [] }, env(["/usr/bin/journey"]));
    assert.equal(c.resolved, "/usr/bin/journey");
  });

  test("extra arguments follow `lsp`, expanded; non-strings are dropped", () => {
    const c = serverCommand(
      { path: "journey", extraArgs: ["--schemas", "${workspaceFolder}/schemas", 3, "--schemas", "~/xdm"] },
      env(["/usr/bin/journey"]),
    );
    assert.deepEqual(c.args, ["lsp", "--schemas", "/work/project/schemas", "--schemas", "/home/ann/xdm"]);
  });

  test("a path: absolute, ~, ${workspaceFolder}, or relative to the workspace folder", () => {
    const files = ["/opt/journey/bin/journey", "/home/ann/.cargo/bin/journey", "/work/project/target/debug/journey"];
    const e = env(files);
    assert.equal(serverCommand({ path: "/opt/journey/bin/journey", extraArgs: [] }, e).resolved, files[0]);
    assert.equal(serverCommand({ path: "~/.cargo/bin/journey", extraArgs: [] }, e).resolved, files[1]);
    assert.equal(serverCommand({ path: "${workspaceFolder}/target/debug/journey", extraArgs: [] }, e).resolved, files[2]);
    assert.equal(serverCommand({ path: "target/debug/journey", extraArgs: [] }, e).resolved, files[2]);
    assert.equal(serverCommand({ path: "${env:JOURNEY_HOME}/bin/journey", extraArgs: [] }, e).resolved, files[0]);
    assert.equal(serverCommand({ path: "target/debug/journey", extraArgs: [] }, e).onPath, false);
  });

  test("a missing binary resolves to nothing, with a message that says what to do", () => {
    const c = serverCommand({ path: "journey", extraArgs: [] }, env([]));
    assert.equal(c.resolved, undefined);
    const m = notFoundMessage(c);
    assert.match(m, /"journey" was not found on the PATH/);
    assert.match(m, /Install journey/);
    assert.match(m, /journey\.server\.path/);
    const p = serverCommand({ path: "/nope/journey", extraArgs: [] }, env([]));
    assert.match(notFoundMessage(p), /"\/nope\/journey" does not exist or is not an executable file/);
  });

  test("Windows: PATHEXT extensions and backslash paths", () => {
    const e = env(["C:\\tools\\journey.EXE", "C:\\work\\target\\debug\\journey.exe"], {
      platform: "win32",
      workspaceFolder: "C:\\work",
      env: { Path: "C:\\Windows;C:\\tools", PATHEXT: ".COM;.EXE" },
      home: "C:\\Users\\ann",
    });
    assert.equal(findOnPath("journey", e), "C:\\tools\\journey.EXE");
    assert.equal(
      serverCommand({ path: "target\\debug\\journey", extraArgs: [] }, e).resolved,
      "C:\\work\\target\\debug\\journey.exe",
    );
  });

  test("expand leaves unknown variables alone and ~ only at the start", () => {
    const e = env([]);
    assert.equal(expand("${foo}/a~b", e), "${foo}/a~b");
    assert.equal(expand("~", e), "/home/ann");
    assert.equal(expand("${userHome}/x", e), "/home/ann/x");
    assert.equal(expand("${workspaceFolder}", { ...e, workspaceFolder: undefined }), "${workspaceFolder}");
  });
});

// The scope assertions in test/grammar/*.test.journey, run by vscode-tmgrammar-test.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "test", "grammar");
const bin = join(dirname(require.resolve("vscode-tmgrammar-test/package.json")), "dist", "unit.js");

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".test.journey"))
  .sort();

describe("grammar assertions (vscode-tmgrammar-test)", () => {
  test("there are assertion files", () => assert.ok(files.length >= 6, files.join(", ")));
  for (const f of files) {
    test(f, () => {
      // The tool reads the grammar from package.json's contributes.grammars.
      const r = spawnSync(process.execPath, [bin, "--config", join(root, "package.json"), join(dir, f)], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, FORCE_COLOR: "0" },
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });
  }
});

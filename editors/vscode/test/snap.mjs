#!/usr/bin/env node
// Snapshot tests of the grammar over the repository's real examples (`examples/*.journey`).
//
// vscode-tmgrammar-snap keeps a snapshot beside its source (`x.journey.snap`), and the examples
// belong to the language, not to this extension. So each run copies the examples and their
// committed snapshots (test/snap/*.journey.snap) into a temporary folder and runs the tool
// there: a change to an example, or to the grammar, changes its tokens and fails the run until
// the snapshots are updated and reviewed.
//
//   node test/snap.mjs            check (what `npm test` runs, through snap.test.mjs)
//   node test/snap.mjs --update   rewrite test/snap/ from the current grammar and examples

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const examplesDir = join(root, "..", "..", "examples");
export const snapDir = join(root, "test", "snap");
const snapBin = join(dirname(require.resolve("vscode-tmgrammar-test/package.json")), "dist", "snapshot.js");

/** The example sources, by file name. */
export function examples() {
  return readdirSync(examplesDir)
    .filter((f) => f.endsWith(".journey"))
    .sort();
}

/** The committed snapshots, by the name of their source (`x.journey`). */
export function snapshots() {
  if (!existsSync(snapDir)) {
    return [];
  }
  return readdirSync(snapDir)
    .filter((f) => f.endsWith(".journey.snap"))
    .map((f) => f.slice(0, -".snap".length))
    .sort();
}

/**
 * Runs the snapshot tool over `names` (all examples by default). Returns `{ ok, output }`;
 * with `update`, rewrites the snapshots in test/snap/ (and removes stale ones).
 */
export function run({ update = false, names = examples() } = {}) {
  const all = examples();
  const snaps = snapshots();
  const problems = [];
  for (const n of names) {
    if (!all.includes(n)) {
      problems.push(`no example named ${n}`);
    } else if (!update && !snaps.includes(n)) {
      problems.push(`examples/${n} has no snapshot: run \`npm run snap:update\` and review test/snap/${n}.snap`);
    }
  }
  if (problems.length > 0) {
    return { ok: false, output: problems.join("\n") };
  }

  const work = mkdtempSync(join(tmpdir(), "journey-snap-"));
  try {
    for (const n of names) {
      copyFileSync(join(examplesDir, n), join(work, n));
      if (!update) {
        copyFileSync(join(snapDir, `${n}.snap`), join(work, `${n}.snap`));
      }
    }
    const args = [snapBin, "--config", join(root, "package.json"), ...(update ? ["--updateSnapshot"] : [])];
    const r = spawnSync(process.execPath, [...args, ...names.map((n) => join(work, n))], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    const output = `${r.stdout ?? ""}${r.stderr ?? ""}`.split(work + "/").join("examples/");
    if (r.status !== 0) {
      return {
        ok: false,
        output: `${output}\nThe grammar's tokens differ from test/snap/. If the change is intended (an example or the grammar changed), run \`npm run snap:update\` and review the diff.`,
      };
    }
    if (update) {
      mkdirSync(snapDir, { recursive: true });
      for (const n of names) {
        copyFileSync(join(work, `${n}.snap`), join(snapDir, `${n}.snap`));
      }
      if (names.length === all.length) {
        for (const stale of snapshots().filter((n) => !all.includes(n))) {
          unlinkSync(join(snapDir, `${stale}.snap`));
        }
      }
    }
    return { ok: true, output };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const update = process.argv.includes("--update");
  const r = run({ update });
  console.log(r.output.trim());
  if (r.ok && update) {
    console.log(`updated ${examples().length} snapshots in ${basename(root)}/test/snap/`);
  }
  const stale = snapshots().filter((n) => !examples().includes(n));
  if (!update && stale.length > 0) {
    console.log(`stale snapshots (no such example): ${stale.join(", ")}; run \`npm run snap:update\``);
    process.exit(1);
  }
  process.exit(r.ok ? 0 : 1);
}

// The committed grammar JSON is the one scripts/build-grammar.mjs writes, and it is sound:
// every include resolves, every regular expression compiles in Oniguruma (VS Code's engine).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { render } from "../scripts/build-grammar.mjs";
import { grammarPath, loadGrammar, root } from "./support/textmate.mjs";

const require = createRequire(import.meta.url);
const oniguruma = require("vscode-oniguruma");
const committed = readFileSync(grammarPath, "utf8");
const g = JSON.parse(committed);

function walk(node, visit, path = "") {
  if (Array.isArray(node)) {
    node.forEach((n, i) => walk(n, visit, `${path}[${i}]`));
  } else if (node && typeof node === "object") {
    visit(node, path);
    for (const [k, v] of Object.entries(node)) {
      walk(v, visit, `${path}.${k}`);
    }
  }
}

describe("syntaxes/journey.tmLanguage.json", () => {
  test("is up to date with scripts/build-grammar.mjs (run `npm run build`)", () => {
    assert.equal(committed, render());
  });

  test("is the grammar package.json contributes, for the journey language", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const [contrib] = pkg.contributes.grammars;
    assert.equal(contrib.language, "journey");
    assert.equal(contrib.scopeName, g.scopeName);
    assert.equal(g.scopeName, "source.journey");
    assert.equal(join(root, contrib.path), grammarPath);
  });

  test("every include names a rule of the repository, and every rule is used", () => {
    const used = new Set();
    const dangling = [];
    walk(g, (node, path) => {
      if (typeof node.include === "string") {
        const name = node.include.replace(/^#/, "");
        used.add(name);
        if (!node.include.startsWith("#") || !(name in g.repository)) {
          dangling.push(`${path}: ${node.include}`);
        }
      }
    });
    assert.deepEqual(dangling, []);
    assert.deepEqual(
      Object.keys(g.repository).filter((r) => !used.has(r)),
      [],
    );
  });

  test("every regular expression compiles", async () => {
    await loadGrammar(); // loads Oniguruma's wasm
    const bad = [];
    walk(g, (node, path) => {
      for (const k of ["match", "begin", "end", "while"]) {
        if (typeof node[k] === "string") {
          try {
            new oniguruma.OnigScanner([node[k]]).dispose();
          } catch (e) {
            bad.push(`${path}.${k}: ${e.message}`);
          }
        }
      }
    });
    assert.deepEqual(bad, []);
  });
});

// Loads the journey grammar into vscode-textmate (the engine VS Code uses) and tokenizes text.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const repo = join(root, "..", "..");
export const grammarPath = join(root, "syntaxes", "journey.tmLanguage.json");

let grammarPromise;

/** The grammar, loaded once. */
export function loadGrammar() {
  grammarPromise ??= (async () => {
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new vsctm.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
        createOnigString: (s) => new oniguruma.OnigString(s),
      }),
      loadGrammar: async (scopeName) =>
        scopeName === "source.journey"
          ? vsctm.parseRawGrammar(readFileSync(grammarPath, "utf8"), grammarPath)
          : null,
    });
    return registry.loadGrammar("source.journey");
  })();
  return grammarPromise;
}

/** Every token of `text`: `{ line, start, end, text, scopes }` (lines and columns 0-based). */
export async function tokenize(text) {
  const grammar = await loadGrammar();
  const out = [];
  let stack = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, n) => {
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      const end = Math.min(t.endIndex, line.length);
      if (end > t.startIndex) {
        out.push({ line: n, start: t.startIndex, end, text: line.slice(t.startIndex, end), scopes: t.scopes });
      }
    }
    stack = r.ruleStack;
  });
  return out;
}

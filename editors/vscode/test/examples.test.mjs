// The grammar over every real example: nothing is marked invalid, and every token gets a scope
// that says what it is (not just the region it stands in).

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repo, tokenize } from "./support/textmate.mjs";

const dir = join(repo, "examples");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".journey"))
  .sort();

describe("examples/*.journey", () => {
  for (const f of files) {
    test(`${f}: no invalid.* scope, every token classified`, async () => {
      const tokens = await tokenize(readFileSync(join(dir, f), "utf8"));
      const where = (t) => `${f}:${t.line + 1}:${t.start + 1} ${JSON.stringify(t.text)} ${t.scopes.join(" ")}`;
      const invalid = tokens.filter((t) => t.scopes.some((s) => s.startsWith("invalid")));
      assert.deepEqual(invalid.map(where), []);
      const bare = tokens.filter((t) => t.text.trim() !== "" && t.scopes.slice(1).every((s) => s.startsWith("meta.")));
      assert.deepEqual(bare.map(where), []);
    });
  }
});

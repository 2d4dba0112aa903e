// package.json and language-configuration.json: what VS Code reads to load the extension.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { root } from "./support/textmate.mjs";

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const source = readFileSync(join(root, "src", "extension.ts"), "utf8");

describe("package.json", () => {
  test("the extension's identity and engine", () => {
    assert.equal(pkg.name, "journey-vscode");
    assert.ok(pkg.publisher);
    assert.equal(pkg.engines.vscode, "^1.85.0");
    assert.equal(pkg.main, "./out/extension.js");
    assert.ok(existsSync(join(root, pkg.main)), "out/extension.js is missing: run `npm run build`");
  });

  test("activates on journey files and on projects", () => {
    assert.deepEqual(pkg.activationEvents.sort(), ["onLanguage:journey", "workspaceContains:**/journey.toml"].sort());
  });

  test("contributes the journey language for .journey files", () => {
    const [lang] = pkg.contributes.languages;
    assert.equal(lang.id, "journey");
    assert.deepEqual(lang.extensions, [".journey"]);
    assert.ok(existsSync(join(root, lang.configuration)));
  });

  test("contributes the settings the extension reads", () => {
    const props = pkg.contributes.configuration.properties;
    assert.equal(props["journey.server.path"].default, "journey");
    assert.equal(props["journey.server.extraArgs"].type, "array");
    assert.deepEqual(props["journey.trace.server"].enum, ["off", "messages", "verbose"]);
    assert.match(source, /"server\.path"/);
    assert.match(source, /"server\.extraArgs"/);
    // The client id "journey" is what makes vscode-languageclient read journey.trace.server.
    assert.match(source, /new LanguageClient\("journey"/);
  });

  test("every contributed command is registered, and every registered command contributed", () => {
    const contributed = pkg.contributes.commands.map((c) => c.command).sort();
    const registered = [...source.matchAll(/registerCommand\("([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(registered, contributed);
    assert.ok(contributed.includes("journey.restartServer"));
  });

  test("the document selector covers files and untitled documents", () => {
    assert.match(source, /\{ scheme: "file", language: "journey" \}/);
    assert.match(source, /\{ scheme: "untitled", language: "journey" \}/);
  });
});

describe("language-configuration.json", () => {
  const conf = JSON.parse(readFileSync(join(root, "language-configuration.json"), "utf8"));

  test("comments are the language's: // and /* */", () => {
    assert.equal(conf.comments.lineComment, "//");
    assert.deepEqual(conf.comments.blockComment, ["/*", "*/"]);
  });

  test("brackets and auto-closing pairs include quotes and backticks", () => {
    const opens = conf.autoClosingPairs.map((p) => p.open);
    for (const o of ["{", "[", "(", '"', "'", "`"]) {
      assert.ok(opens.includes(o), o);
    }
  });

  test("indentation: a line ending with an opening bracket indents, a closing one outdents", () => {
    const inc = new RegExp(conf.indentationRules.increaseIndentPattern);
    const dec = new RegExp(conf.indentationRules.decreaseIndentPattern);
    assert.ok(inc.test("journey CartRecovery {"));
    assert.ok(inc.test("  call SendEmail(to: email, vars: {  // comment"));
    assert.ok(!inc.test("  if x { end }"));
    assert.ok(!inc.test("  // a comment {"));
    assert.ok(dec.test("  }"));
    assert.ok(dec.test("  })"));
  });

  test("/// doc comments continue on Enter", () => {
    const rule = conf.onEnterRules.find((r) => r.action.appendText === "/// ");
    assert.ok(rule && new RegExp(rule.beforeText).test("/// The event's payload"));
  });
});

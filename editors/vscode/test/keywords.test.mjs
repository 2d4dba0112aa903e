// The grammar against the language's own lists: every keyword of the language's table
// (grammar/src/keywords.rs, copied to syntaxes/keywords.json; type names and weekdays are not
// keywords to an editor) is in the grammar and is highlighted as a keyword where the language
// uses it, and the grammar's library functions are compiler/src/functions.rs's.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FUNCTIONS, KEYWORDS as TABLE, grammar } from "../scripts/build-grammar.mjs";
import { repo, tokenize } from "./support/textmate.mjs";

const KEYWORDS = TABLE.filter((k) => !k.roles.includes("type-name") && !k.roles.includes("weekday")).map((k) => k.word);

/** Every regular expression of the grammar. */
function regexes(node, out = []) {
  if (Array.isArray(node)) {
    node.forEach((n) => regexes(n, out));
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (["match", "begin", "end", "while"].includes(k) && typeof v === "string") {
        out.push(v);
      } else {
        regexes(v, out);
      }
    }
  }
  return out;
}

// Where each keyword is used, in its context; «...» marks the occurrence that must be scoped
// as a keyword (keyword.*, storage.type.*, constant.language.*, variable.language.*, or a
// primitive type for `is integer`).
const at = {
  top: (s) => s,
  journey: (s) => `journey J {\n  ${s}\n}`,
  event: (s) => `event E: T {\n  ${s}\n}`,
  action: (s) => `action A(x: string) = http POST "https://example.com" {\n  ${s}\n}`,
  test: (s) => `test "t" {\n  ${s}\n}`,
};
const USES = {
  schema: at.top(`«schema» S = json "s.json"`),
  type: at.top(`«type» T = { a: int }`),
  profile: at.top(`«profile» = P`),
  event: at.top(`«event» E: T { }`),
  audience: at.top(`«audience» VIP`),
  datasource: at.top(`«datasource» D() = http GET "https://example.com"`),
  action: at.top(`«action» A() = http POST "https://example.com"`),
  journey: at.top(`«journey» J { }`),
  test: at.top(`«test» "t" { }`),
  xdm: at.top(`schema S = «xdm» "https://ns.adobe.com/xdm/context/profile"`),
  json: at.top(`schema S = «json» "s.json"`),
  with: at.top(`schema S = xdm "https://a" «with» "https://b"`),
  key: at.event(`«key» email`),
  when: at.event(`«when» eventType == "x"`),
  http: at.top(`action A() = «http» POST "https://example.com"`),
  headers: at.action(`«headers» { "Accept": "application/json" }`),
  query: at.action(`«query» { a: x }`),
  body: at.action(`«body» { to: x }`),
  auth: at.action(`«auth» none`),
  none: at.action(`auth «none»`),
  basic: at.action(`auth «basic» "user" secret("P")`),
  bearer: at.action(`auth «bearer» secret("T")`),
  header: at.action(`auth «header» "X-Key" secret("K")`),
  timeout: at.journey(`«timeout» 30d`),
  retry: at.action(`«retry» 3 backoff 2s`),
  backoff: at.action(`retry 3 «backoff» 2s`),
  throttle: at.action(`«throttle» 300 per 1s`),
  per: at.action(`throttle 300 «per» 1s`),
  concurrency: at.action(`«concurrency» 8`),
  cache: at.action(`«cache» 10m`),
  returns: at.action(`«returns» { id: string }`),
  start: at.journey(`«start» on CartAdd`),
  on: at.journey(`start «on» CartAdd`),
  enters: at.journey(`start on audience VIP «enters»`),
  exits: at.journey(`start on audience VIP «exits»`),
  every: at.journey(`start on audience VIP «every» day at 09:00`),
  at: at.journey(`start on audience VIP every day «at» 09:00`),
  once: at.journey(`start on audience VIP «once» at 2026-11-20T09:00:00Z`),
  reentry: at.journey(`«reentry» after 7d`),
  never: at.journey(`reentry «never»`),
  always: at.journey(`reentry «always»`),
  after: at.journey(`reentry «after» 7d`),
  timezone: at.journey(`«timezone» "Europe/Stockholm"`),
  active: at.journey(`«active» from 2026-12-01 to 2027-01-31`),
  from: at.journey(`active «from» 2026-12-01 to 2027-01-31`),
  to: at.journey(`active from 2026-12-01 «to» 2027-01-31`),
  exit: at.journey(`«exit» on Purchase`),
  let: at.journey(`«let» x = 1`),
  wait: at.journey(`«wait» 1h`),
  until: at.journey(`wait «until» 09:00`),
  await: at.journey(`«await» { after 1h -> { } }`),
  as: at.journey(`await {\n    on Purchase «as» p where p.total > 0 -> { }\n  }`),
  where: at.journey(`await {\n    on Purchase as p «where» p.total > 0 -> { }\n  }`),
  if: at.journey(`«if» x { }`),
  then: at.journey(`let x = if c «then» 1 else 2`),
  else: at.journey(`if x { } «else» { }`),
  split: at.journey(`«split» { 100% -> { } }`),
  cap: at.journey(`«cap» 10 { }`),
  call: at.journey(`«call» SendEmail(to: x)`),
  fetch: at.journey(`let m = «fetch» Loyalty(x)`),
  error: at.journey(`call A() on «error» { }`),
  update: at.journey(`«update» profile { a = 1 }`),
  jump: at.journey(`«jump» Other`),
  end: at.journey(`«end» "done"`),
  mock: at.test(`«mock» A -> fail`),
  fail: at.test(`mock A -> «fail»`),
  send: at.test(`«send» E { }`),
  expect: at.test(`«expect» J running`),
  no: at.test(`expect «no» call A`),
  times: at.test(`expect call A 2 «times»`),
  ended: at.test(`expect J «ended» "x"`),
  running: at.test(`expect J «running»`),
  has: at.journey(`if xs «has» null { }`),
  is: at.journey(`if x «is» null { }`),
  not: at.journey(`if «not» x { }`),
  in: at.journey(`if x «in» [1, 2] { }`),
  and: at.journey(`if a «and» b { }`),
  or: at.journey(`if a «or» b { }`),
  null: at.journey(`if x == «null» { }`),
  true: at.journey(`let x = «true»`),
  false: at.journey(`let x = «false»`),
  integer: at.journey(`if x is «integer» { }`),
  decimal: at.journey(`if x is «decimal» { }`),
  numeric: at.journey(`if x is «numeric» { }`),
  channel: at.top(`«channel» email { to profile.email  deliver SendEmail }`),
  frequency: at.top(`«frequency» email 3 per 7d`),
  consent: at.top(`channel email {\n  «consent» profile.optin == true\n}`),
  deliver: at.top(`channel email {\n  «deliver» SendEmail\n}`),
  quiet: at.top(`channel sms {\n  «quiet» 21:00..08:00 queue\n}`),
  queue: at.top(`channel sms {\n  quiet 21:00..08:00 «queue»\n}`),
  drop: at.top(`channel sms {\n  quiet 21:00..08:00 «drop»\n}`),
  opened: at.top(`channel email {\n  «opened» on EmailOpened by messageId\n}`),
  clicked: at.journey(`await {\n    on «clicked» offer -> { }\n  }`),
  by: at.top(`channel email {\n  clicked on EmailClicked «by» messageId\n}`),
  for: at.journey(`start on Restocked «for» audience Subscribers`),
  transactional: at.journey(`send «transactional» email "receipt"`),
  suppressed: at.journey(`send email "x" on «suppressed» { }`),
  sent: at.test(`expect «sent» email "welcome" 1 times`),
  because: at.test(`expect suppressed email «because» "no-consent"`),
  goal: at.journey(`«goal» "purchase" on Purchase within 7d`),
  within: at.journey(`goal "purchase" on Purchase as p where p.total > 0 «within» 7d value p.total`),
  value: at.journey(`goal "purchase" on Purchase as p within 7d «value» p.total`),
  converted: at.test(`expect no J «converted» "purchase"`),
  arm: at.test(`expect J «arm» "B"`),
};

const KEYWORD_SCOPE = /^(keyword\.|storage\.type\.|constant\.language\.|variable\.language\.|support\.type\.primitive\.)/;

describe("keywords (grammar/src/keywords.rs)", () => {
  test("the keyword table is read", () => {
    assert.ok(KEYWORDS.length >= 80, `only ${KEYWORDS.length} keywords read`);
    assert.ok(KEYWORDS.includes("journey") && KEYWORDS.includes("numeric"));
  });

  test("every keyword appears in the grammar's regular expressions", () => {
    const all = regexes(grammar).join("\n");
    const missing = KEYWORDS.filter((k) => !new RegExp(`(?<![A-Za-z0-9_])${k}(?![A-Za-z0-9_])`).test(all));
    assert.deepEqual(missing, []);
  });

  test("every keyword has a usage sample here (add one for a new keyword)", () => {
    assert.deepEqual(
      KEYWORDS.filter((k) => !(k in USES)),
      [],
    );
    assert.deepEqual(
      Object.keys(USES).filter((k) => !KEYWORDS.includes(k)),
      [],
    );
  });

  for (const k of KEYWORDS) {
    test(`\`${k}\` is highlighted as a keyword`, async () => {
      const sample = USES[k];
      assert.ok(sample, `no usage sample for ${k}`);
      const before = sample.slice(0, sample.indexOf("«"));
      const text = sample.replace("«", "").replace("»", "");
      const line = before.split("\n").length - 1;
      const col = before.length - before.lastIndexOf("\n") - 1;
      const tokens = await tokenize(text);
      const covering = tokens.filter((t) => t.line === line && t.start < col + k.length && t.end > col);
      assert.ok(covering.length > 0, `no token at ${line}:${col} in ${text}`);
      for (const t of covering) {
        const scope = t.scopes[t.scopes.length - 1];
        assert.match(scope, KEYWORD_SCOPE, `${k} in ${JSON.stringify(text)}: ${t.scopes.join(" ")}`);
        assert.equal(t.text, k, `${k} is split or merged: ${JSON.stringify(t.text)}`);
      }
    });
  }
});

// Every declaration keyword (the role `declaration` in grammar/src/keywords.rs) starts a new
// declaration wherever it follows another one: the region above ends there (the pest grammar's
// `item_start`), so a `channel` or a `frequency` after an action is not read as part of it.
const BEFORE = {
  action: `action A(x: string) = http POST "https://example.com" {\n  auth none\n}`,
  datasource: `datasource D() = http GET "https://example.com" {\n  cache 10m\n}`,
  channel: `channel email {\n  to profile.email\n  deliver A\n}`,
  event: `event E: T {\n  key email\n}`,
  journey: `journey J {\n  start on E\n}`,
  test: `test "t" {\n  expect J running\n}`,
};
const DECLARATIONS = TABLE.filter((k) => k.roles.includes("declaration")).map((k) => k.word);

describe("declarations end the one above", () => {
  test("the declaration keywords are read", () => {
    assert.ok(DECLARATIONS.includes("channel") && DECLARATIONS.includes("frequency"), DECLARATIONS.join(", "));
  });

  for (const k of DECLARATIONS) {
    test(`\`${k}\` starts a declaration after any other`, async () => {
      const sample = USES[k];
      assert.ok(sample.startsWith("«"), `the usage sample of ${k} starts at the top level: ${sample}`);
      for (const [before, text] of Object.entries(BEFORE)) {
        const source = `${text}\n${sample.replace("«", "").replace("»", "")}`;
        const line = text.split("\n").length;
        const tokens = await tokenize(source);
        const t = tokens.find((t) => t.line === line && t.start === 0);
        assert.ok(t, `no token at the start of line ${line} in ${JSON.stringify(source)}`);
        assert.equal(t.text, k, `${k} after ${before}: ${JSON.stringify(t.text)}`);
        assert.match(t.scopes[t.scopes.length - 1], KEYWORD_SCOPE, `${k} after ${before}: ${t.scopes.join(" ")}`);
        const inside = t.scopes.filter((s) => s === `meta.declaration.${before}.journey`).length;
        assert.ok(inside <= (k === before ? 1 : 0), `${k} after ${before} is inside it: ${t.scopes.join(" ")}`);
      }
    });
  }
});

describe("library functions (compiler/src/functions.rs)", () => {
  test("the grammar's function list is the compiler's", () => {
    const source = readFileSync(join(repo, "compiler", "src", "functions.rs"), "utf8");
    const names = [...source.matchAll(/\bf!\(\s*"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1]);
    assert.ok(names.length >= 70, `only ${names.length} functions read`);
    assert.deepEqual([...new Set(FUNCTIONS)].sort(), [...new Set(names)].sort());
  });

  test("a library call is support.function.builtin", async () => {
    for (const f of FUNCTIONS) {
      const tokens = await tokenize(`journey J {\n  let x = ${f}(a)\n}`);
      const t = tokens.find((t) => t.line === 1 && t.text === f);
      assert.ok(t, `${f}: no token`);
      assert.ok(t.scopes.includes("support.function.builtin.journey"), `${f}: ${t.scopes.join(" ")}`);
    }
  });
});

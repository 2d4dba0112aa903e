#!/usr/bin/env node
// Builds syntaxes/journey.tmLanguage.json, the TextMate grammar of the journey language.
//
// The grammar is written here, in JavaScript, so that the regular expressions it repeats (names,
// the start of a declaration, where a type ends) are written once. `npm run build` regenerates the
// JSON; `node scripts/build-grammar.mjs --check` fails when the committed JSON is out of date
// (the tests run it).
//
// Sources of truth, in the repository: grammar/src/journey.pest (the syntax), the keyword table
// grammar/src/keywords.rs (copied to syntaxes/keywords.json by its test; the word lists below come
// from it, and test/keywords.test.mjs checks every keyword against this grammar),
// compiler/src/functions.rs (the library) and docs/language.md.
//
// How it is built. TextMate grammars match line by line, so context comes from regions
// (begin/end rules). Each declaration is a region that ends where the next declaration starts:
// a line that starts like one (the pest grammar's `item_start`), so an unbalanced brace while
// typing never spoils the rest of the file. Inside, the region knows what it holds: statements
// and settings in a journey, test statements in a test, options in an action, types after `=`,
// `:` and `returns`. Keywords are contextual in the language (`to`, `body`, `key` may be field
// names), so a word followed by `:` is a record key, a word after `.` a field, and option and
// clause words count as keywords only where an option or clause starts.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "syntaxes", "journey.tmLanguage.json");

/** The language's keywords with their roles (grammar/src/keywords.rs). */
export const KEYWORDS = JSON.parse(readFileSync(join(here, "..", "syntaxes", "keywords.json"), "utf8"));
/** The keywords that play `role` (`statement`, `expression`, `weekday`, ...), in the grammar's order. */
const withRole = (role) => KEYWORDS.filter((k) => k.roles.includes(role)).map((k) => k.word);

// ------------------------------------------------------------------------------------ lexical

const ID = String.raw`[A-Za-z_][A-Za-z0-9_]*`;
const TICK = String.raw`\x60[^\x60\n]*\x60?`; // a backticked field name (\x60 is the backtick)
const B = String.raw`(?<![A-Za-z0-9_])`; // a word starts here
const E = String.raw`(?![A-Za-z0-9_])`; // a word ends here
const NOKEY = String.raw`(?!\s*:)`; // ... and is not a record key (`body: body`)
const DIGITS = String.raw`[0-9](?:_?[0-9])*`;
const word = (words) => `${B}(?:${words.join("|")})${E}`;
/** What follows a word that is an operand rather than a keyword starting a clause. */
const OPERAND_FOLLOWS = String.raw`\s*(?:[:.,)\]}=<>+*/%?!]|-(?!>)|$)|\s+(?:and|or|not|in|is|has|then|else)(?![A-Za-z0-9_])`;
/** Where an option, clause or arm starts: at the start of a line, or after `{` or `}`. */
const AT_START = String.raw`(?:^|(?<=[{}]))[ \t]*`;

// A line that starts a declaration (grammar/src/journey.pest: `item_start`, without its `///`
// so that a doc comment stays with the region above it, and not when the word after the keyword
// is an operator: `event is null` continues an expression). Every region ends there.
const ITEM_START = String.raw`(?:(?:schema|type|event|datasource|action|journey|channel|frequency)[ \t]+(?!(?:and|or|not|in|is|has|then|else)(?![A-Za-z0-9_]))[A-Za-z_]|audience[ \t]+[A-Za-z_][A-Za-z0-9_]*(?![A-Za-z0-9_])(?![ \t]+has(?![A-Za-z0-9_]))|profile[ \t]*=(?!=)|test[ \t]*["'])`;
const ITEM_END = String.raw`^(?=[ \t]*${ITEM_START})`;
// An unclosed `(` also ends at a line that starts a statement, a setting or a test statement
// (pest: `group_stop`, which grammar/tests/keywords.rs checks against the same roles; `if` also
// starts an expression).
const GROUP_STOP_WORDS = [...withRole("statement").filter((w) => w !== "if"), ...withRole("setting"), "send", "expect", "mock"];
const GROUP_STOP = String.raw`(?:${GROUP_STOP_WORDS.join("|")})(?![A-Za-z0-9_])(?![ \t]*:)`;
// After a type: a name, `}`, `>`, `?` or a backtick, not followed by more of the type.
const TYPE_END = String.raw`(?<=[A-Za-z0-9_}>?\x60])(?![A-Za-z0-9_]|\s*[?<])`;

const BUILTIN_TYPES = ["string", "int", "number", "bool", "date", "datetime", "localdatetime", "time", "duration", "any"];
const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const WEEKDAYS = withRole("weekday");

// The library (compiler/src/functions.rs, plus `date` and `secret`); checked by the tests.
export const FUNCTIONS = [
  // aggregation
  "avg", "count", "countOnlyNull", "countWithNull", "distinctCount", "distinctCountWithNull", "max", "min", "sum",
  // conversion
  "toBool", "toDateOnly", "toDateTime", "toDateTimeOnly", "toDecimal", "toDuration", "toInteger", "toString",
  // date
  "currentTimeInMillis", "inLastDays", "inLastHours", "inLastMonths", "inLastYears", "inNextDays", "inNextHours",
  "inNextMonths", "inNextYears", "now", "nowWithDelta", "setDays", "setHours", "updateTimeZone",
  // list
  "distinct", "distinctWithNull", "filter", "getListItem", "in", "intersect", "limit", "listSize", "serializeList", "sort",
  // math
  "random", "round",
  // string
  "concat", "contain", "containIgnoreCase", "endWith", "endWithIgnoreCase", "equalIgnoreCase", "indexOf", "isEmpty",
  "isNotEmpty", "lastIndexOf", "length", "lower", "matchRegExp", "notEqualIgnoreCase", "replace", "replaceAll", "split",
  "startWith", "startWithIgnoreCase", "substr", "trim", "upper", "uuid",
  // audiences and collections
  "inAudience", "inSegment", "all", "first", "last", "at",
  // our additions
  "dayOfWeek", "timeOf", "abs", "floor", "ceil", "isEmailValid", "date", "secret",
];

// Words that never name a function being called (the generic call rule skips them).
const NOT_CALLED = [
  ...new Set([...withRole("expression"), ...withRole("statement"), ...withRole("await-arm"), "where", "as", "until"]),
];

/**
 * A clause or option word (`key`, `when`, `headers`, `retry`, ...), which starts a clause where a
 * line, `{` or `}` is before it, or mid-line unless it reads as an operand (`when key == "x"`,
 * `body { body: body }`). `words` is captured as group 1, `rest` follows.
 */
function clause(words, rest, rule) {
  return [
    { ...rule, [rule.begin === undefined ? "match" : "begin"]: String.raw`${AT_START}(${words})${E}${NOKEY}${rest}` },
    { ...rule, [rule.begin === undefined ? "match" : "begin"]: String.raw`${B}(${words})${E}(?!${OPERAND_FOLLOWS})${rest}` },
  ];
}

const inc = (name) => ({ include: `#${name}` });
const cap = (name) => ({ name });

// ---------------------------------------------------------------------------------- grammar

const repository = {
  // ------------------------------------------------------------------ comments
  comments: { patterns: [inc("doc-comment"), inc("line-comment"), inc("block-comment")] },
  "doc-comment": {
    match: String.raw`(///).*$`,
    name: "comment.line.documentation.journey",
    captures: { 1: cap("punctuation.definition.comment.journey") },
  },
  "line-comment": {
    match: String.raw`(//).*$`,
    name: "comment.line.double-slash.journey",
    captures: { 1: cap("punctuation.definition.comment.journey") },
  },
  "block-comment": {
    begin: String.raw`/\*`,
    end: String.raw`\*/`,
    name: "comment.block.journey",
    beginCaptures: { 0: cap("punctuation.definition.comment.begin.journey") },
    endCaptures: { 0: cap("punctuation.definition.comment.end.journey") },
  },

  // ------------------------------------------------------------------ declarations
  declarations: {
    patterns: [
      inc("schema-declaration"),
      inc("type-declaration"),
      inc("profile-declaration"),
      inc("event-declaration"),
      inc("audience-declaration"),
      inc("datasource-declaration"),
      inc("action-declaration"),
      inc("journey-declaration"),
      inc("test-declaration"),
      inc("channel-declaration"),
      inc("frequency-declaration"),
    ],
  },
  "channel-declaration": {
    name: "meta.declaration.channel.journey",
    begin: String.raw`${B}(channel)${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap("storage.type.channel.journey"), 2: cap("entity.name.constant.channel.journey") },
    end: ITEM_END,
    patterns: [
      inc("comments"),
      {
        match: String.raw`${B}(deliver)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.other.deliver.journey"), 2: cap("entity.name.function.action.journey") },
      },
      {
        // `opened on E by f`, `clicked on E by f` (`f` is a field of E's payload; the rest of a
        // dotted path is read as fields after `.`)
        match: String.raw`${B}(opened|clicked)\s+(on)${E}(?:\s+(${ID}))?(?:\s+(by)${E}(?:\s+(${ID}))?)?`,
        captures: {
          1: cap("keyword.other.$1.journey"),
          2: cap("keyword.other.on.journey"),
          3: cap("entity.name.type.event.journey"),
          4: cap("keyword.other.by.journey"),
          5: cap("variable.other.property.journey"),
        },
      },
      { match: String.raw`${B}(to|consent|quiet|queue|drop)${E}(?!\s*:)`, name: "keyword.other.$1.journey" },
      inc("braces"),
      inc("expression"),
    ],
  },
  "frequency-declaration": {
    match: String.raw`${B}(frequency)${E}(?:\s+(${ID}))?(?:\s+(${DIGITS})(?:\s+(per)${E})?)?`,
    captures: {
      1: cap("storage.type.frequency.journey"),
      2: cap("entity.name.constant.channel.journey"),
      3: cap("constant.numeric.integer.journey"),
      4: cap("keyword.other.per.journey"),
    },
  },
  "schema-declaration": {
    name: "meta.declaration.schema.journey",
    begin: String.raw`${B}(schema)${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap("storage.type.schema.journey"), 2: cap("entity.name.type.schema.journey") },
    end: ITEM_END,
    patterns: [inc("comments"), inc("schema-source")],
  },
  "profile-declaration": {
    name: "meta.declaration.profile.journey",
    begin: String.raw`${B}(profile)\s*(=)(?!=)`,
    beginCaptures: { 1: cap("storage.type.profile.journey"), 2: cap("keyword.operator.assignment.journey") },
    end: ITEM_END,
    patterns: [inc("comments"), inc("schema-source")],
  },
  "schema-source": {
    patterns: [
      { match: String.raw`${B}(xdm|json|with)${E}`, name: "keyword.other.$1.journey" },
      { match: String.raw`=(?!=)`, name: "keyword.operator.assignment.journey" },
      { match: ",", name: "punctuation.separator.comma.journey" },
      inc("strings"),
      inc("type-expression"),
    ],
  },
  "type-declaration": {
    name: "meta.declaration.type.journey",
    begin: String.raw`${B}(type)${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap("storage.type.type.journey"), 2: cap("entity.name.type.alias.journey") },
    end: ITEM_END,
    patterns: [
      inc("comments"),
      { match: String.raw`=(?!=)`, name: "keyword.operator.assignment.journey" },
      inc("type-expression"),
    ],
  },
  "event-declaration": {
    name: "meta.declaration.event.journey",
    begin: String.raw`${B}(event)${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap("storage.type.event.journey"), 2: cap("entity.name.type.event.journey") },
    end: ITEM_END,
    patterns: [
      inc("comments"),
      {
        // `event Name: PayloadType`
        begin: String.raw`\G\s*(:)`,
        beginCaptures: { 1: cap("punctuation.separator.type-annotation.journey") },
        end: TYPE_END,
        patterns: [inc("comments"), inc("type-expression")],
      },
      // `key` and `when`, also on one line (`{ key email when quantity > 0 }`); in
      // `when key == "x"`, `key` is a field.
      ...clause("key|when", "", { captures: { 1: cap("keyword.other.$1.journey") } }),
      inc("record-key"),
      inc("braces"),
      // Inside `key` and `when`, bare names are the payload's fields.
      inc("expression-core"),
      { match: ID, name: "variable.other.property.journey" },
    ],
  },
  "audience-declaration": {
    match: String.raw`${B}(audience)${E}(?:\s+(${ID}))?`,
    captures: { 1: cap("storage.type.audience.journey"), 2: cap("entity.name.constant.audience.journey") },
  },
  "datasource-declaration": httpDeclaration("datasource"),
  "action-declaration": httpDeclaration("action"),
  "journey-declaration": {
    name: "meta.declaration.journey.journey",
    begin: String.raw`${B}(journey)${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap("storage.type.journey.journey"), 2: cap("entity.name.namespace.journey") },
    end: ITEM_END,
    patterns: [inc("journey-body")],
  },
  "test-declaration": {
    name: "meta.declaration.test.journey",
    begin: String.raw`${B}(test)${E}`,
    beginCaptures: { 1: cap("storage.type.test.journey") },
    end: ITEM_END,
    patterns: [
      {
        // The test's name.
        begin: String.raw`\G\s*(")`,
        beginCaptures: { 1: cap("punctuation.definition.string.begin.journey") },
        end: String.raw`(")|$`,
        endCaptures: { 1: cap("punctuation.definition.string.end.journey") },
        name: "string.quoted.double.journey entity.name.function.test.journey",
        patterns: [inc("string-escape"), inc("interpolation")],
      },
      {
        begin: String.raw`\G\s*(')`,
        beginCaptures: { 1: cap("punctuation.definition.string.begin.journey") },
        end: String.raw`(')|$`,
        endCaptures: { 1: cap("punctuation.definition.string.end.journey") },
        name: "string.quoted.single.journey entity.name.function.test.journey",
        patterns: [inc("string-escape")],
      },
      inc("test-body"),
    ],
  },

  // ------------------------------------------------------------------ actions and data sources
  parameters: {
    // `(memberId: string, vars: map<string>?)` right after the declared name.
    begin: String.raw`\G\s*(\()`,
    beginCaptures: { 1: cap("punctuation.section.parameters.begin.journey") },
    end: String.raw`(\))|${ITEM_END}`,
    endCaptures: { 1: cap("punctuation.section.parameters.end.journey") },
    name: "meta.parameters.journey",
    patterns: [
      inc("comments"),
      {
        match: String.raw`(${ID})\s*(:)`,
        captures: {
          1: cap("variable.parameter.journey"),
          2: cap("punctuation.separator.type-annotation.journey"),
        },
      },
      { match: ",", name: "punctuation.separator.comma.journey" },
      inc("type-expression"),
    ],
  },
  "http-target": {
    // `http POST "https://host/v1/{param}"`
    begin: String.raw`${B}(http)${E}(?:[ \t]+(?:(${HTTP_METHODS.join("|")})|(${ID}))${E})?`,
    beginCaptures: {
      1: cap("keyword.other.http.journey"),
      2: cap("support.constant.http-method.journey"),
      3: cap("invalid.illegal.http-method.journey"),
    },
    end: String.raw`(?<=")|(?=[{}])|$`,
    patterns: [inc("comments"), inc("url-string")],
  },
  "url-string": {
    begin: '"',
    beginCaptures: { 0: cap("punctuation.definition.string.begin.journey") },
    end: String.raw`(")|$`,
    endCaptures: { 1: cap("punctuation.definition.string.end.journey") },
    name: "string.quoted.double.url.journey",
    patterns: [
      inc("string-escape"),
      inc("interpolation"),
      { match: String.raw`\{${ID}\}`, name: "constant.other.placeholder.journey" },
    ],
  },
  "http-options": {
    patterns: [
      ...clause("headers|query|body|timeout|cache|concurrency", "", { captures: { 1: cap("keyword.other.$1.journey") } }),
      ...clause("auth", String.raw`(?:[ \t]+(none|basic|bearer|header)${E})?`, {
        captures: { 1: cap("keyword.other.auth.journey"), 2: cap("keyword.other.$2.journey") },
      }),
      ...clause("retry", String.raw`(?:[ \t]+(${DIGITS})${E})?(?:[ \t]+(backoff)${E})?`, {
        captures: {
          1: cap("keyword.other.retry.journey"),
          2: cap("constant.numeric.integer.journey"),
          3: cap("keyword.other.backoff.journey"),
        },
      }),
      ...clause("throttle", String.raw`(?:[ \t]+(${DIGITS})${E})?(?:[ \t]+(per)${E})?`, {
        captures: {
          1: cap("keyword.other.throttle.journey"),
          2: cap("constant.numeric.integer.journey"),
          3: cap("keyword.other.per.journey"),
        },
      }),
      // `returns Type`
      ...clause("returns", String.raw`[ \t]*(?=\S)`, {
        begin: "",
        beginCaptures: { 1: cap("keyword.other.returns.journey") },
        end: TYPE_END,
        patterns: [inc("comments"), inc("type-expression")],
      }),
      ...clause("returns", "", { captures: { 1: cap("keyword.other.returns.journey") } }),
    ],
  },

  // ------------------------------------------------------------------ journeys
  "journey-body": {
    patterns: [
      inc("comments"),
      inc("record-key"),
      inc("settings"),
      inc("statements"),
      inc("braces"),
      inc("expression"),
    ],
  },
  settings: {
    patterns: [
      {
        // start on E | start on audience A (enters | exits | every <day> at T | once at T)
        match: String.raw`${B}(start)\s+(on)${E}(?:\s+(?:(audience)${E}(?:\s+(${ID}))?(?:\s+(?:(enters|exits)${E}|(every)${E}(?:\s+(${WEEKDAYS.join("|")})${E})?(?:\s+(at)${E})?|(once)${E}(?:\s+(at)${E})?))?|(${ID})))?`,
        captures: {
          1: cap("keyword.other.start.journey"),
          2: cap("keyword.other.on.journey"),
          3: cap("keyword.other.audience.journey"),
          4: cap("entity.name.constant.audience.journey"),
          5: cap("keyword.other.$5.journey"),
          6: cap("keyword.other.every.journey"),
          7: cap("constant.language.schedule.journey"),
          8: cap("keyword.other.at.journey"),
          9: cap("keyword.other.once.journey"),
          10: cap("keyword.other.at.journey"),
          11: cap("entity.name.type.event.journey"),
        },
      },
      {
        match: String.raw`${B}(reentry)${E}(?:\s+(?:(never|always)|(after))${E})?`,
        captures: {
          1: cap("keyword.other.reentry.journey"),
          2: cap("keyword.other.$2.journey"),
          3: cap("keyword.other.after.journey"),
        },
      },
      { match: String.raw`${B}(timezone)${E}${NOKEY}`, captures: { 1: cap("keyword.other.timezone.journey") } },
      {
        // `start on E for audience A` (a business event)
        match: String.raw`${B}(for)\s+(audience)${E}(?:\s+(${ID}))?`,
        captures: {
          1: cap("keyword.other.for.journey"),
          2: cap("keyword.other.audience.journey"),
          3: cap("entity.name.constant.audience.journey"),
        },
      },
      {
        // `active from A to B`
        begin: String.raw`${B}(active)${E}(?:\s+(from)${E})?`,
        beginCaptures: { 1: cap("keyword.other.active.journey"), 2: cap("keyword.other.from.journey") },
        end: "$",
        patterns: [{ match: String.raw`${B}to${E}`, name: "keyword.other.to.journey" }, inc("expression")],
      },
      {
        match: String.raw`${B}(exit)${E}(?:\s+(on)${E}(?:\s+(${ID}))?)?`,
        captures: {
          1: cap("keyword.other.exit.journey"),
          2: cap("keyword.other.on.journey"),
          3: cap("entity.name.type.event.journey"),
        },
      },
      {
        // `goal "NAME" on E [as x] [where COND] within DURATION [value EXPR]`, to the end of the
        // line (a `value` on the next line is the rule below)
        begin: String.raw`${B}(goal)${E}${NOKEY}`,
        beginCaptures: { 1: cap("keyword.other.goal.journey") },
        end: "$",
        patterns: [
          {
            match: String.raw`${B}(on)${E}(?:\s+(${ID}))?(?:\s+(as)${E}(?:\s+(${ID}))?)?`,
            captures: {
              1: cap("keyword.other.on.journey"),
              2: cap("entity.name.type.event.journey"),
              3: cap("keyword.other.as.journey"),
              4: cap("entity.name.variable.local.journey"),
            },
          },
          { match: String.raw`(?<!\.)${B}(where|within|value)${E}${NOKEY}`, name: "keyword.other.$1.journey" },
          inc("expression"),
        ],
      },
      // A goal's clauses continued on lines of their own (as `journey fmt` breaks a long goal).
      {
        match: String.raw`${AT_START}(where|within|value)${E}(?![ \t]*[:=.,)])`,
        captures: { 1: cap("keyword.other.$1.journey") },
      },
    ],
  },
  statements: {
    patterns: [
      {
        match: String.raw`${B}(let)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("storage.type.let.journey"), 2: cap("entity.name.variable.local.journey") },
      },
      {
        match: String.raw`${B}(wait)${E}(?:\s+(until)${E})?`,
        captures: { 1: cap("keyword.control.wait.journey"), 2: cap("keyword.control.until.journey") },
      },
      { match: String.raw`${B}(await)${E}`, captures: { 1: cap("keyword.control.await.journey") } },
      {
        // `send [transactional] CHANNEL TEMPLATE [with RECORD] [as NAME]`
        match: String.raw`${B}(send)${E}(?:\s+(transactional)${E})?(?:\s+(${ID}))?`,
        captures: {
          1: cap("keyword.control.send.journey"),
          2: cap("keyword.control.transactional.journey"),
          3: cap("entity.name.constant.channel.journey"),
        },
      },
      {
        match: String.raw`(?<=["')}\]\w]\s{0,80})\s(with|as)${E}(?!\s*:)(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.control.$1.journey"), 2: cap("entity.name.variable.local.journey") },
      },
      {
        // a reaction arm: `on opened NAME`, `on clicked NAME`
        match: String.raw`${AT_START}(on)\s+(opened|clicked)${E}(?:\s+(${ID}))?`,
        captures: {
          1: cap("keyword.control.on.journey"),
          2: cap("keyword.control.$2.journey"),
          3: cap("entity.name.variable.local.journey"),
        },
      },
      {
        // a handler: `on timeout { }`, `on error { }`, `on suppressed { }`
        match: String.raw`${B}(on)\s+(timeout|error|suppressed)${E}`,
        captures: { 1: cap("keyword.control.on.journey"), 2: cap("keyword.control.$2.journey") },
      },
      {
        // an await arm: `on E as x where cond -> { }`
        match: String.raw`${AT_START}(on)${E}(?!\s+(?:timeout|error|suppressed|opened|clicked)${E})(?:\s+(${ID}))?(?:\s+(as)${E}(?:\s+(${ID}))?)?(?:\s+(where)${E})?`,
        captures: {
          1: cap("keyword.control.on.journey"),
          2: cap("entity.name.type.event.journey"),
          3: cap("keyword.control.as.journey"),
          4: cap("entity.name.variable.local.journey"),
          5: cap("keyword.control.where.journey"),
        },
      },
      { match: String.raw`${AT_START}(after)${E}${NOKEY}`, captures: { 1: cap("keyword.control.after.journey") } },
      { match: String.raw`${B}(split)${E}(?!\s*\()`, name: "keyword.control.split.journey" },
      { match: String.raw`${B}cap${E}`, name: "keyword.control.cap.journey" },
      {
        match: String.raw`${B}(call)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.control.call.journey"), 2: cap("entity.name.function.action.journey") },
      },
      {
        match: String.raw`${B}(fetch)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.control.fetch.journey"), 2: cap("entity.name.function.datasource.journey") },
      },
      inc("update-profile"),
      {
        match: String.raw`${B}(jump)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.control.jump.journey"), 2: cap("entity.name.namespace.journey") },
      },
      { match: String.raw`${B}end${E}`, name: "keyword.control.end.journey" },
      // `timeout 14d` (a setting): after the handler rule above.
      { match: String.raw`${B}(timeout)${E}${NOKEY}`, captures: { 1: cap("keyword.other.timeout.journey") } },
    ],
  },
  "update-profile": {
    patterns: [
      {
        begin: String.raw`${B}(update)\s+(profile)${E}\s*(\{)`,
        beginCaptures: {
          1: cap("keyword.control.update.journey"),
          2: cap("keyword.control.profile.journey"),
          3: cap("punctuation.section.braces.begin.journey"),
        },
        end: String.raw`(\})|${ITEM_END}`,
        endCaptures: { 1: cap("punctuation.section.braces.end.journey") },
        name: "meta.update-profile.journey",
        patterns: [
          inc("comments"),
          {
            // `loyalty.points = ...`: a path into the profile.
            match: String.raw`(?:^|(?<=[{,]))\s*((?:${ID}|${TICK})(?:\s*\.\s*(?:${ID}|${TICK}))*)\s*(=)(?!=)`,
            captures: {
              1: {
                patterns: [
                  { match: String.raw`\.`, name: "punctuation.accessor.journey" },
                  { match: String.raw`${ID}|${TICK}`, name: "variable.other.property.journey" },
                ],
              },
              2: cap("keyword.operator.assignment.journey"),
            },
          },
          inc("record"),
          inc("expression"),
        ],
      },
      {
        match: String.raw`${B}(update)${E}(?:\s+(profile)${E})?`,
        captures: { 1: cap("keyword.control.update.journey"), 2: cap("keyword.control.profile.journey") },
      },
    ],
  },

  // ------------------------------------------------------------------ tests
  "test-body": {
    patterns: [
      inc("comments"),
      inc("record-key"),
      {
        match: String.raw`${B}(expect)\s+(?:(no)\s+)?(call)${E}(?:\s+(${ID}))?`,
        captures: {
          1: cap("keyword.other.expect.journey"),
          2: cap("keyword.other.no.journey"),
          3: cap("keyword.other.call.journey"),
          4: cap("entity.name.function.journey"),
        },
      },
      {
        match: String.raw`${B}(expect)\s+(?:(no)\s+)?(sent|suppressed)${E}(?:\s+(${ID}))?`,
        captures: {
          1: cap("keyword.other.expect.journey"),
          2: cap("keyword.other.no.journey"),
          3: cap("keyword.other.$3.journey"),
          4: cap("entity.name.constant.channel.journey"),
        },
      },
      { match: String.raw`${B}(because|to|as)${E}(?!\s*:)`, name: "keyword.other.$1.journey" },
      {
        // `expect [no] J converted "goal"`, `expect J arm "B"`
        match: String.raw`${B}(expect)\s+(?:(no)\s+)?(${ID})\s+(converted|arm)${E}`,
        captures: {
          1: cap("keyword.other.expect.journey"),
          2: cap("keyword.other.no.journey"),
          3: cap("entity.name.namespace.journey"),
          4: cap("keyword.other.$4.journey"),
        },
      },
      {
        match: String.raw`${B}(expect)${E}(?:\s+(${ID})(?:\s+(ended|running)${E})?)?`,
        captures: {
          1: cap("keyword.other.expect.journey"),
          2: cap("entity.name.namespace.journey"),
          3: cap("keyword.other.$3.journey"),
        },
      },
      {
        match: String.raw`${B}(${DIGITS})\s+(times?)${E}`,
        captures: { 1: cap("constant.numeric.integer.journey"), 2: cap("keyword.other.times.journey") },
      },
      { match: String.raw`${B}(ended|running)${E}`, name: "keyword.other.$1.journey" },
      {
        match: String.raw`${B}(mock)${E}(?:\s+(${ID}))?(?:\s*(->)(?:\s*(fail|timeout)${E})?)?`,
        captures: {
          1: cap("keyword.other.mock.journey"),
          2: cap("entity.name.function.journey"),
          3: cap("keyword.operator.arrow.journey"),
          4: cap("keyword.other.$4.journey"),
        },
      },
      {
        match: String.raw`${B}(send)${E}(?:\s+(${ID}))?`,
        captures: { 1: cap("keyword.other.send.journey"), 2: cap("entity.name.type.event.journey") },
      },
      {
        match: String.raw`${B}(audience)${E}(?:\s+(${ID})(?:\s+(has)${E})?)?`,
        captures: {
          1: cap("keyword.other.audience.journey"),
          2: cap("entity.name.constant.audience.journey"),
          3: cap("keyword.other.has.journey"),
        },
      },
      { match: String.raw`${B}(start|after)${E}`, name: "keyword.other.$1.journey" },
      { match: String.raw`${B}profile${E}(?!\s*\.)`, name: "keyword.other.profile.journey" },
      inc("braces"),
      inc("expression"),
    ],
  },

  // ------------------------------------------------------------------ types
  "type-expression": {
    patterns: [
      inc("comments"),
      {
        name: "meta.type.record.journey",
        begin: String.raw`\{`,
        beginCaptures: { 0: cap("punctuation.section.braces.begin.journey") },
        end: String.raw`(\})|${ITEM_END}`,
        endCaptures: { 1: cap("punctuation.section.braces.end.journey") },
        patterns: [
          inc("comments"),
          {
            match: String.raw`(?:(${ID})|(${TICK}))\s*(:)`,
            captures: {
              1: cap("variable.other.property.journey"),
              2: cap("variable.other.property.journey"),
              3: cap("punctuation.separator.type-annotation.journey"),
            },
          },
          { match: ",", name: "punctuation.separator.comma.journey" },
          inc("strings"),
          { match: ":", name: "punctuation.separator.type-annotation.journey" },
          inc("type-expression"),
        ],
      },
      {
        begin: String.raw`${B}(list|map)\s*(<)`,
        beginCaptures: {
          1: cap("support.type.builtin.journey"),
          2: cap("punctuation.definition.typeparameters.begin.journey"),
        },
        end: String.raw`(>)|(?=[)}=,])|${ITEM_END}`,
        endCaptures: { 1: cap("punctuation.definition.typeparameters.end.journey") },
        patterns: [inc("type-expression")],
      },
      { match: word(["list", "map"]), name: "support.type.builtin.journey" },
      { match: word(BUILTIN_TYPES), name: "support.type.primitive.journey" },
      { match: String.raw`\?`, name: "keyword.operator.optional.journey" },
      { match: ID, name: "entity.name.type.journey" },
    ],
  },

  // ------------------------------------------------------------------ expressions
  expression: { patterns: [inc("expression-core"), inc("identifier")] },
  "expression-core": {
    patterns: [
      inc("comments"),
      inc("record-key"),
      inc("strings"),
      inc("literals"),
      inc("type-tests"),
      inc("function-call"),
      inc("word-operators"),
      {
        match: String.raw`${B}(event|profile)${E}`,
        name: "variable.language.$1.journey",
      },
      {
        match: String.raw`(?<!\.)(\.)(?!\.)\s*(${ID}|${TICK})?`,
        captures: { 1: cap("punctuation.accessor.journey"), 2: cap("variable.other.property.journey") },
      },
      { match: TICK, name: "variable.other.property.journey" },
      inc("parens"),
      inc("operators"),
      inc("punctuation"),
      { match: String.raw`[#@$&|^~;\\]`, name: "invalid.illegal.character.journey" },
    ],
  },
  identifier: { match: ID, name: "variable.other.readwrite.journey" },
  "record-key": {
    // `to: email`, `` `@id`: "x" ``: a record key (or a named argument, inside parentheses).
    match: String.raw`(?:(${ID})|(${TICK}))\s*(:)`,
    captures: {
      1: cap("support.type.property-name.journey"),
      2: cap("support.type.property-name.journey"),
      3: cap("punctuation.separator.key-value.journey"),
    },
  },
  "function-call": {
    patterns: [
      {
        match: String.raw`${B}(${FUNCTIONS.join("|")})${E}\s*(?=\()`,
        captures: { 1: cap("support.function.builtin.journey") },
      },
      {
        match: String.raw`${B}(?!(?:${NOT_CALLED.join("|")})${E})(${ID})\s*(?=\()`,
        captures: { 1: cap("entity.name.function.journey") },
      },
    ],
  },
  parens: {
    begin: String.raw`\(`,
    beginCaptures: { 0: cap("punctuation.section.parens.begin.journey") },
    end: String.raw`(\))|^(?=[ \t]*(?:${GROUP_STOP}|${ITEM_START}))`,
    endCaptures: { 1: cap("punctuation.section.parens.end.journey") },
    patterns: [
      inc("comments"),
      {
        // a named argument: `to: email`
        match: String.raw`(${ID})\s*(:)`,
        captures: { 1: cap("variable.parameter.journey"), 2: cap("punctuation.separator.key-value.journey") },
      },
      {
        // a lambda: `i -> i.sku == sku`
        match: String.raw`(${ID})\s*(->)`,
        captures: { 1: cap("variable.parameter.journey"), 2: cap("keyword.operator.arrow.journey") },
      },
      inc("record"),
      inc("expression"),
    ],
  },
  record: {
    // A record literal nested in an expression (in parentheses, brackets' elements, `${...}`).
    begin: String.raw`\{`,
    beginCaptures: { 0: cap("punctuation.section.braces.begin.journey") },
    end: String.raw`(\})|${ITEM_END}`,
    endCaptures: { 1: cap("punctuation.section.braces.end.journey") },
    name: "meta.record.journey",
    patterns: [inc("comments"), inc("record-key"), inc("record"), inc("expression")],
  },
  braces: {
    patterns: [
      { match: String.raw`\{`, name: "punctuation.section.braces.begin.journey" },
      { match: String.raw`\}`, name: "punctuation.section.braces.end.journey" },
    ],
  },
  "type-tests": {
    patterns: [
      {
        match: String.raw`${B}(is)\s+(?:(not)\s+)?(?:(null)|(integer|decimal|numeric))${E}`,
        captures: {
          1: cap("keyword.operator.expression.is.journey"),
          2: cap("keyword.operator.logical.journey"),
          3: cap("constant.language.null.journey"),
          4: cap("support.type.primitive.journey"),
        },
      },
      {
        match: String.raw`${B}(has)\s+(null)${E}`,
        captures: { 1: cap("keyword.operator.expression.has.journey"), 2: cap("constant.language.null.journey") },
      },
      {
        match: String.raw`${B}(not)\s+(in)${E}`,
        captures: { 1: cap("keyword.operator.logical.journey"), 2: cap("keyword.operator.expression.in.journey") },
      },
    ],
  },
  "word-operators": {
    patterns: [
      { match: word(["and", "or", "not"]), name: "keyword.operator.logical.journey" },
      { match: String.raw`${B}(in|is|has)${E}`, name: "keyword.operator.expression.$1.journey" },
      { match: word(["if", "then", "else"]), name: "keyword.control.conditional.journey" },
    ],
  },
  operators: {
    patterns: [
      { match: "->", name: "keyword.operator.arrow.journey" },
      { match: String.raw`\?\?`, name: "keyword.operator.null-coalescing.journey" },
      { match: String.raw`\.\.`, name: "keyword.operator.range.journey" },
      { match: "==|!=", name: "keyword.operator.comparison.journey" },
      { match: "<=|>=|<|>", name: "keyword.operator.relational.journey" },
      { match: "=", name: "keyword.operator.assignment.journey" },
      { match: String.raw`[-+*/%]`, name: "keyword.operator.arithmetic.journey" },
      // `!` only exists in `!=`; `?` only after a type.
      { match: String.raw`[!?]`, name: "invalid.illegal.operator.journey" },
    ],
  },
  punctuation: {
    patterns: [
      { match: ",", name: "punctuation.separator.comma.journey" },
      { match: ":", name: "punctuation.separator.key-value.journey" },
      { match: String.raw`\[`, name: "punctuation.section.brackets.begin.journey" },
      { match: String.raw`\]`, name: "punctuation.section.brackets.end.journey" },
      { match: String.raw`\)`, name: "invalid.illegal.unbalanced.journey" },
    ],
  },

  // ------------------------------------------------------------------ literals
  literals: {
    patterns: [
      {
        match: String.raw`${B}[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?${E}`,
        name: "constant.numeric.datetime.journey",
      },
      { match: String.raw`${B}[0-9]{4}-[0-9]{2}-[0-9]{2}${E}`, name: "constant.numeric.date.journey" },
      { match: String.raw`${B}[0-9]{2}:[0-9]{2}(?::[0-9]{2})?${E}`, name: "constant.numeric.time.journey" },
      {
        match: String.raw`${B}(?:${DIGITS}(?:ms|s|m|h|d|w))+${E}`,
        name: "constant.numeric.duration.journey",
        captures: { 0: { patterns: [{ match: "ms|s|m|h|d|w", name: "keyword.other.unit.journey" }] } },
      },
      {
        match: String.raw`${B}[0-9]+(?:\.[0-9]+)?(%)`,
        name: "constant.numeric.percentage.journey",
        captures: { 1: cap("keyword.other.unit.percentage.journey") },
      },
      {
        match: String.raw`${B}${DIGITS}(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)${E}`,
        name: "constant.numeric.decimal.journey",
      },
      { match: String.raw`${B}${DIGITS}${E}(?!\.[0-9])`, name: "constant.numeric.integer.journey" },
      // `30days`, `1.5h`: not a literal.
      { match: String.raw`${B}[0-9][A-Za-z0-9_.]*`, name: "invalid.illegal.numeric.journey" },
      { match: String.raw`${B}(true|false)${E}`, name: "constant.language.boolean.$1.journey" },
      { match: String.raw`${B}null${E}`, name: "constant.language.null.journey" },
    ],
  },

  // ------------------------------------------------------------------ strings
  strings: { patterns: [inc("string-double"), inc("string-single")] },
  "string-double": {
    begin: '"',
    beginCaptures: { 0: cap("punctuation.definition.string.begin.journey") },
    end: String.raw`(")|$`,
    endCaptures: { 1: cap("punctuation.definition.string.end.journey") },
    name: "string.quoted.double.journey",
    patterns: [inc("string-escape"), inc("interpolation")],
  },
  "string-single": {
    // Single-quoted strings never interpolate.
    begin: "'",
    beginCaptures: { 0: cap("punctuation.definition.string.begin.journey") },
    end: String.raw`(')|$`,
    endCaptures: { 1: cap("punctuation.definition.string.end.journey") },
    name: "string.quoted.single.journey",
    patterns: [inc("string-escape")],
  },
  "string-escape": {
    patterns: [
      { match: String.raw`\\(?:["\\/bfnrt'$]|u[0-9A-Fa-f]{4})`, name: "constant.character.escape.journey" },
      { match: String.raw`\\.?`, name: "invalid.illegal.escape.journey" },
    ],
  },
  interpolation: {
    begin: String.raw`\$\{`,
    beginCaptures: { 0: cap("punctuation.section.embedded.begin.journey") },
    end: String.raw`(\})|(?=$)`,
    endCaptures: { 1: cap("punctuation.section.embedded.end.journey") },
    name: "meta.embedded.line.journey",
    patterns: [inc("record"), inc("expression")],
  },
};

function httpDeclaration(kind) {
  return {
    name: `meta.declaration.${kind}.journey`,
    begin: String.raw`${B}(${kind})${E}(?:\s+(${ID}))?`,
    beginCaptures: { 1: cap(`storage.type.${kind}.journey`), 2: cap(`entity.name.function.${kind}.journey`) },
    end: ITEM_END,
    patterns: [
      inc("parameters"),
      inc("comments"),
      inc("http-target"),
      inc("record-key"),
      inc("http-options"),
      inc("braces"),
      inc("expression"),
    ],
  };
}

export const grammar = {
  $schema: "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
  name: "Journey",
  scopeName: "source.journey",
  fileTypes: ["journey"],
  comment: "Generated by scripts/build-grammar.mjs: edit that file, then run `npm run build`.",
  patterns: [inc("comments"), inc("declarations"), inc("braces"), inc("expression")],
  repository,
};

export function render() {
  return JSON.stringify(grammar, null, 2) + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = render();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(out, "utf8");
    } catch {
      // missing: reported below
    }
    if (current !== text) {
      console.error("syntaxes/journey.tmLanguage.json is out of date: run `npm run build` and commit it");
      process.exit(1);
    }
  } else {
    writeFileSync(out, text);
    console.log(`wrote ${out}`);
  }
}

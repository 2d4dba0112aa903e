//! Every diagnostic code with what it means, an example that triggers it and the fix.
//! `journey explain CODE` prints these; a test checks that each example triggers its code.

/// What `journey explain` knows about a code.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    /// `E0001`.., `W0001`...
    pub code: &'static str,
    /// A short title.
    pub title: &'static str,
    /// What the rule is and why.
    pub explanation: &'static str,
    /// A complete journey file that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

/// Looks a code up (case-insensitive).
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// Every code the compiler reports.
pub static CODES: &[CodeInfo] = &[
    CodeInfo {
        code: "E0001",
        title: "syntax error",
        explanation: "The text does not follow the journey grammar. The parser names what it expected; it then skips to the next statement or declaration and goes on, so each mistake is reported.",
        example: "journey Welcome {\n  start on SignUp\n  wait = 1h\n}\n",
        fix: "Write the construct as the reference shows it: here `wait 1h`.",
    },
    CodeInfo {
        code: "E0002",
        title: "duplicate declaration",
        explanation: "Names are global to a project: two declarations (in any files) may not share a name, and a project has at most one `profile`. Two tests in one file may not share a name.",
        example: "type Order = { id: string }\ntype Order = { id: string, total: number }\n",
        fix: "Rename one of them, or delete the copy.",
    },
    CodeInfo {
        code: "E0003",
        title: "unknown name",
        explanation: "The name is not declared anywhere in the project: no event, action, data source, journey, audience, schema, type, local or parameter has it.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  jump Welcom\n}\n",
        fix: "Use the declared name (the help line suggests the nearest one), or declare it.",
    },
    CodeInfo {
        code: "E0004",
        title: "unknown field",
        explanation: "The record (a schema, a `type`, a data source's `returns`) has no field of that name. XDM field names drop their `xdm:` prefix.",
        example: "type Signup = { email: string, name: string? }\nevent SignUp: Signup { key emial }\n",
        fix: "Use the field's name as the schema spells it (the help line suggests the nearest).",
    },
    CodeInfo {
        code: "E0005",
        title: "type mismatch",
        explanation: "A value of one type is used where another is needed: a condition that is not a bool, an argument of the wrong type, an operator on values it does not take, two branches of `if then else` with different types.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  if event.email { end }\n}\n",
        fix: "Convert the value (`toInteger`, `toString`, ...) or compare it: `if event.email != \"\" { ... }`.",
    },
    CodeInfo {
        code: "E0006",
        title: "unknown function",
        explanation: "The expression library has no function of that name. The library follows Adobe Journey Optimizer's, plus `dayOfWeek`, `timeOf`, `abs`, `floor`, `ceil` and `isEmailValid`.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key lowercase(email) }\n",
        fix: "Use the library's name (the help line suggests the nearest): `lower(email)`.",
    },
    CodeInfo {
        code: "E0007",
        title: "wrong number of arguments",
        explanation: "A function, action or data source was given more or fewer arguments than it takes.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key lower(email, \"x\") }\n",
        fix: "Pass the arguments the signature in the message lists.",
    },
    CodeInfo {
        code: "E0008",
        title: "wrong argument name",
        explanation: "An action or data source call names an argument its declaration does not have, names one twice, or leaves out one that has no `?` type.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string) = http POST \"https://mail.example.com/send\" {\n  body { to: to }\n}\njourney Welcome {\n  start on SignUp\n  call Mail(too: event.email)\n}\n",
        fix: "Use the parameter names of the declaration (the help line suggests the nearest).",
    },
    CodeInfo {
        code: "E0009",
        title: "lambda not allowed here",
        explanation: "A lambda `x -> expr` is only an argument of `all`, `first` and `last`.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key lower(x -> email) }\n",
        fix: "Pass a value, or use `all(list, x -> cond)`, `first(list, x -> cond)` or `last(list, x -> cond)`.",
    },
    CodeInfo {
        code: "E0010",
        title: "split percentages do not sum to 100",
        explanation: "Every profile takes exactly one branch of a `split`, so its percentages must add up to 100.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  split {\n    50% \"A\" -> { end \"a\" }\n    40% \"B\" -> { end \"b\" }\n  }\n}\n",
        fix: "Change the percentages so they add up to 100 (add a control branch for the rest).",
    },
    CodeInfo {
        code: "E0011",
        title: "wait longer than the journey timeout",
        explanation: "A `wait` or an `await` timeout (`after`) that is longer than the journey's global timeout can never finish: the instance ends `timed-out` first. Each is compared on its own here; W0005 warns when the waits along one path add up to the timeout.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  timeout 7d\n  wait 10d\n}\n",
        fix: "Shorten the wait, or raise the journey's `timeout` (default 91d).",
    },
    CodeInfo {
        code: "E0012",
        title: "unreachable code",
        explanation: "Statements after an `end` (or after a statement all of whose paths end) never run.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  end \"done\"\n  wait 1h\n}\n",
        fix: "Delete the unreachable statements, or move the `end` after them.",
    },
    CodeInfo {
        code: "E0013",
        title: "jump cycle",
        explanation: "Journeys that `jump` to one another in a circle could hand a profile back and forth forever.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney A {\n  start on SignUp\n  jump B\n}\njourney B {\n  start on SignUp\n  jump A\n}\n",
        fix: "Break the cycle: one of the journeys must not jump back.",
    },
    CodeInfo {
        code: "E0014",
        title: "start event has no profile key",
        explanation: "A journey started by an event needs the event's `key`: a `string` expression over the payload that names the profile. The event declares none, or its key is not a string.",
        example: "type Signup = { email: string, age: int }\nevent SignUp: Signup { key age }\njourney Welcome {\n  start on SignUp\n}\n",
        fix: "Give the event a string key: `key email` (or `key toString(age)`).",
    },
    CodeInfo {
        code: "E0015",
        title: "schema cannot be loaded",
        explanation: "An XDM `$id` that no schema search path or built-in component has, a JSON Schema file that is missing or not valid JSON, or a `$ref` inside a schema that does not resolve.",
        example: "schema Ev = xdm \"https://ns.adobe.com/xdm/context/experienceevnt\"\n",
        fix: "Check the `$id` (the help line suggests the nearest known one) or add the folder holding it with `--schemas DIR` or `[schemas] paths` in journey.toml.",
    },
    CodeInfo {
        code: "E0016",
        title: "`event` is not available here",
        explanation: "`event` is the entry event's payload. A journey started by an audience has no entry event.",
        example: "audience VIP\njourney Greet {\n  start on audience VIP enters\n  if event is null { end }\n}\n",
        fix: "Read the profile (`profile....`) or fetch what you need from a data source.",
    },
    CodeInfo {
        code: "E0017",
        title: "invalid date or time",
        explanation: "A date or time literal that has the right form but names no real date or time: a date like `2026-02-30`, a time like `25:00`, a bad `date(\"...\")` text. (Until version 0.1 this code also covered unknown time zones, now E0024, and values out of range such as `timeout 0d`, now E0025.)",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  active from 2026-02-30 to 2026-03-31\n}\n",
        fix: "Write a real calendar date (`2026-02-28`) or a time within 00:00..23:59:59.",
    },
    CodeInfo {
        code: "E0018",
        title: "schema or type expected",
        explanation: "A declaration of the wrong kind is used: an event's payload must be a `schema` or `type`, `start on` takes an event, `call` an action, `fetch` a data source, `jump` a journey.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string) = http POST \"https://mail.example.com/send\" { }\njourney Welcome {\n  start on SignUp\n  let x = fetch Mail(to: event.email)\n}\n",
        fix: "Use `call` for actions and `fetch` for data sources, and name a declaration of the expected kind.",
    },
    CodeInfo {
        code: "E0019",
        title: "journey setting missing or repeated",
        explanation: "A journey needs exactly one `start on`; `timeout`, `timezone`, `reentry` and `active` may each be given once.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  wait 1h\n}\n",
        fix: "Add one `start on ...` line (or remove the repeated setting).",
    },
    CodeInfo {
        code: "E0020",
        title: "`where` needs `as`",
        explanation: "An await arm's `where` condition reads the awaited event through the name that `as` gives it.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  await {\n    on SignUp where email == \"x\" -> { }\n    after 1d -> { }\n  }\n}\n",
        fix: "Name the payload: `on SignUp as s where s.email == event.email -> { ... }`.",
    },
    CodeInfo {
        code: "E0021",
        title: "not allowed here",
        explanation: "A construct used where it has no meaning: `secret()` outside an action or data source, a range `a..b` outside `in`, `start` after other statements in a test, `event` or `profile` inside an event's `key`/`when`, a `cap` limit that is computed (it counts every profile through the node, so it must be a constant number) or below zero.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key secret(\"TOKEN\") }\n",
        fix: "Move it where it belongs: secrets into an action's headers or auth, ranges after `in`; write a `cap` limit as a number (`cap 1000`, or arithmetic on numbers such as `cap 10 * 100`).",
    },
    CodeInfo {
        code: "E0022",
        title: "invalid option",
        explanation: "An action or data source option outside its range: a `timeout` above 30s, a `retry` count above 10, a `throttle` of 0, a `concurrency` outside 1 to 1000, `cache` on an action, `body` on a GET.",
        example: "action Mail(to: string) = http POST \"https://mail.example.com/send\" {\n  timeout 2m\n}\n",
        fix: "Keep `timeout` at 30s or less, `retry` at 10 or less, `concurrency` from 1 to 1000, and `cache` for data sources.",
    },
    CodeInfo {
        code: "E0023",
        title: "invalid project file",
        explanation: "journey.toml could not be read: it is not valid TOML, or a key has the wrong type.",
        example: "",
        fix: "Write journey.toml as `[schemas] paths = [\"schemas\"]`, with `timezone = \"Europe/Paris\"` and `timeout = \"30d\"` at the top.",
    },
    CodeInfo {
        code: "E0024",
        title: "unknown time zone",
        explanation: "A `timezone` (in a journey or in journey.toml) must name a zone of the IANA time zone database, such as `Europe/Paris` or `America/Los_Angeles`. Abbreviations such as `PST` or `CEST` name an offset, not a place: a zone name also follows the place's daylight saving time, so they are not accepted; the help line names the zone most people mean.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  timezone \"PST\"\n}\n",
        fix: "Write the IANA name: `timezone \"America/Los_Angeles\"` (the help line suggests one; `journey lsp` offers it as a quick fix).",
    },
    CodeInfo {
        code: "E0025",
        title: "value out of range",
        explanation: "A value that can never mean anything: a journey `timeout` of 0, or an `active from .. to ..` window that ends before it starts.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  timeout 0d\n}\n",
        fix: "Give a positive timeout (or leave `timeout` out for the default, 91d), put the window's dates in order.",
    },
    CodeInfo {
        code: "E0026",
        title: "reserved `end` label",
        explanation: "The engine ends instances with labels of its own: \"timed-out\" at the journey timeout, \"exited\" on an `exit on` event, \"stopped\" when the journey is stopped, \"error\" when a step fails; steps also report the outcome \"failed\". An `end` with one of these labels would be counted and reported as that outcome (an `end \"error\"` shows up as a failure), and a test could not tell them apart.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  end \"error\"\n}\n",
        fix: "Name the outcome in your own words: `end \"payment-failed\"`, `end \"no-response\"`.",
    },
    CodeInfo {
        code: "E0027",
        title: "incomplete channel",
        explanation: "A channel must say where its messages go (`to`, an address read from the profile) and which action sends them (`deliver`). Without either, no message could ever be sent through it.",
        example: "channel email {\n  consent true\n}\n",
        fix: "Add the missing clauses: `to profile.personalEmail.address` and `deliver SendEmail`.",
    },
    CodeInfo {
        code: "E0028",
        title: "action cannot deliver messages",
        explanation: "A channel's `deliver` action receives each message: the runtime passes it the address as `to` and the template's id as `template` (and, when it has them, `vars`, `messageId`, `channel`, `journey` and `category`). An action without `to` or `template` parameters cannot receive a message.",
        example: "action Ping(url: string) = http POST \"https://ping.example.com\" {\n  body { url: url }\n}\nchannel email {\n  to \"ops@example.com\"\n  deliver Ping\n}\n",
        fix: "Deliver through an action declared with `to: string` and `template: string`, e.g. `action SendEmail(to: string, template: string, vars: map<string>?) = http POST ...`.",
    },
    CodeInfo {
        code: "E0029",
        title: "reaction to a name that is not a send",
        explanation: "`on opened NAME` and `on clicked NAME` wait for a reaction to the message a `send ... as NAME` sent earlier in the same or an enclosing block. NAME must be such a send.",
        example: "profile = { email: string? }\ntype Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string, template: string) = http POST \"https://mail.example.com/send\" {\n  body { to: to, template: template }\n}\nchannel email {\n  to profile.email\n  deliver Mail\n}\njourney Welcome {\n  start on SignUp\n  await {\n    on opened welcome -> { }\n    after 1d -> { }\n  }\n}\n",
        fix: "Name the message where it is sent, `send email \"welcome\" as welcome`, and react to that name.",
    },
    CodeInfo {
        code: "E0030",
        title: "channel without that reaction",
        explanation: "A reaction arm waits for the event the channel names for it: `on opened m` needs `opened on E by f` in the channel of `m`, `on clicked m` needs `clicked on E by f`. Without it, the reaction could never arrive.",
        example: "profile = { email: string? }\ntype Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string, template: string) = http POST \"https://mail.example.com/send\" {\n  body { to: to, template: template }\n}\nchannel email {\n  to profile.email\n  deliver Mail\n}\njourney Welcome {\n  start on SignUp\n  send email \"welcome\" as welcome\n  await {\n    on opened welcome -> { }\n    after 1d -> { }\n  }\n}\n",
        fix: "Add `opened on EmailOpened by messageId` (naming the event that reports opens) to the channel.",
    },
    CodeInfo {
        code: "E0031",
        title: "invalid frequency rule",
        explanation: "A frequency rule allows at most N marketing messages per window: N must be at least 1 and the window longer than nothing. A rule of 0 would silently stop every marketing message on the channel.",
        example: "profile = { email: string? }\ntype Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string, template: string) = http POST \"https://mail.example.com/send\" {\n  body { to: to, template: template }\n}\nchannel email {\n  to profile.email\n  deliver Mail\n}\nfrequency email 0 per 7d\n",
        fix: "Give at least 1 message (`frequency email 3 per 7d`); to send no marketing on a channel, make its `consent` false.",
    },
    CodeInfo {
        code: "E0032",
        title: "empty quiet window",
        explanation: "A quiet window `FROM..TO` holds the times `FROM <= t < TO` (crossing midnight when TO is earlier). A window that starts where it ends holds no time at all, which is never what was meant.",
        example: "profile = { email: string? }\ntype Signup = { email: string }\nevent SignUp: Signup { key email }\naction Mail(to: string, template: string) = http POST \"https://mail.example.com/send\" {\n  body { to: to, template: template }\n}\nchannel email {\n  to profile.email\n  deliver Mail\n  quiet 21:00..21:00 queue\n}\n",
        fix: "Give the window's two ends: `quiet 21:00..08:00 queue`.",
    },
    CodeInfo {
        code: "W0001",
        title: "await without a timeout path",
        explanation: "An `await` without `after` waits until the journey's global timeout if the events never come, and the instance then ends `timed-out`.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\njourney Welcome {\n  start on SignUp\n  await {\n    on SignUp -> { }\n  }\n}\n",
        fix: "Add an `after 3d -> { ... }` arm saying what happens when nothing arrives.",
    },
    CodeInfo {
        code: "W0002",
        title: "possibly null value",
        explanation: "A value that may be null (a schema field not listed as required, a `let` after a handler that does not end, ...) is passed where null is not accepted. At run time the call would get null.",
        example: "type Signup = { email: string, phone: string? }\nevent SignUp: Signup { key email }\naction Sms(to: string) = http POST \"https://sms.example.com/send\" {\n  body { to: to }\n}\njourney Welcome {\n  start on SignUp\n  call Sms(to: event.phone)\n}\n",
        fix: "Give a default with `??` (`event.phone ?? \"\"`), or check `is not null` first and pass the value in that branch.",
    },
    CodeInfo {
        code: "W0003",
        title: "value not listed by the schema",
        explanation: "The field's schema lists its values (`enum` or `meta:enum`), and the string compared with it is not one of them, so the comparison is probably never true.",
        example: "schema Ev = xdm \"https://ns.adobe.com/xdm/context/experienceevent\"\nevent Buy: Ev {\n  key identityMap.Email[0].id\n  when eventType == \"commerce.purchase\"\n}\n",
        fix: "Use one of the listed values (the help line names the nearest).",
    },
    CodeInfo {
        code: "W0004",
        title: "problem in a schema search path",
        explanation: "A JSON file in a schema search folder is not valid JSON, or two files declare the same `$id` (the first one found is used). The rest of the folder is still used.",
        example: "",
        fix: "Fix the JSON, or remove or rename the duplicate `$id`.",
    },
    CodeInfo {
        code: "W0005",
        title: "waits reach the journey timeout",
        explanation: "Along one path of the journey, the `wait`s and `await` timeouts (`after`) add up to the journey's `timeout` (or more). An instance on that path reaches the timeout before the statement that follows, ends `timed-out`, and the branch designed for it never runs: with `timeout 10d`, `wait 3d` then an `await` whose `after 7d` arm ends \"no-conversion\", every non-buyer ends `timed-out` instead. Paths count the longest branch; a `wait until` counts as no time.",
        example: "type Signup = { email: string }\nevent SignUp: Signup { key email }\nevent Buy: Signup { key email }\njourney Welcome {\n  start on SignUp\n  timeout 10d\n  wait 3d\n  await {\n    on Buy -> { end \"bought\" }\n    after 7d -> { end \"no-conversion\" }\n  }\n}\n",
        fix: "Raise the journey's `timeout` above the path's total (here `timeout 11d`), or shorten the waits.",
    },
];

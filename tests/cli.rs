//! End-to-end tests of the `journey` binary: exit codes, output channels and formats that
//! scripts and CI rely on (see the CLI contract).

// The reference evaluator `journey eval` is checked against (the VM's test oracle).
#[path = "../vm/tests/support/reference.rs"]
mod reference;

#[path = "support/cli.rs"]
mod cli;

use cli::{arg, journey, run, stderr, stdout};
use journey_compiler::types::Ty::Any;
use std::path::Path;
use std::process::{Command, Output};

fn temp_project(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

#[test]
fn the_examples_check_clean() {
    let o = journey(&["check", "examples", "--deny-warnings"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 errors, 0 warnings"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "human output goes to stderr");
}

#[test]
fn errors_exit_1_and_json_goes_to_stdout_only() {
    let o = journey(&["check", "tests/ui/e0004_unknown_fields.journey", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("each line is one JSON object")).collect();
    assert_eq!(lines.len(), 4);
    let first = &lines[0];
    for key in ["severity", "code", "message", "file", "line", "column", "end_line", "end_column", "labels", "help"] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "E0004");
    assert_eq!(first["file"], "tests/ui/e0004_unknown_fields.journey");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(8), Some(20)));
    assert_eq!((first["end_line"].as_u64(), first["end_column"].as_u64()), (Some(8), Some(23)));
    assert_eq!(first["help"], "did you mean `city`?");
}

#[test]
fn columns_count_characters_not_bytes() {
    let dir = temp_project(
        "utf8",
        &[("a.journey", "type S = { email: string }\nevent E: S { key email }\n// «héllo» ünïcode\njourney J { start on E\n  let ñ = 1\n  if \"ééé\" == event.emal { end }\n}\n")],
    );
    let o = journey(&["check", dir.to_str().expect("utf-8 path"), "--format", "json"]);
    let v: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let unknown = v.iter().find(|d| d["code"] == "E0004").expect("unknown field reported");
    assert_eq!(unknown["line"], 6);
    // `  if "ééé" == event.` is 20 characters (23 bytes); the field starts at column 21.
    assert_eq!(unknown["column"], 21);
}

#[test]
fn warnings_pass_unless_denied() {
    let f = "tests/ui/w0001_await_no_timeout.journey";
    assert_eq!(journey(&["check", f]).status.code(), Some(0));
    assert_eq!(journey(&["check", f, "--deny-warnings"]).status.code(), Some(1));
    let o = journey(&["check", f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().expect("one line")).expect("json");
    assert_eq!(v["severity"], "warning");
}

#[test]
fn usage_and_io_problems_exit_2_with_a_one_line_reason() {
    let o = journey(&["check", "no/such/file.journey"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim(), "error: `no/such/file.journey` does not exist");

    let o = journey(&["check", "examples", "--schemas", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));

    // The server builds the project through the same driver: the same check, the same words.
    let db = std::env::temp_dir().join(format!("journey-cli-missing-schemas-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let o = journey(&[
        "serve",
        "examples",
        "--db",
        db.to_str().expect("utf-8 temp path"),
        "--listen",
        "127.0.0.1:0",
        "--schemas",
        "no/such/dir",
    ]);
    let _ = std::fs::remove_file(&db);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("schema path `no/such/dir` does not exist"), "{}", stderr(&o));

    let o = journey(&["check", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));

    let o = journey(&["explain", "E9999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown diagnostic code"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["check", "explain", "build", "disasm"] {
        let o = journey(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{sub} --help");
        assert!(stdout(&o).contains("Usage"), "{sub} --help prints usage");
    }
}

#[test]
fn explain_prints_meaning_example_and_fix() {
    let o = journey(&["explain", "e0010"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("E0010: split percentages do not sum to 100"), "{text}");
    assert!(text.contains("Example:") && text.contains("Fix:"), "{text}");
    let o = journey(&["explain"]);
    assert!(stdout(&o).lines().count() >= 20, "lists every code");
}

#[test]
fn schema_flag_adds_a_search_path_before_the_built_in_components() {
    let dir = temp_project(
        "schemas",
        &[
            (
                "schemas/signup.json",
                r#"{"$id": "https://ns.example.com/acme/signup", "type": "object", "required": ["email"], "properties": {"email": {"type": "string"}, "plan": {"type": "string", "enum": ["free", "pro"]}}}"#,
            ),
            (
                "src/a.journey",
                "schema S = xdm \"https://ns.example.com/acme/signup\"\nevent E: S { key email when plan == \"prp\" }\n",
            ),
        ],
    );
    let src = dir.join("src");
    let o = journey(&["check", src.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1), "without --schemas the $id is unknown: {}", stderr(&o));
    assert!(stderr(&o).contains("E0015"));
    let schemas = dir.join("schemas");
    let o = journey(&["check", src.to_str().expect("path"), "--schemas", schemas.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("did you mean `\"pro\"`?"), "enum warning from the user's schema: {}", stderr(&o));
}

/// `--schemas` may be given more than once: every folder is searched (here each holds one of
/// the two schemas the project names).
#[test]
fn schemas_may_be_given_several_folders() {
    let dir = temp_project(
        "two-schemas",
        &[
            ("one/a.json", r#"{"$id": "https://ns.example.com/acme/a", "type": "object", "properties": {"email": {"type": "string"}}}"#),
            ("two/b.json", r#"{"$id": "https://ns.example.com/acme/b", "type": "object", "properties": {"email": {"type": "string"}}}"#),
            (
                "src/p.journey",
                "schema A = xdm \"https://ns.example.com/acme/a\"\nschema B = xdm \"https://ns.example.com/acme/b\"\nevent EA: A { key email }\nevent EB: B { key email }\n",
            ),
        ],
    );
    let (src, one, two) = (dir.join("src"), dir.join("one"), dir.join("two"));
    let [src, one, two] = [&src, &one, &two].map(|p| p.to_str().expect("path").to_string());
    let o = journey(&["check", &src, "--schemas", &one]);
    assert_eq!(o.status.code(), Some(1), "the second schema is not found with one folder: {}", stderr(&o));
    let o = journey(&["check", &src, "--schemas", &one, "--schemas", &two]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `journey run --until` stops the clock there: instances still waiting then are counted as
/// running, where the same run without it goes on until nothing waits.
#[test]
fn run_until_stops_the_clock_with_instances_still_waiting() {
    let dir = temp_project(
        "until",
        &[
            (
                "p.journey",
                "type T = { email: string }\nevent Hi: T { key email }\njourney Wait {\n  start on Hi\n  wait 2d\n  end \"done\"\n}\n",
            ),
            (
                "events.jsonl",
                "{\"event\": \"Hi\", \"at\": \"2026-05-01T00:00:00Z\", \"payload\": {\"email\": \"a@x\"}}\n{\"event\": \"Hi\", \"at\": \"2026-05-02T00:00:00Z\", \"payload\": {\"email\": \"b@x\"}}\n",
            ),
        ],
    );
    let events = dir.join("events.jsonl");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", dir.to_str().expect("path"), "--events", events.to_str().expect("path")];
        args.extend_from_slice(&["--summary-only", "--format", "json"]);
        args.extend_from_slice(extra);
        let o = journey(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
        summary["journeys"]["Wait"].clone()
    };
    let all = run(&[]);
    assert_eq!((all["running"].as_u64(), all["ended"]["done"].as_u64()), (Some(0), Some(2)), "{all}");
    // Two and a half days in: the first instance's wait is over, the second's is not.
    let part = run(&["--until", "2026-05-03T12:00:00Z"]);
    assert_eq!((part["running"].as_u64(), part["ended"]["done"].as_u64()), (Some(1), Some(1)), "{part}");
}

#[test]
fn build_writes_an_artifact_that_disasm_reads_back() {
    let out = std::env::temp_dir().join(format!("journey-cli-{}.jbc", std::process::id()));
    let o = journey(&["build", "examples", "-o", out.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = journey(&["disasm", out.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("; format 6 from journey"), "{}", &text[..200.min(text.len())]);
    assert!(text.contains("journey CartRecovery"), "the cart recovery journey is in the artifact");

    let garbage = std::env::temp_dir().join(format!("journey-cli-garbage-{}.jbc", std::process::id()));
    std::fs::write(&garbage, b"not an artifact").expect("write");
    let o = journey(&["disasm", garbage.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a journey artifact"), "{}", stderr(&o));
    assert!(Path::new(&out).exists());
}

#[test]
fn build_refuses_a_project_with_errors() {
    let o = journey(&["build", "tests/ui/e0010_split.journey", "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("E0010"));
}

#[test]
fn eval_prints_exactly_one_json_value_for_every_conformance_case() {
    let text = std::fs::read_to_string("vm/tests/conformance/ajo-functions.json").expect("conformance cases");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    let registry = journey_compiler::SchemaRegistry::new(&[]).expect("registry");
    for c in &cases {
        let (expr, now, tz) =
            (c["expr"].as_str().expect("expr"), c["now"].as_str().expect("now"), c["timezone"].as_str().expect("tz"));
        // The expression is passed as one argument, without a shell in between.
        let o = journey(&["eval", expr, "--now", now, "--timezone", tz, "--seed", "7"]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", c["id"], stderr(&o));
        let out = stdout(&o);
        assert_eq!(out.lines().count(), 1, "{}: one line: {out}", c["id"]);
        let got: serde_json::Value = serde_json::from_str(&out).expect("one JSON value");
        // The binary (the VM) must agree with the reference evaluator over the typed IR.
        let ctx =
            journey_vm::library::EvalContext::new(now.parse().expect("now"), jiff::tz::TimeZone::get(tz).expect("tz"))
                .with_seed(7);
        let null = journey_vm::value::Value::Null;
        let mut sources = journey_compiler::sources::Sources::default();
        let file = sources.add("<expr>", "<expr>".into(), expr.to_string());
        let typed = journey_compiler::check_expr(&sources, file, &registry, Any, Any)
            .unwrap_or_else(|d| panic!("{expr}: {:?}", d.iter().map(|d| &d.message).collect::<Vec<_>>()));
        let want = reference::eval(&typed, &mut Vec::new(), &reference::Env::new(&null, &null, &ctx)).to_json();
        assert_eq!(got, want, "{}: {expr}", c["id"]);
    }
}

#[test]
fn eval_reports_a_bad_expression_and_a_bad_clock() {
    let o = journey(&["eval", "1 +"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("E0001"));
    let o = journey(&["eval", "now()", "--now", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--now"));
}

#[test]
fn run_prints_paths_and_a_summary_on_the_example_events() {
    let steps = std::env::temp_dir().join(format!("journey-cli-steps-{}.jsonl", std::process::id()));
    let o = run(
        "examples",
        "examples/events.jsonl",
        &[
            "--profiles",
            "examples/profiles.jsonl",
            "--dry-run",
            "--mocks",
            "examples/mocks.jsonl",
            "--format",
            "json",
            "--step-events",
            arg(&steps),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["events"], 8);
    let cart = &summary["journeys"]["CartRecovery"];
    assert_eq!(cart["started"], 2);
    // Cara bought within the hour (exit criteria); Dan did not buy after the reminder.
    assert_eq!(cart["ended"]["exited"], 1);
    assert_eq!(cart["ended"]["not-recovered"], 1);
    assert_eq!(summary["journeys"]["WelcomeSeries"]["ended"]["engaged-email"], 1);
    assert!(summary["calls"]["SendEmail"].as_u64().is_some_and(|n| n >= 4), "{}", summary["calls"]);
    let cara = lines.iter().find(|l| l["profile"] == "cara@example.com").expect("cara's path");
    assert_eq!(cara["label"], "exited");
    assert_eq!(summary["unanswered"], serde_json::json!({}), "the mocks answer every call");
    // Each path line carries its calls' arguments: who got which template.
    let ann = lines.iter().find(|l| l["profile"] == "ann@example.com").expect("ann's path");
    assert_eq!(ann["calls"][0]["action"], "SendEmail", "{ann}");
    assert_eq!(ann["calls"][0]["args"]["template"], "welcome-1", "{ann}");
    assert_eq!(ann["calls"][0]["args"]["to"], "ann@example.com", "{ann}");
    // Step events: one JSON object per node passed, with the contract's fields.
    let text = std::fs::read_to_string(&steps).expect("step events written");
    let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("a step")).expect("json");
    for key in ["time", "journey", "version", "instance", "profile", "node", "kind", "outcome", "duration_ms", "error"]
    {
        assert!(first.get(key).is_some(), "step event lacks {key}");
    }
}

#[test]
fn run_skips_bad_event_lines_with_file_and_line_and_keeps_the_rest() {
    let dir = temp_project(
        "badevents",
        &[(
            "events.jsonl",
            "{\"event\": \"CartAdd\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"@id\": \"e-1\", \"timestamp\": \"2026-05-12T09:00:00Z\", \"eventType\": \"commerce.productListAdds\"}}\nnot json\n{\"event\": \"Nope\", \"at\": \"2026-05-12T09:00:00Z\"}\n{\"event\": \"CartAdd\"}\n",
        )],
    );
    let events = dir.join("events.jsonl");
    let o = journey(&["run", "examples", "--events", events.to_str().expect("path"), "--dry-run", "--summary-only"]);
    assert_eq!(o.status.code(), Some(1), "skipped lines are problems: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("events.jsonl:2: not valid JSON"), "{err}");
    assert!(err.contains("events.jsonl:3: unknown event `Nope`"), "{err}");
    assert!(err.contains("events.jsonl:4: has no \"at\" time"), "{err}");
    assert!(err.contains("events.jsonl:1: event `CartAdd` has a null or empty key"), "{err}");
}

/// Runs `journey` with its stdout closed before it writes (as `journey ... | head -0` would):
/// it must end quietly, killed by SIGPIPE as a Unix tool is (141 in a shell) or with its usual
/// code, never with a panic (exit 101, "failed printing to stdout").
#[cfg(unix)]
fn with_stdout_closed(args: &[&str], usual: i32) -> Output {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("journey runs");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("journey ends");
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert!(
        o.status.signal() == Some(libc_sigpipe()) || o.status.code() == Some(usual),
        "{args:?} ended with {:?}, not quietly: {err}",
        o.status
    );
    o
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}

#[cfg(unix)]
#[test]
fn every_printing_subcommand_ends_quietly_when_stdout_is_closed() {
    let unformatted = "type S = { email: string }\nevent E: S { key email }\njourney J {   start on E\n  wait 1d\n}\n";
    let dir = temp_project("pipe", &[("a.journey", unformatted), ("b.journey", unformatted)]);
    let dir = dir.to_str().expect("utf-8 path");
    let run = ["run", "examples", "--events", "examples/events.jsonl", "--profiles", "examples/profiles.jsonl"];
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["test", "examples"], 0),
        (vec!["test", "examples", "--format", "json"], 0),
        (vec!["explain"], 0),
        (vec!["explain", "E0005"], 0),
        (vec!["explain", "E0005", "--format", "json"], 0),
        (vec!["check", "tests/ui/e0004_unknown_fields.journey", "--format", "json"], 1),
        (vec!["fmt", "--check", dir], 1),
        (vec!["disasm", "examples"], 0),
        (vec!["eval", "1 + 2"], 0),
        (vec!["graph", "examples"], 0),
        ([&run[..], &["--dry-run"]].concat(), 0),
        ([&run[..], &["--dry-run", "--format", "json"]].concat(), 0),
        (vec!["--help"], 0),
        (vec!["run", "--help"], 0),
        (vec!["--version"], 0),
    ];
    for (args, usual) in &cases {
        with_stdout_closed(args, *usual);
    }
    // `fmt` rewrites every file before it says so: a closed stdout leaves none half done.
    with_stdout_closed(&["fmt", dir], 0);
    let o = journey(&["fmt", "--check", dir]);
    assert_eq!(o.status.code(), Some(0), "every file was formatted: {}", stdout(&o));
}

/// `journey test examples | head -1`: the reader takes one line and goes away.
#[cfg(unix)]
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_journey"))
        .args(["test", "examples"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("journey runs");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    assert!(first.starts_with("ok "), "{first}");
    let o = child.wait_with_output().expect("journey ends");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(o.status.signal() == Some(libc_sigpipe()) || o.status.code() == Some(0), "{:?}", o.status);
}

/// `journey status` prints what a server answers; a closed stdout ends it quietly too.
#[cfg(unix)]
#[test]
fn status_ends_quietly_when_stdout_is_closed() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = r#"{"versions":1,"journeys":2,"events":3,"applied":3,"log_entries":3,"instances_waiting":0,"accepted":3,"rejected":0}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    with_stdout_closed(&["status", "--url", &url], 0);
    with_stdout_closed(&["status", "--url", &url, "--format", "json"], 0);
    server.join().expect("server");
}

/// `journey run` checks each payload against its event's type as `journey serve` does (the same
/// check, the same reason; tests/serve.rs posts this line): the line is skipped with its number
/// and the reason, counted, and the run exits 1; it never takes a branch on the bad value.
#[test]
fn run_skips_a_payload_that_does_not_fit_its_type_as_serve_rejects_it() {
    let dir = temp_project(
        "payload",
        &[
            (
                "flow.journey",
                "type PingPayload = { user: string, n: int }\nevent Ping: PingPayload { key user }\njourney Flow {\n  start on Ping\n  if event.n > 100 { end \"big\" }\n  end \"small\"\n}\n",
            ),
            (
                "events.jsonl",
                "{\"event\": \"Ping\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"user\": \"ann\", \"n\": 1}}\n{\"event\": \"Ping\", \"at\": \"2026-05-12T09:01:00Z\", \"payload\": {\"user\": \"cy\", \"n\": \"two\"}}\n{\"payload\": {\"n\": 500}, \"at\": \"2026-05-12T09:02:00Z\", \"event\": \"Ping\"}\n",
            ),
        ],
    );
    let project = dir.join("flow.journey");
    let events = dir.join("events.jsonl");
    let o = run(&project, &events, &["--dry-run", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("events.jsonl:2: payload does not match `Ping`'s schema: field n: expected int, found string; the line is skipped"),
        "{err}"
    );
    // The payload comes first on line 3: it is checked all the same.
    assert!(
        err.contains("events.jsonl:3: payload does not match `Ping`'s schema: field user: missing, expected string"),
        "{err}"
    );
    assert!(err.contains("2 input lines were skipped"), "{err}");
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let summary = lines.last().expect("summary");
    assert_eq!(summary["events"], 1, "{summary}");
    assert_eq!(summary["rejected"]["payload does not match `Ping`'s schema"], 2, "{summary}");
    assert_eq!(summary["journeys"]["Flow"]["ended"], serde_json::json!({"small": 1}), "{summary}");
}

const TIER_PROJECT: &str = "type P = { email: string }
event Go: P { key email }
datasource Tier(email: string) = http GET \"https://tiers.example.com/{email}\" { returns { tier: string } }
action Mail(to: string, template: string) = http POST \"https://mail.example.com/send\" { body { to: to, template: template } }
journey Upgrade {
  start on Go
  let t = fetch Tier(email: event.email) on error { end \"no-answer\" }
  call Mail(to: event.email, template: \"tier-${t.tier}\")
  if t.tier == \"\" { end \"empty-tier\" }
  end \"upgraded\"
}
";

const TIER_EVENTS: &str =
    "{\"event\": \"Go\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"email\": \"ann@example.com\"}}
{\"event\": \"Go\", \"at\": \"2026-05-12T09:01:00Z\", \"payload\": {\"email\": \"bob@example.com\"}}
";

/// A dry run never answers null where `returns` says non-null: without a mock the `fetch` takes
/// its `on error` path and the summary counts it as unanswered; with `--mocks`, the first
/// matching line answers (a value, or a timeout that goes to `on error` too).
#[test]
fn dry_run_calls_are_answered_by_mocks_or_take_their_error_path() {
    let dir = temp_project(
        "mocks",
        &[
            ("tier.journey", TIER_PROJECT),
            ("events.jsonl", TIER_EVENTS),
            (
                "mocks.jsonl",
                "{\"action\": \"Tier\", \"when\": {\"email\": \"ann@example.com\"}, \"answer\": {\"tier\": \"gold\"}}\n\n{\"action\": \"Tier\", \"error\": \"timeout\"}\n",
            ),
        ],
    );
    let project = dir.join("tier.journey");
    let events = dir.join("events.jsonl");
    let mocks = dir.join("mocks.jsonl");
    let base = ["run", project.to_str().expect("path"), "--events", events.to_str().expect("path"), "--format", "json"];
    let lines = |o: &Output| -> Vec<serde_json::Value> {
        stdout(o).lines().map(|l| serde_json::from_str(l).expect("json")).collect()
    };

    let o = journey(&[&base[..], &["--dry-run"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = lines(&o);
    let summary = out.last().expect("summary");
    assert_eq!(summary["journeys"]["Upgrade"]["ended"], serde_json::json!({"no-answer": 2}), "{summary}");
    assert_eq!(summary["unanswered"], serde_json::json!({"Tier": 2}), "{summary}");
    let human =
        journey(&["run", project.to_str().expect("path"), "--events", events.to_str().expect("path"), "--dry-run"]);
    assert!(
        stdout(&human).contains(
            "no mock answered (dry run; these calls took their error path, give answers with --mocks FILE): Tier 2"
        ),
        "{}",
        stdout(&human)
    );

    let o = journey(&[&base[..], &["--mocks", mocks.to_str().expect("path")]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = lines(&o);
    let summary = out.last().expect("summary");
    assert_eq!(summary["dry_run"], true, "--mocks is a dry run");
    assert_eq!(
        summary["journeys"]["Upgrade"]["ended"],
        serde_json::json!({"upgraded": 1, "no-answer": 1}),
        "{summary}"
    );
    let ann = out.iter().find(|l| l["profile"] == "ann@example.com").expect("ann");
    assert_eq!(
        ann["calls"],
        serde_json::json!([
            {"action": "Tier", "args": {"email": "ann@example.com"}},
            {"action": "Mail", "args": {"to": "ann@example.com", "template": "tier-gold"}}
        ])
    );
}

/// A mock line's `"error": "failed"` sends the call down its error path as a failed answer
/// would, and an unanswered dry-run call answers null where its `returns` allows null (and is
/// not counted as unanswered then: null is an answer it may give).
#[test]
fn dry_run_mocks_fail_calls_and_null_answers_only_where_allowed() {
    let nullable = TIER_PROJECT.replace("returns { tier: string }", "returns { tier: string }?").replace(
        "on error { end \"no-answer\" }",
        "on error { end \"no-answer\" }\n  if t == null { end \"no-tier\" }",
    );
    let dir = temp_project(
        "mocks-failed",
        &[
            ("tier.journey", TIER_PROJECT),
            ("nullable.journey", nullable.as_str()),
            ("events.jsonl", TIER_EVENTS),
            (
                "mocks.jsonl",
                "{\"action\": \"Tier\", \"when\": {\"email\": \"ann@example.com\"}, \"error\": \"failed\"}\n{\"action\": \"Tier\", \"answer\": {\"tier\": \"gold\"}}\n",
            ),
        ],
    );
    let summary = |o: &Output| -> serde_json::Value {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        serde_json::from_str(stdout(o).lines().last().expect("summary")).expect("json")
    };
    let o = run(
        dir.join("tier.journey"),
        dir.join("events.jsonl"),
        &["--mocks", arg(&dir.join("mocks.jsonl")), "--format", "json"],
    );
    let s = summary(&o);
    assert_eq!(s["journeys"]["Upgrade"]["ended"], serde_json::json!({"no-answer": 1, "upgraded": 1}), "{s}");
    let o = run(dir.join("nullable.journey"), dir.join("events.jsonl"), &["--dry-run", "--format", "json"]);
    let s = summary(&o);
    assert_eq!(s["journeys"]["Upgrade"]["ended"], serde_json::json!({"no-tier": 2}), "{s}");
    assert_eq!(s["unanswered"], serde_json::json!({}), "{s}");
}

/// A bad mocks file stops the run before it starts, with the file, the line and the reason.
#[test]
fn bad_mock_lines_are_reported_with_file_and_line() {
    let dir = temp_project(
        "badmocks",
        &[
            ("tier.journey", TIER_PROJECT),
            ("events.jsonl", TIER_EVENTS),
            (
                "mocks.jsonl",
                "{\"action\": \"Tire\", \"answer\": {\"tier\": \"gold\"}}\n{\"action\": \"Tier\", \"answer\": {\"tier\": 3}}\n{\"action\": \"Tier\", \"when\": {\"mail\": \"a\"}, \"error\": \"timeout\"}\n{\"action\": \"Tier\", \"error\": \"slow\"}\n{\"action\": \"Tier\"}\nnot json\n",
            ),
        ],
    );
    let o = run(dir.join("tier.journey"), dir.join("events.jsonl"), &["--mocks", arg(&dir.join("mocks.jsonl"))]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "mocks.jsonl:1: no action or data source `Tire`; did you mean `Tier`?",
        "mocks.jsonl:2: the answer does not match what `Tier` returns: field tier: expected string, found number",
        "mocks.jsonl:3: `Tier` has no parameter `mail` (its parameters: email)",
        "mocks.jsonl:4: \"error\" is \"timeout\" or \"failed\", not \"slow\"",
        "mocks.jsonl:5: give either \"answer\" or \"error\"",
        "mocks.jsonl:6: not valid JSON",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(stdout(&o).is_empty(), "nothing ran");
}

/// A full disk is an error, not a silently cut file: `journey run` writing its paths or its
/// step events to /dev/full says so and exits 2.
#[cfg(target_os = "linux")]
#[test]
fn run_reports_output_it_could_not_write() {
    let args = ["run", "examples", "--events", "examples/events.jsonl", "--mocks", "examples/mocks.jsonl"];
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let o = Command::new(env!("CARGO_BIN_EXE_journey")).args(args).stdout(full()).output().expect("journey runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("error: cannot write the results:"), "{}", stderr(&o));
    let o = journey(&[&args[..], &["--summary-only", "--step-events", "/dev/full"]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("error: cannot write step events to `/dev/full`:"), "{}", stderr(&o));
}

/// A business event (`start on E for audience A`) in `journey run`: one instance per member,
/// the same with one engine or three, and the send node's messages in the summary.
#[test]
fn run_starts_a_business_event_for_every_audience_member() {
    let dir = std::env::temp_dir().join(format!("journey-cli-business-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut profiles = String::new();
    for i in 0..12 {
        let audiences = if i < 10 { "[\"StockSubscribers\"]" } else { "[]" };
        profiles.push_str(&format!(
            "{{\"key\": \"s{i}@example.com\", \"attributes\": {{\"personalEmail\": {{\"address\": \"s{i}@example.com\"}}}}, \"audiences\": {audiences}}}\n"
        ));
    }
    std::fs::write(dir.join("profiles.jsonl"), profiles).expect("write");
    std::fs::write(
        dir.join("events.jsonl"),
        "{\"event\": \"ProductRestocked\", \"at\": \"2026-10-08T10:00:00Z\", \"payload\": {\"sku\": \"JKT\", \"productName\": \"Jacket\", \"quantity\": 5}}\n",
    )
    .expect("write");
    let run = |jobs: &str| {
        let (events, profiles) = (dir.join("events.jsonl"), dir.join("profiles.jsonl"));
        let o = run(
            "examples",
            &events,
            &["--profiles", arg(&profiles), "--mocks", "examples/mocks.jsonl", "--jobs", jobs, "--format", "json"],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let one = run("1");
    assert_eq!(one, run("3"), "the same paths and report with three engines");
    let lines: Vec<serde_json::Value> = one.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let summary = lines.last().expect("summary");
    assert_eq!(summary["journeys"]["RestockBroadcast"]["started"], 10, "one instance per member");
    let nodes = summary["journeys"]["RestockBroadcast"]["nodes"].as_array().expect("nodes");
    let push = &nodes[0]["messages"];
    assert_eq!(push["suppressed"]["no-address"], 10, "{push}");
    assert_eq!(nodes[1]["messages"]["sent"], 10, "{}", nodes[1]);
    let path = lines.iter().find(|l| l["profile"] == "s0@example.com").expect("a member's path");
    assert_eq!(path["messages"][0]["outcome"], "suppressed:no-address", "{path}");
    assert_eq!(path["messages"][1]["outcome"], "sent", "{path}");
    assert_eq!(path["messages"][1]["template"], "restock-alert", "{path}");
    // The send nodes' step events carry each send's outcome and message id.
    let steps = dir.join("steps.jsonl");
    let (events, profiles) = (dir.join("events.jsonl"), dir.join("profiles.jsonl"));
    let o = cli::run(
        "examples",
        &events,
        &[
            "--profiles",
            arg(&profiles),
            "--mocks",
            "examples/mocks.jsonl",
            "--summary-only",
            "--step-events",
            arg(&steps),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&steps).expect("step events written");
    let sends: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON step"))
        .filter(|s| s["profile"] == "s0@example.com" && s["send"].is_string())
        .collect();
    let outcomes: Vec<&str> = sends.iter().map(|s| s["send"].as_str().unwrap_or("")).collect();
    assert_eq!(outcomes, ["suppressed:no-address", "sent"], "{sends:?}");
    assert_eq!(sends[1]["message"], path["messages"][1]["id"], "the sent message's id: {sends:?}");
    assert!(sends.iter().all(|s| s["message"].as_str().is_some_and(|m| m.starts_with("msg-"))), "{sends:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two lines for one profile dated the same millisecond enter a `reentry always` journey one
/// after the other: two messages, each with an id of its own (told apart by the events before
/// each in that millisecond), the same on another run, when the run is split between engines,
/// and when the file gains a line at another time.
#[test]
fn run_gives_two_entries_in_one_millisecond_messages_of_their_own() {
    let project = "profile = { email: string? }\ntype Order = { key: string }\nevent Go: Order { key key }\n\
        action Mail(to: string, template: string, messageId: string) = http POST \"https://mail.example.com\" {\n  \
        body { to: to, template: template, id: messageId }\n}\nchannel email { to profile.email  deliver Mail }\n\
        journey Receipt {\n  start on Go\n  reentry always\n  send transactional email \"receipt\"\n  end \"done\"\n}\n";
    let line = "{\"event\": \"Go\", \"at\": \"2026-05-12T09:00:00Z\", \"payload\": {\"key\": \"ann\"}}\n";
    let dir = temp_project(
        "samems",
        &[
            ("p/project.journey", project),
            ("events.jsonl", &line.repeat(2)),
            ("more.jsonl", &(line.replace("09:00:00Z", "08:00:00Z").replace("ann", "bob") + &line.repeat(2))),
            ("profiles.jsonl", "{\"key\": \"ann\", \"attributes\": {\"email\": \"ann@example.com\"}}\n"),
            ("mocks.jsonl", "{\"action\": \"Mail\", \"answer\": {}}\n"),
        ],
    );
    let ids = |events: &str, jobs: &str| -> Vec<String> {
        let o = journey(&[
            "run",
            arg(&dir.join("p")),
            "--events",
            arg(&dir.join(events)),
            "--profiles",
            arg(&dir.join("profiles.jsonl")),
            "--mocks",
            arg(&dir.join("mocks.jsonl")),
            "--jobs",
            jobs,
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut ids: Vec<String> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .filter(|l| l["type"] == "instance" && l["profile"] == "ann")
            .flat_map(|l| l["messages"].as_array().cloned().unwrap_or_default())
            .map(|m| {
                assert_eq!(m["outcome"], "sent", "{m}");
                m["id"].as_str().expect("an id").to_string()
            })
            .collect();
        ids.sort();
        ids
    };
    let one = ids("events.jsonl", "1");
    assert_eq!(one.len(), 2, "two messages: {one:?}");
    assert_ne!(one[0], one[1], "each with its own id");
    assert_eq!(ids("events.jsonl", "1"), one, "the same ids on another run");
    assert_eq!(ids("events.jsonl", "2"), one, "and split between two engines");
    assert_eq!(ids("more.jsonl", "1"), one, "and with another line before them");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A failing test names the file and line of the statement that failed.
#[test]
fn a_failing_test_names_the_line_of_its_failing_statement() {
    let o =
        journey(&["test", "tests/runner/messages.journey", "--filter", "expect sent, but the message was suppressed"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let line = std::fs::read_to_string("tests/runner/messages.journey")
        .expect("the runner's file")
        .lines()
        .enumerate()
        .skip_while(|(_, l)| !l.contains("expect sent, but the message was suppressed"))
        .find(|(_, l)| l.trim() == "expect sent email \"offer\"")
        .map(|(i, _)| i + 1)
        .expect("the failing statement");
    assert!(
        out.contains(&format!("     tests/runner/messages.journey:{line}: expected an email \"offer\" message sent")),
        "{out}"
    );
}

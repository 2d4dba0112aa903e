//! `journey graph`: golden Mermaid and DOT files (`tests/graph/`, `BLESS=1` rewrites them),
//! SVG that parses as XML with the right nodes and labels, every example journey in every
//! format, the canvas of a journey using every construct, and the error cases.

#[path = "support/cli.rs"]
mod cli;

use cli::journey;
use std::path::{Path, PathBuf};
use std::process::Output;

fn stdout(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn example_journeys() -> Vec<String> {
    // The error for an SVG of several journeys lists them all.
    let o = journey(&["graph", "examples", "--format", "svg"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let list = err.split("the journeys are: ").nth(1).expect("names listed").trim().trim_end_matches(')');
    list.split(", ").map(str::to_string).collect()
}

/// Compares `got` with the golden file at `path`, noting a difference in `failures`; with
/// `BLESS` set, rewrites the file instead.
fn compare(path: &str, got: &str, failures: &mut Vec<String>) {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, got).expect("write expected");
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    if want != got {
        failures.push(format!("--- {path} ---\nexpected:\n{want}\ngot:\n{got}"));
    }
}

#[test]
fn golden_mermaid_and_dot() {
    let mut failures = Vec::new();
    for (name, file) in [("CartRecovery", "cart-recovery"), ("WelcomeSeries", "welcome")] {
        for (format, ext) in [("mermaid", "mmd"), ("dot", "dot")] {
            let got = stdout(&journey(&["graph", "examples", "--journey", name, "--format", format]));
            compare(&format!("tests/graph/{file}.{ext}"), &got, &mut failures);
        }
    }
    assert!(failures.is_empty(), "graph outputs differ (BLESS=1 rewrites them):\n{}", failures.join("\n"));
}

/// Golden SVGs (`BLESS=1` rewrites them): the example cart recovery and a wide canvas with long
/// conditions, merging paths and a long template (`tests/graph/project/wide.journey`). The
/// layout's geometry (no overlaps, text inside its box, merges into an await uncrossed) is
/// checked in `compiler/src/graph/layout.rs`.
#[test]
fn golden_svg() {
    let mut failures = Vec::new();
    for (dir, name, file) in
        [("examples", "CartRecovery", "cart-recovery"), ("tests/graph/project", "WideMerge", "wide")]
    {
        let got = stdout(&journey(&["graph", dir, "--journey", name, "--format", "svg"]));
        compare(&format!("tests/graph/{file}.svg"), &got, &mut failures);
    }
    assert!(failures.is_empty(), "SVGs differ (BLESS=1 rewrites them):\n{}", failures.join("\n"));
}

/// What a marketer reads on the canvas: the action and its key argument, conditions shortened
/// at a word with the whole text on hover, the journey's timeout and exit criteria.
#[test]
fn svg_names_templates_and_shows_full_conditions_on_hover() {
    let svg = stdout(&journey(&["graph", "tests/graph/project", "--journey", "WideMerge", "--format", "svg"]));
    let doc = roxmltree::Document::parse(&svg).expect("XML");
    let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
    for want in ["call SendEmail", "template: \"de-treatment\"", "timeout 30d", "exit on Bought"] {
        assert!(texts.contains(&want), "no text {want:?} in {texts:?}");
    }
    let titles: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("title")).filter_map(|n| n.text()).collect();
    let full = "event.tier == \"gold\" and event.score > 900 and event.country in [\"SE\", \"NO\", \"DK\", \"FI\"]";
    assert!(titles.contains(&full), "the whole condition is the label's title: {titles:?}");
    // The label itself is cut at a word, with an ellipsis.
    let label: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("label"))
        .filter(|n| n.children().any(|c| c.has_tag_name("title") && c.text() == Some(full)))
        .flat_map(|n| n.children().filter(|c| c.has_tag_name("text")).filter_map(|c| c.text()))
        .collect();
    let shown = label.join(" ");
    assert!(shown.ends_with('…') && full.starts_with(shown.trim_end_matches('…').trim_end()), "{shown:?}");
    let cut_word = shown.trim_end_matches('…').split(' ').next_back().unwrap_or("");
    assert!(full.split(' ').any(|w| w == cut_word), "the label ends on a whole word: {shown:?}");
    // Every statement node names its report id, for the console's counts.
    let ids: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("data-node")).collect();
    assert_eq!(ids.first(), Some(&"0"));
}

#[test]
fn svg_is_xml_with_the_nodes_and_labels() {
    let svg = stdout(&journey(&["graph", "examples", "--journey", "CartRecovery", "--format", "svg"]));
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let nodes: Vec<_> =
        doc.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("node "))).collect();
    // start, condition, 2 ends on the way, wait, split, 3 + 1 + 1 calls in the arms, condition,
    // cap, coupon, 3 emails, await: 18 nodes (see tests/graph/cart-recovery.mmd).
    assert_eq!(nodes.len(), 18);
    let texts: Vec<String> =
        doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(str::to_string).collect();
    for want in ["CartRecovery", "start on CartAdd", "exit on Purchase", "wait 1h", "split", "cap 500", "await"] {
        assert!(texts.iter().any(|t| t == want), "no text {want:?} in {texts:?}");
    }
    for want in [
        "end \"recovered\"",
        "end \"not-recovered\"",
        "10% control",
        "45% B",
        "after 2d",
        "first 500",
        "else",
        "on error",
    ] {
        assert!(texts.iter().any(|t| t == want), "no text {want:?} in {texts:?}");
    }
    let edges = doc.descendants().filter(|n| n.has_tag_name("path") && n.attribute("marker-end").is_some()).count();
    assert_eq!(edges, 22, "one arrow per edge");
}

#[test]
fn every_example_journey_renders_in_every_format() {
    let names = example_journeys();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        for format in ["mermaid", "dot", "svg"] {
            let out = stdout(&journey(&["graph", "examples", "--journey", name, "--format", format]));
            match format {
                "mermaid" => assert!(out.starts_with("flowchart TD\n"), "{out}"),
                "dot" => assert!(out.starts_with(&format!("digraph \"{name}\" {{")), "{out}"),
                _ => {
                    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert!(doc.descendants().any(|n| n.text() == Some(name.as_str())), "{name}: no title");
                }
            }
        }
    }
    // Mermaid and DOT draw them all at once, one subgraph or cluster per journey.
    let all = stdout(&journey(&["graph", "examples"]));
    assert_eq!(all.matches("  subgraph j").count(), names.len());
    // WelcomeSeries jumps to LapsedReengagement: a dotted link to its start.
    let welcome = names.iter().position(|n| n == "WelcomeSeries").expect("WelcomeSeries");
    let lapsed = names.iter().position(|n| n == "LapsedReengagement").expect("LapsedReengagement");
    assert!(all.contains(&format!("-.-> j{lapsed}_n0")) && all.contains(&format!("j{welcome}_n")), "{all}");
    let dot = stdout(&journey(&["graph", "examples", "--format", "dot"]));
    assert_eq!(dot.matches("subgraph cluster_").count(), names.len());
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-graph-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("j.journey");
    std::fs::write(&path, text).expect("write");
    path
}

const EVERY_CONSTRUCT: &str = r#"
type P = { id: string, n: int }
profile = { n: int? }
event E: P { key id }
event F: P { key id }
audience VIP
action A(x: int) = http POST "https://a.example" { returns { ok: bool } }
datasource D(x: int) = http GET "https://d.example" { returns { v: int } }
journey Every {
  start on audience VIP every monday at 09:00
  wait 1h
  wait until 09:00
  await {
    on E as e where e.n > 3 -> { end "early" }
    on F -> { }
    after 2h -> { }
  }
  if 1 > 2 { end "never" } else if 2 > 1 { wait 5m }
  split {
    50% "a" -> { call A(x: 1) }
    50% -> { }
  }
  cap 10 { update profile { n = 1 } } else { jump Other }
  let v = fetch D(x: 1) on timeout { end "slow" } on error { }
}
journey Other {
  start on E
  end
}
"#;

#[test]
fn the_canvas_of_every_construct() {
    let path = temp_file("every", EVERY_CONSTRUCT);
    let p = path.to_str().expect("path");
    let m = stdout(&journey(&["graph", p, "--journey", "Every"]));
    let expected = r#"flowchart TD
  n0(["audience VIP<br/>every monday at 09:00"])
  n1("wait 1h")
  n2("wait until 09:00")
  n3{{"await"}}
  n4(["end #quot;early#quot;"])
  n5{"condition"}
  n6(["end #quot;never#quot;"])
  n7("wait 5m")
  n8{"split"}
  n9("call A")
  n10{"cap 10"}
  n11("update profile<br/>n")
  n12[["jump Other"]]
  n13("fetch D")
  n14(["end #quot;slow#quot;"])
  n15(["end"])
  n0 --> n1
  n1 --> n2
  n2 --> n3
  n3 -->|"on E where e.n #62; 3"| n4
  n3 -->|"on F"| n5
  n3 -->|"after 2h"| n5
  n5 -->|"1 #62; 2"| n6
  n5 -->|"2 #62; 1"| n7
  n7 --> n8
  n5 -->|"else"| n8
  n8 -->|"50% a"| n9
  n9 --> n10
  n8 -->|"50%"| n10
  n10 -->|"first 10"| n11
  n10 -->|"else"| n12
  n11 --> n13
  n12 --> n13
  n13 -->|"on timeout"| n14
  n13 -->|"ok"| n15
  n13 -->|"on error"| n15
"#;
    assert_eq!(m, expected);
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

/// Goals are journey settings: the start node lists them, and an experiment's split names the
/// goals its arms are compared on (a split with unlabelled arms is no experiment).
#[test]
fn goals_on_the_canvas() {
    let path = temp_file(
        "goals",
        r#"
type P = { id: string, total: number }
event E: P { key id }
event Buy: P { key id }
journey G {
  start on E
  goal "purchase" on Buy as b within 7d value b.total
  goal "again" on E within 1d
  split {
    50% "control" -> { }
    50% "B" -> { wait 1h }
  }
  split {
    50% -> { }
    50% -> { wait 1h }
  }
}
"#,
    );
    let m = stdout(&journey(&["graph", path.to_str().expect("path"), "--journey", "G"]));
    assert!(
        m.contains(r#"n0(["start on E<br/>goal #quot;purchase#quot; on Buy within 7d<br/>goal #quot;again#quot; on E within 1d"])"#),
        "{m}"
    );
    assert!(m.contains(r#"n1{"split<br/>experiment on #quot;purchase#quot;, #quot;again#quot;"}"#), "{m}");
    assert!(m.contains(r#"{"split"}"#), "the second split is no experiment: {m}");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn errors_exit_with_2_or_1() {
    let o = journey(&["graph", "examples", "--journey", "Nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no journey named `Nope`; the journeys are: "));
    let o = journey(&["graph", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    let path = temp_file("broken", "journey J {\n  start on Missing\n}\n");
    let o = journey(&["graph", path.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    assert!(Path::new("tests/graph").is_dir());
}

/// `journey build` keeps each journey's canvas in the artifact, as `journey graph` draws it: what
/// a server draws a stored version from.
#[test]
fn the_artifact_keeps_each_journey_s_canvas_as_journey_graph_draws_it() {
    let dir = std::env::temp_dir().join(format!("journey-graph-artifact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("examples.jbc");
    stdout(&journey(&["build", "examples", "-o", out.to_str().expect("UTF-8 path")]));
    let a = journey_compiler::artifact::from_bytes(&std::fs::read(&out).expect("read")).expect("an artifact");
    let names: Vec<&str> = a.program.journeys.iter().map(|j| j.name.as_str()).collect();
    let drawn: Vec<&str> = a.canvases.iter().map(|g| g.journey.as_str()).collect();
    assert_eq!(drawn, names, "one canvas per journey, in their order");
    for g in &a.canvases {
        let want = stdout(&journey(&["graph", "examples", "--journey", &g.journey, "--format", "svg"]));
        assert_eq!(journey_compiler::graph::svg::render(g), want, "{}", g.journey);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

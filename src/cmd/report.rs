//! `journey report`: a journey's report for people, from the JSON of `journey run`, `journey
//! test` or a running `journey serve` (`GET /journeys/NAME/report`), which all give one shape.

use super::{Format, FAILED, OK, PROBLEMS};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `journey report`.
#[derive(clap::Args)]
pub struct Args {
    /// A file of JSON from `journey run --format json`, `journey test --format json` or
    /// `GET /journeys/NAME/report` (`-` for stdin). Not with --server.
    #[arg(value_name = "FILE", required_unless_present = "server", conflicts_with = "server")]
    input: Option<PathBuf>,
    /// Ask a running `journey serve` at this address instead (needs --journey).
    #[arg(long, value_name = "URL", requires = "journey")]
    server: Option<String>,
    /// Only this journey (with --server: the journey to ask for).
    #[arg(long, value_name = "NAME")]
    journey: Option<String>,
    /// With --server: the window's start (RFC 3339) instead of the last 24 hours.
    #[arg(long, value_name = "TIME", requires = "server")]
    since: Option<String>,
    /// With --server: a file holding the bearer token (else JOURNEY_TOKEN).
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
    /// Output format: tables for people, or one report per line as JSON (the server's shape:
    /// `{"journey": ..., "versions": [{"version": ..., "report": ...}]}`).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Runs `journey report`: 0 when it printed a report, 1 when the input holds none (or not the
/// journey asked for), 2 when it cannot read its input or reach the server.
pub fn run(args: Args) -> u8 {
    let docs = match &args.server {
        Some(url) => match fetch(url, &args) {
            Ok(d) => vec![d],
            Err(e) => {
                eprintln!("error: {e}");
                return FAILED;
            }
        },
        None => {
            let path = args.input.clone().unwrap_or_default();
            let text = if path.as_os_str() == "-" {
                let mut s = String::new();
                match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                    Ok(_) => Ok(s),
                    Err(e) => Err(format!("cannot read stdin: {e}")),
                }
            } else {
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
            };
            match text {
                Ok(t) => reports_in(&t),
                Err(e) => {
                    eprintln!("error: {e}");
                    return FAILED;
                }
            }
        }
    };
    let docs: Vec<Json> =
        docs.into_iter().filter(|d| args.journey.as_ref().is_none_or(|j| d["journey"] == j.as_str())).collect();
    if docs.is_empty() {
        let what = args.journey.as_ref().map(|j| format!("no report of journey `{j}`")).unwrap_or("no report".into());
        eprintln!(
            "error: {what} in the input; give the JSON output of `journey run --format json`, \
             `journey test --format json` or `GET /journeys/NAME/report`"
        );
        return PROBLEMS;
    }
    let mut out = String::new();
    for d in &docs {
        match args.format {
            Format::Json => {
                let _ = writeln!(out, "{d}");
            }
            Format::Human => out.push_str(&render(d)),
        }
    }
    print!("{out}");
    OK
}

/// Every report in a text of JSON: a server's report document, or the lines of `journey run
/// --format json` (its summary) and `journey test --format json` (each test's reports), each
/// made a document of the server's shape.
pub fn reports_in(text: &str) -> Vec<Json> {
    let values: Vec<Json> = match serde_json::from_str::<Json>(text) {
        Ok(v) => vec![v],
        Err(_) => text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(),
    };
    let mut docs = Vec::new();
    for v in values {
        if v.get("versions").is_some() && v.get("journey").is_some() {
            docs.push(v);
        } else if v["type"] == "summary" {
            for (name, r) in v["journeys"].as_object().into_iter().flatten() {
                docs.push(json!({"journey": name, "versions": [{"version": 1, "report": r}]}));
            }
        } else if let Some(reports) = v.get("reports").and_then(Json::as_object) {
            for (name, r) in reports {
                docs.push(json!({"journey": name, "test": v["name"], "versions": [{"version": 1, "report": r}]}));
            }
        }
    }
    docs
}

fn fetch(url: &str, args: &Args) -> Result<Json, String> {
    let token = super::serve::token(args.token_file.as_ref())?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let journey = args.journey.clone().unwrap_or_default();
    let url = format!("{}/journeys/{journey}/report", url.trim_end_matches('/'));
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(&url);
        if let Some(s) = &args.since {
            req = req.query(&[("since", s)]);
        }
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("cannot reach {url}: {e}; is `journey serve` running?"))?;
        let status = resp.status();
        let body: Json = resp.json().await.map_err(|e| format!("bad answer from {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}: {}", body["error"].as_str().unwrap_or("")));
        }
        Ok(body)
    })
}

fn n(v: &Json) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// A report document as text for people: per version, the totals, a table of the nodes (all
/// time and the window), and each experiment as a table with its verdict.
pub fn render(doc: &Json) -> String {
    let mut out = String::new();
    let name = doc["journey"].as_str().unwrap_or("?");
    for v in doc["versions"].as_array().into_iter().flatten() {
        let r = &v["report"];
        let test = doc["test"].as_str().map(|t| format!(" (test \"{t}\")")).unwrap_or_default();
        let _ = writeln!(out, "{name} version {}{test}", v["version"]);
        let ends = |e: &Json| -> String {
            let list: Vec<String> = e
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, c)| format!("{} {}", if k.is_empty() { "(unlabelled)" } else { k }, n(c)))
                .collect();
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "  all time:   {} started, {} running, {} errors, {} timed out; ended: {}",
            n(&r["started"]),
            n(&r["running"]),
            n(&r["errors"]),
            n(&r["timeouts"]),
            ends(&r["ended"])
        );
        let w = &r["window"];
        match w.get("error") {
            Some(e) => {
                let _ = writeln!(out, "  window:     {}", e.as_str().unwrap_or(""));
            }
            None => {
                let _ = writeln!(
                    out,
                    "  {} to {}: {} started; ended: {}",
                    w["since"].as_str().unwrap_or("?"),
                    w["until"].as_str().unwrap_or("?"),
                    n(&w["started"]),
                    ends(&w["ended"])
                );
            }
        }
        for (i, g) in r["goals"].as_array().into_iter().flatten().enumerate() {
            let value = |g: &Json| match g["value"].as_f64() {
                Some(v) => format!(", value {}", money(v)),
                None => String::new(),
            };
            // The same goal's conversions in the window, when the window has its counts.
            let in_window = match w["goals"].get(i) {
                Some(wg) => format!(" (window: {} converted{})", n(&wg["converted"]), value(wg)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "  goal \"{}\" (on {} within {}): {} converted{}{in_window}",
                g["goal"].as_str().unwrap_or(""),
                g["event"].as_str().unwrap_or(""),
                g["within"].as_str().unwrap_or(""),
                n(&g["converted"]),
                value(g)
            );
        }
        if r["nodes"].as_array().is_some_and(|n| !n.is_empty()) {
            out.push('\n');
            out.push_str(&node_table(r));
        }
        for e in r["experiments"].as_array().into_iter().flatten() {
            out.push('\n');
            out.push_str(&experiment(e));
        }
        out.push('\n');
    }
    out
}

/// The nodes as a table: id, line, kind, label, the four counts, the window's entries, then a
/// line of arms or handlers under the nodes that have them.
fn node_table(r: &Json) -> String {
    let window: Vec<&Json> = r["window"]["nodes"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    let mut rows: Vec<[String; 9]> = vec![[
        "node".into(),
        "line".into(),
        "kind".into(),
        "label".into(),
        "entered".into(),
        "passed".into(),
        "exited".into(),
        "failed".into(),
        "24h entered".into(),
    ]];
    let mut extra: Vec<Option<String>> = vec![None];
    for (i, node) in r["nodes"].as_array().into_iter().flatten().enumerate() {
        let mut label = node["label"].as_str().unwrap_or("").to_string();
        if label.chars().count() > 40 {
            label = label.chars().take(39).collect::<String>() + "…";
        }
        rows.push([
            node["node"].to_string(),
            node["line"].to_string(),
            node["kind"].as_str().unwrap_or("").into(),
            label,
            n(&node["entered"]).to_string(),
            n(&node["passed"]).to_string(),
            n(&node["exited"]).to_string(),
            n(&node["failed"]).to_string(),
            window.get(i).map(|w| n(&w["entered"]).to_string()).unwrap_or_default(),
        ]);
        let branches =
            ["arms", "handlers"].iter().find_map(|f| node.get(*f).and_then(Json::as_object).map(|m| (*f, m)));
        extra.push(branches.map(|(f, m)| {
            let parts: Vec<String> = m.iter().map(|(k, c)| format!("{k} {}", n(c))).collect();
            format!("{f}: {}", parts.join(" · "))
        }));
    }
    let widths: Vec<usize> = (0..9).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (row, extra) in rows.iter().zip(extra) {
        out.push(' ');
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            // Numbers right-aligned, text left-aligned.
            if c >= 4 || c <= 1 {
                let _ = write!(out, " {}{cell}", " ".repeat(pad));
            } else {
                let _ = write!(out, " {cell}{}", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        if let Some(x) = extra {
            let _ = writeln!(out, "  {}   {x}", " ".repeat(widths[0] + widths[1] + 1));
        }
    }
    out
}

/// A value sum as people read it: whole numbers without decimals, others with two.
fn money(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

fn pct(v: &Json) -> String {
    v.as_f64().map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "-".into())
}

fn interval(v: &Json) -> String {
    match (v["low"].as_f64(), v["high"].as_f64()) {
        (Some(l), Some(h)) => format!("{:.1} to {:.1}", l * 100.0, h * 100.0),
        _ => "-".into(),
    }
}

/// An experiment as a table per goal, with the verdict in words under it and the warnings.
fn experiment(e: &Json) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  experiment at line {} ({}), control \"{}\"",
        e["line"],
        e["label"].as_str().unwrap_or(""),
        e["control"].as_str().unwrap_or("")
    );
    let analysis = &e["analysis"];
    if analysis.is_null() {
        let arms: Vec<String> = e["arms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| format!("\"{}\" {}", a["label"].as_str().unwrap_or(""), n(&a["assigned"])))
            .collect();
        let _ = writeln!(out, "    assigned: {}", arms.join(" · "));
        let _ = writeln!(out, "    (no goals: declare a `goal` in the journey to compare the arms' conversions)");
        return out;
    }
    for g in analysis["goals"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "    goal \"{}\"", g["goal"].as_str().unwrap_or(""));
        let mut rows: Vec<[String; 7]> = vec![[
            "arm".into(),
            "assigned".into(),
            "converted".into(),
            "rate".into(),
            "95% CI".into(),
            "lift (points)".into(),
            "p (adjusted)".into(),
        ]];
        let mut verdicts = Vec::new();
        for a in g["arms"].as_array().into_iter().flatten() {
            let v = &a["versus_control"];
            rows.push([
                a["label"].as_str().unwrap_or("").into(),
                n(&a["assigned"]).to_string(),
                n(&a["converted"]).to_string(),
                pct(&a["rate"]),
                interval(&a["rate_interval"]),
                if v.is_null() {
                    "control".into()
                } else {
                    format!("{:+.1} ({})", v["lift"].as_f64().unwrap_or(0.0) * 100.0, interval(&v["lift_interval"]))
                },
                v["p_adjusted"]
                    .as_f64()
                    .or(v["p"].as_f64())
                    .map(journey_vm::stats::format_p)
                    .unwrap_or_else(|| "-".into()),
            ]);
            if let Some(t) = a["verdict"].as_str() {
                verdicts.push(t.to_string());
            }
        }
        let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        for row in &rows {
            out.push_str("   ");
            for (c, cell) in row.iter().enumerate() {
                let _ = write!(out, " {cell}{}", " ".repeat(widths[c] - cell.chars().count()));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        for v in verdicts {
            let _ = writeln!(out, "    {v}");
        }
        // A goal with a `value`: the value per assigned profile, and each arm against the
        // control by Welch's t-test.
        let arms: Vec<&Json> = g["arms"].as_array().into_iter().flatten().collect();
        if arms.iter().any(|a| a["value_per_profile"].is_number()) {
            let per: Vec<String> = arms
                .iter()
                .map(|a| {
                    format!(
                        "{} {:.2}",
                        a["label"].as_str().unwrap_or(""),
                        a["value_per_profile"].as_f64().unwrap_or(0.0)
                    )
                })
                .collect();
            let _ = writeln!(out, "    value per profile: {}", per.join(" · "));
            for a in &arms {
                let w = &a["versus_control"]["value"];
                let Some(diff) = w["diff"].as_f64() else { continue };
                let p = a["versus_control"]["value_p_adjusted"].as_f64().or(w["p"].as_f64());
                let _ = writeln!(
                    out,
                    "    {} value per profile {diff:+.2} against control (95% CI {:.2} to {:.2}, {})",
                    a["label"].as_str().unwrap_or(""),
                    w["interval"]["low"].as_f64().unwrap_or(0.0),
                    w["interval"]["high"].as_f64().unwrap_or(0.0),
                    p.map(journey_vm::stats::format_p).unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    for w in analysis["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "    warning: {}", w.as_str().unwrap_or(""));
    }
    out
}

//! Mermaid `flowchart TD` text.

use super::{Graph, NodeKind};
use std::fmt::Write;

/// Mermaid text for one journey, or for several as one subgraph each (a jump to a journey
/// in the set is drawn as a dotted link to its start).
pub fn render(graphs: &[Graph]) -> String {
    let mut out = String::from("flowchart TD\n");
    let several = graphs.len() > 1;
    for (g, graph) in graphs.iter().enumerate() {
        let prefix = if several { format!("j{g}_") } else { String::new() };
        let indent = if several { "    " } else { "  " };
        if several {
            let _ = writeln!(out, "  subgraph j{g}[\"{}\"]", escape(&graph.journey));
            let _ = writeln!(out, "    direction TB");
        }
        for (i, n) in graph.nodes.iter().enumerate() {
            let (open, close) = shape(n.kind);
            let _ = writeln!(out, "{indent}{prefix}n{i}{open}\"{}\"{close}", escape(&n.label));
        }
        for e in &graph.edges {
            let label = e.label.as_ref().map(|l| format!("|\"{}\"|", escape(l))).unwrap_or_default();
            let _ = writeln!(out, "{indent}{prefix}n{} -->{label} {prefix}n{}", e.from, e.to);
        }
        if several {
            out.push_str("  end\n");
        }
    }
    if several {
        for (g, graph) in graphs.iter().enumerate() {
            for (node, target) in graph.jumps() {
                if let Some(t) = graphs.iter().position(|x| x.journey == target) {
                    let _ = writeln!(out, "  j{g}_n{node} -.-> j{t}_n0");
                }
            }
        }
    }
    out
}

/// Stadium for start and end, hexagon for await, rhombus for branching, subroutine for jumps,
/// rounded boxes for steps.
fn shape(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Start | NodeKind::End => ("([", "])"),
        NodeKind::Condition | NodeKind::Split | NodeKind::Cap => ("{", "}"),
        NodeKind::Await => ("{{", "}}"),
        NodeKind::Jump => ("[[", "]]"),
        NodeKind::Wait | NodeKind::Call | NodeKind::Fetch | NodeKind::Update => ("(", ")"),
        NodeKind::Send => (">", "]"),
    }
}

/// Text inside a quoted Mermaid label: quotes and markup as entities, lines as `<br/>`.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '#' => out.push_str("#35;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out
}

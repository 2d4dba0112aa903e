//! Graphviz DOT text.

use super::{Graph, NodeKind};
use std::fmt::Write;

/// DOT text for one journey, or for several as one cluster each (a jump to a journey in the
/// set is drawn as a dashed edge to its start).
pub fn render(graphs: &[Graph]) -> String {
    let several = graphs.len() > 1;
    let name =
        if several { "journeys".to_string() } else { graphs.first().map_or(String::new(), |g| g.journey.clone()) };
    let mut out = format!("digraph \"{}\" {{\n", escape(&name));
    out.push_str("  rankdir=TB;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11, style=\"rounded,filled\", fillcolor=\"#f5f7fa\", color=\"#5b6b7f\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10, color=\"#5b6b7f\"];\n");
    for (g, graph) in graphs.iter().enumerate() {
        let prefix = if several { format!("j{g}_") } else { String::new() };
        let indent = if several { "    " } else { "  " };
        if several {
            let _ = writeln!(out, "  subgraph cluster_{g} {{");
            let _ = writeln!(out, "    label=\"{}\";", escape(&graph.journey));
        }
        for (i, n) in graph.nodes.iter().enumerate() {
            let _ = writeln!(out, "{indent}{prefix}n{i} [label=\"{}\", {}];", escape(&n.label), attrs(n.kind));
        }
        for e in &graph.edges {
            let label = e.label.as_ref().map(|l| format!(" [label=\"{}\"]", escape(l))).unwrap_or_default();
            let _ = writeln!(out, "{indent}{prefix}n{} -> {prefix}n{}{label};", e.from, e.to);
        }
        if several {
            out.push_str("  }\n");
        }
    }
    if several {
        for (g, graph) in graphs.iter().enumerate() {
            for (node, target) in graph.jumps() {
                if let Some(t) = graphs.iter().position(|x| x.journey == target) {
                    let _ = writeln!(out, "  j{g}_n{node} -> j{t}_n0 [style=dashed];");
                }
            }
        }
    }
    out.push_str("}\n");
    out
}

fn attrs(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Start => "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#e3f4e8\"",
        NodeKind::End => "shape=box, style=\"rounded,filled\", fillcolor=\"#fbe6e6\"",
        NodeKind::Condition | NodeKind::Split | NodeKind::Cap => {
            "shape=hexagon, style=\"filled\", fillcolor=\"#efe8fb\""
        }
        NodeKind::Await => "shape=box, fillcolor=\"#fff1dc\"",
        NodeKind::Wait => "shape=box, fillcolor=\"#fdf8d8\"",
        NodeKind::Call | NodeKind::Fetch => "shape=box, fillcolor=\"#e4effb\"",
        NodeKind::Update => "shape=box, fillcolor=\"#e0f5f3\"",
        NodeKind::Jump => "shape=box, style=\"rounded,filled,dashed\", fillcolor=\"#ffffff\"",
        NodeKind::Send => "shape=box, style=\"rounded,filled\", fillcolor=\"#fce8f3\"",
    }
}

/// Text inside a quoted DOT string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

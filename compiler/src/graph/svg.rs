//! SVG drawn by the tool itself (see [`super::layout`]): stadiums for start and end, hexagons
//! for conditions, splits and caps, rounded boxes for steps, a dashed box for jumps, edges as
//! polylines with arrowheads and their labels on a white ground.

use super::layout::{self, inset, Layout, Rect, FONT, LABEL_FONT, LABEL_LINE, LINE, MARGIN};
use super::{Graph, NodeKind};
use std::fmt::Write;

const INK: &str = "#3d4a5c";
const EDGE: &str = "#7a8899";

/// One `<svg>` document for one journey.
pub fn render(g: &Graph) -> String {
    let l = layout::layout(g);
    let mut out = String::new();
    let (w, h) = (l.width.ceil(), l.height.ceil());
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"Helvetica, Arial, sans-serif\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&g.journey));
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#7a8899\"/></marker></defs>\n",
    );
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"24\" font-size=\"15\" font-weight=\"bold\" fill=\"{INK}\">{}</text>",
        escape(&g.journey)
    );
    edges(g, &l, &mut out);
    for (index, ((node, rect), label)) in g.nodes.iter().zip(&l.nodes).zip(&l.texts).enumerate() {
        // `data-node` is the id reports and step events use (the console's counts go there);
        // `data-index` is the node's number on the canvas, which edges' `data-from` and
        // `data-to` name.
        let id = node.id.map(|i| format!(" data-node=\"{i}\"")).unwrap_or_default();
        let _ = writeln!(out, "<g class=\"node {}\" data-index=\"{index}\"{id}>", class(node.kind));
        let _ = writeln!(out, "<title>{}</title>", escape(&node.label.replace('\n', " ")));
        out.push_str(&shape(node.kind, rect));
        lines(&mut out, label, rect, FONT, LINE, INK, node.kind == NodeKind::Start);
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

fn edges(g: &Graph, l: &Layout, out: &mut String) {
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for (k, (path, e)) in l.edges.iter().zip(&g.edges).enumerate() {
        let _ = writeln!(
            out,
            "<path d=\"{}\" stroke=\"{EDGE}\" stroke-width=\"1.4\" marker-end=\"url(#arrow)\" data-edge=\"{k}\" data-from=\"{}\" data-to=\"{}\"/>",
            curve(&path.points),
            e.from,
            e.to
        );
    }
    out.push_str("</g>\n<g class=\"labels\">\n");
    for (k, (path, e)) in l.edges.iter().zip(&g.edges).enumerate() {
        if let Some((text, r)) = &path.label {
            // A shortened condition shows its whole text on hover.
            let _ = write!(out, "<g class=\"label\" data-edge=\"{k}\">");
            if let Some(full) = &e.full {
                let _ = write!(out, "<title>{}</title>", escape(full));
            }
            out.push('\n');
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"#ffffff\" \
                 fill-opacity=\"0.92\"/>",
                r.x - r.w / 2.0,
                r.y - r.h / 2.0,
                r.w,
                r.h
            );
            lines(out, text, r, LABEL_FONT, LABEL_LINE, "#56606e", false);
            out.push_str("</g>\n");
        }
    }
    out.push_str("</g>\n");
}

/// A path through the points: straight where it goes straight down, else a curve that
/// leaves and arrives vertically.
fn curve(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (k, &(x, y)) in points.iter().enumerate() {
        if k == 0 {
            let _ = write!(d, "M{x:.1},{y:.1}");
            continue;
        }
        let (px, py) = points[k - 1];
        if (px - x).abs() < 0.5 {
            let _ = write!(d, " L{x:.1},{y:.1}");
        } else {
            let my = (py + y) / 2.0;
            let _ = write!(d, " C{px:.1},{my:.1} {x:.1},{my:.1} {x:.1},{y:.1}");
        }
    }
    d
}

fn class(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Start => "start",
        NodeKind::Wait => "wait",
        NodeKind::Await => "await",
        NodeKind::Condition => "condition",
        NodeKind::Split => "split",
        NodeKind::Cap => "cap",
        NodeKind::Call | NodeKind::Fetch => "call",
        NodeKind::Send => "send",
        NodeKind::Update => "update",
        NodeKind::Jump => "jump",
        NodeKind::End => "end",
    }
}

fn shape(kind: NodeKind, r: &Rect) -> String {
    let (x0, y0, x1, y1) = (r.x - r.w / 2.0, r.y - r.h / 2.0, r.x + r.w / 2.0, r.y + r.h / 2.0);
    let (fill, stroke) = match kind {
        NodeKind::Start => ("#e3f4e8", "#3f8f5a"),
        NodeKind::End => ("#fbe9e7", "#b5574b"),
        NodeKind::Wait => ("#fdf8d8", "#a8933a"),
        NodeKind::Await => ("#fff1dc", "#c08a2e"),
        NodeKind::Condition | NodeKind::Split | NodeKind::Cap => ("#efe8fb", "#7a5cb8"),
        NodeKind::Call | NodeKind::Fetch => ("#e4effb", "#4a78b0"),
        NodeKind::Update => ("#e0f5f3", "#3a8f86"),
        NodeKind::Jump => ("#ffffff", "#4a78b0"),
        NodeKind::Send => ("#fce8f3", "#b0487f"),
    };
    match kind {
        NodeKind::Condition | NodeKind::Split | NodeKind::Cap => {
            let d = inset(kind, r.h);
            format!(
                "<polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" \
                 fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.4\"/>\n",
                x0,
                r.y,
                x0 + d,
                y0,
                x1 - d,
                y0,
                x1,
                r.y,
                x1 - d,
                y1,
                x0 + d,
                y1
            )
        }
        _ => {
            let rx = if matches!(kind, NodeKind::Start | NodeKind::End) { r.h / 2.0 } else { 6.0 };
            let dash = if kind == NodeKind::Jump { " stroke-dasharray=\"5 3\"" } else { "" };
            let width = if kind == NodeKind::Start { 2.0 } else { 1.4 };
            format!(
                "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{rx:.1}\" fill=\"{fill}\" \
                 stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/>\n",
                r.w, r.h
            )
        }
    }
}

/// Centred lines of text in a box; the first one bold when `bold_first`.
fn lines(out: &mut String, text: &str, r: &Rect, size: f64, line: f64, fill: &str, bold_first: bool) {
    let count = text.lines().count().max(1) as f64;
    let top = r.y - count * line / 2.0;
    for (i, l) in text.lines().enumerate() {
        let baseline = top + (i as f64 + 0.5) * line + size * 0.35;
        let weight = if bold_first && i == 0 { " font-weight=\"bold\"" } else { "" };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{baseline:.1}\" font-size=\"{size}\" text-anchor=\"middle\" fill=\"{fill}\"{weight}>{}</text>",
            r.x,
            escape(l)
        );
    }
}

/// Text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

//! A small layered layout (after Sugiyama): ranks top to bottom by longest path, an edge
//! label as a node in the rank between its ends, points where a long edge crosses a rank,
//! orders by barycenters (keeping the one with the fewest crossings), and x positions pulled
//! toward the neighbours while keeping the order and the gaps.

use super::{Graph, NodeKind};

/// Font size of node text, in pixels.
pub(super) const FONT: f64 = 12.0;
/// Font size of edge labels.
pub(super) const LABEL_FONT: f64 = 11.0;
/// Height of a line of node text.
pub(super) const LINE: f64 = 16.0;
/// Height of a line of label text.
pub(super) const LABEL_LINE: f64 = 14.0;
const PAD_X: f64 = 14.0;
const PAD_Y: f64 = 10.0;
const GAP_X: f64 = 28.0;
const GAP_Y: f64 = 22.0;
/// Left, right and bottom margin; the top one leaves room for the title.
pub(super) const MARGIN: f64 = 20.0;
pub(super) const TITLE: f64 = 36.0;

/// A box by its centre and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A drawn edge: its points from the source to the target (straight down through each rank
/// it crosses), and its label's lines and box.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Path {
    pub points: Vec<(f64, f64)>,
    pub label: Option<(String, Rect)>,
}

/// Label lines of at most about `width` characters, broken at spaces.
pub(super) fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

/// Characters per line of a node's text.
const NODE_WRAP: usize = 36;
/// Characters per line of an edge label.
const LABEL_WRAP: usize = 30;

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    pub nodes: Vec<Rect>,
    /// The nodes' text, long lines wrapped.
    pub texts: Vec<String>,
    pub edges: Vec<Path>,
    pub width: f64,
    pub height: f64,
}

/// Approximate width of `s` in a sans-serif font of `size` pixels.
pub(super) fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | 't' | 'f' | 'r' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' | ' ' | '(' | ')' => 0.36,
            'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.9,
            'A'..='Z' | '0'..='9' | '"' | '?' | '_' | '…' => 0.66,
            _ => 0.56,
        })
        .sum::<f64>()
        * size
}

fn block_size(text: &str, size: f64, line: f64) -> (f64, f64) {
    let w = text.lines().map(|l| text_width(l, size)).fold(0.0, f64::max);
    (w, text.lines().count().max(1) as f64 * line)
}

/// How far a node's sides slant (hexagons) or round (stadiums) in from its box.
pub(super) fn inset(kind: NodeKind, h: f64) -> f64 {
    match kind {
        NodeKind::Condition | NodeKind::Split | NodeKind::Cap => h * 0.4,
        NodeKind::Start | NodeKind::End => h / 2.0,
        _ => 6.0,
    }
}

/// One thing in a rank: a node, an edge label, or an edge passing through.
struct Item {
    w: f64,
    h: f64,
    rank: usize,
    preds: Vec<usize>,
    succs: Vec<usize>,
}

/// Lays `g` out.
pub(super) fn layout(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let rank = ranks(g);
    let texts: Vec<String> =
        g.nodes.iter().map(|n| n.label.lines().map(|l| wrap(l, NODE_WRAP)).collect::<Vec<_>>().join("\n")).collect();
    let mut items: Vec<Item> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (w, h) = block_size(&texts[i], FONT, LINE);
            // The start's first line is bold: a little wider.
            let w = if node.kind == NodeKind::Start { w * 1.08 } else { w };
            let h = h + 2.0 * PAD_Y;
            let w = (w + 2.0 * PAD_X + 2.0 * inset(node.kind, h) - 6.0).max(60.0);
            Item { w, h, rank: 2 * rank[i], preds: Vec::new(), succs: Vec::new() }
        })
        .collect();
    // Each edge as a chain of items; the first one after the source holds the label.
    let mut chains = Vec::with_capacity(g.edges.len());
    for e in &g.edges {
        let mut chain = vec![e.from];
        for r in items[e.from].rank + 1..items[e.to].rank {
            let (w, h) = match (&e.label, r == items[e.from].rank + 1) {
                (Some(l), true) => {
                    let (w, h) = block_size(&wrap(l, LABEL_WRAP), LABEL_FONT, LABEL_LINE);
                    (w + 8.0, h + 4.0)
                }
                _ => (0.0, 0.0),
            };
            items.push(Item { w, h, rank: r, preds: Vec::new(), succs: Vec::new() });
            chain.push(items.len() - 1);
        }
        chain.push(e.to);
        for pair in chain.windows(2) {
            items[pair[0]].succs.push(pair[1]);
            items[pair[1]].preds.push(pair[0]);
        }
        chains.push(chain);
    }
    let layers = order(&items);
    let xs = place(&items, &layers);
    // Rank heights and y centres.
    let mut ys = vec![0.0; items.len()];
    let mut spans = vec![(0.0, 0.0); items.len()];
    let mut y = TITLE;
    for layer in &layers {
        let h = layer.iter().map(|&i| items[i].h).fold(0.0, f64::max).max(8.0);
        for &i in layer {
            ys[i] = y + h / 2.0;
            spans[i] = (y, y + h);
        }
        y += h + GAP_Y;
    }
    let min_x = (0..items.len()).map(|i| xs[i] - items[i].w / 2.0).fold(f64::INFINITY, f64::min);
    let max_x = (0..items.len()).map(|i| xs[i] + items[i].w / 2.0).fold(f64::NEG_INFINITY, f64::max);
    let dx = MARGIN - min_x;
    let rect = |i: usize| Rect { x: xs[i] + dx, y: ys[i], w: items[i].w, h: items[i].h };
    let nodes: Vec<Rect> = (0..n).map(rect).collect();
    let mut edges: Vec<Path> = chains
        .iter()
        .zip(&g.edges)
        .map(|(chain, e)| {
            let mut points = vec![(rect(chain[0]).x, rect(chain[0]).y)];
            for &i in &chain[1..chain.len() - 1] {
                points.push((rect(i).x, spans[i].0));
                points.push((rect(i).x, spans[i].1));
            }
            let last = chain[chain.len() - 1];
            points.push((rect(last).x, rect(last).y));
            let label = e.label.as_ref().map(|l| (wrap(l, LABEL_WRAP), rect(chain[1])));
            Path { points, label }
        })
        .collect();
    anchor_ends(g, &nodes, &mut edges);
    Layout { nodes, texts, edges, width: (max_x - min_x) + 2.0 * MARGIN, height: y - GAP_Y + MARGIN }
}

/// Longest path from the start (the graph has no cycles: journeys do not loop).
fn ranks(g: &Graph) -> Vec<usize> {
    let n = g.nodes.len();
    let mut indegree = vec![0usize; n];
    for e in &g.edges {
        indegree[e.to] += 1;
    }
    let mut rank = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(u) = ready.pop() {
        for e in g.edges.iter().filter(|e| e.from == u) {
            rank[e.to] = rank[e.to].max(rank[u] + 1);
            indegree[e.to] -= 1;
            if indegree[e.to] == 0 {
                ready.push(e.to);
            }
        }
    }
    rank
}

/// The items of each rank, left to right.
fn order(items: &[Item]) -> Vec<Vec<usize>> {
    let ranks = items.iter().map(|i| i.rank).max().unwrap_or(0) + 1;
    // Start from a depth-first walk, so that branches come in source order.
    let mut layers = vec![Vec::new(); ranks];
    let mut seen = vec![false; items.len()];
    let mut stack = vec![0usize];
    while let Some(u) = stack.pop() {
        if seen[u] {
            continue;
        }
        seen[u] = true;
        layers[items[u].rank].push(u);
        stack.extend(items[u].succs.iter().rev().filter(|&&s| !seen[s]));
    }
    for (i, item) in items.iter().enumerate() {
        if !seen[i] {
            layers[item.rank].push(i);
        }
    }
    let mut best = layers.clone();
    let mut best_crossings = crossings(items, &layers);
    for sweep in 0..8 {
        let down = sweep % 2 == 0;
        let mut pos = vec![0.0; items.len()];
        let indexes: Vec<usize> =
            if down { (1..ranks).collect() } else { (0..ranks.saturating_sub(1)).rev().collect() };
        for layer in &layers {
            for (k, &i) in layer.iter().enumerate() {
                pos[i] = k as f64;
            }
        }
        for r in indexes {
            let mut keyed: Vec<(f64, usize)> = layers[r]
                .iter()
                .map(|&i| {
                    let near = if down { &items[i].preds } else { &items[i].succs };
                    let key = if near.is_empty() {
                        pos[i]
                    } else {
                        near.iter().map(|&j| pos[j]).sum::<f64>() / near.len() as f64
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            layers[r] = keyed.into_iter().map(|(_, i)| i).collect();
            for (k, &i) in layers[r].iter().enumerate() {
                pos[i] = k as f64;
            }
        }
        let c = crossings(items, &layers);
        if c < best_crossings {
            best_crossings = c;
            best = layers.clone();
        }
    }
    best
}

fn crossings(items: &[Item], layers: &[Vec<usize>]) -> usize {
    let mut pos = vec![0usize; items.len()];
    for layer in layers {
        for (k, &i) in layer.iter().enumerate() {
            pos[i] = k;
        }
    }
    let mut total = 0;
    for layer in layers {
        let segs: Vec<(usize, usize)> = layer
            .iter()
            .flat_map(|&u| items[u].succs.iter().map(move |&v| (u, v)))
            .map(|(u, v)| (pos[u], pos[v]))
            .collect();
        for (a, &(u1, v1)) in segs.iter().enumerate() {
            for &(u2, v2) in &segs[a + 1..] {
                if (u1 < u2 && v1 > v2) || (u1 > u2 && v1 < v2) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// X centres: each item pulled toward the mean of its neighbours, the order and gaps kept.
fn place(items: &[Item], layers: &[Vec<usize>]) -> Vec<f64> {
    let mut xs = vec![0.0; items.len()];
    let gap = |a: usize, b: usize| {
        let g = if items[a].w == 0.0 || items[b].w == 0.0 { GAP_X / 2.0 } else { GAP_X };
        (items[a].w + items[b].w) / 2.0 + g
    };
    for layer in layers {
        let mut x = 0.0;
        for (k, &i) in layer.iter().enumerate() {
            if k > 0 {
                x += gap(layer[k - 1], i);
            }
            xs[i] = x;
        }
    }
    for round in 0..24 {
        let down = round % 2 == 0;
        let indexes: Vec<usize> = if down { (0..layers.len()).collect() } else { (0..layers.len()).rev().collect() };
        for r in indexes {
            let layer = &layers[r];
            let want: Vec<f64> = layer
                .iter()
                .map(|&i| {
                    let near: Vec<usize> = if down { items[i].preds.clone() } else { items[i].succs.clone() };
                    if near.is_empty() {
                        xs[i]
                    } else {
                        near.iter().map(|&j| xs[j]).sum::<f64>() / near.len() as f64
                    }
                })
                .collect();
            // The closest positions in order: a pass from each side, averaged.
            let m = layer.len();
            let mut left = want.clone();
            for k in 1..m {
                left[k] = left[k].max(left[k - 1] + gap(layer[k - 1], layer[k]));
            }
            let mut right = want.clone();
            for k in (0..m.saturating_sub(1)).rev() {
                right[k] = right[k].min(right[k + 1] - gap(layer[k], layer[k + 1]));
            }
            for k in 0..m {
                xs[layer[k]] = (left[k] + right[k]) / 2.0;
            }
        }
    }
    xs
}

/// Moves each edge's ends from the node centres to the bottom of the source and the top of
/// the target, spread along the side when several edges meet there.
fn anchor_ends(g: &Graph, nodes: &[Rect], edges: &mut [Path]) {
    for (node, rect) in nodes.iter().enumerate() {
        let flat = (rect.w / 2.0 - inset(g.nodes[node].kind, rect.h)).max(4.0);
        let mut outs: Vec<usize> = (0..edges.len()).filter(|&e| g.edges[e].from == node).collect();
        outs.sort_by(|&a, &b| edges[a].points[1].0.total_cmp(&edges[b].points[1].0));
        for (k, &e) in outs.iter().enumerate() {
            let x = rect.x + spread(k, outs.len(), flat);
            edges[e].points[0] = (x, rect.y + rect.h / 2.0);
        }
        let mut ins: Vec<usize> = (0..edges.len()).filter(|&e| g.edges[e].to == node).collect();
        ins.sort_by(|&a, &b| {
            let pa = edges[a].points[edges[a].points.len() - 2].0;
            let pb = edges[b].points[edges[b].points.len() - 2].0;
            pa.total_cmp(&pb)
        });
        for (k, &e) in ins.iter().enumerate() {
            let x = rect.x + spread(k, ins.len(), flat);
            let last = edges[e].points.len() - 1;
            edges[e].points[last] = (x, rect.y - rect.h / 2.0);
        }
    }
}

/// The offset of the `k`-th of `n` ends along a side of half-length `half`.
fn spread(k: usize, n: usize, half: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let step = (2.0 * half / n as f64).min(14.0);
    (k as f64 - (n - 1) as f64 / 2.0) * step
}

#[cfg(test)]
mod tests {
    //! The canvas of every example journey (and of tests/graph/wide.journey): no two boxes
    //! overlap, every line of text fits its box, edges merging into an `await` do not cross,
    //! and each statement node carries the id the bytecode gives it.

    use super::*;
    use crate::graph::{build, Graph};
    use std::path::PathBuf;

    fn graphs() -> Vec<(Graph, Vec<journey_bytecode::NodeKind>)> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        for dir in [root.join("examples"), root.join("tests/graph/project")] {
            let build_ = crate::driver::load(&[dir], &[]).expect("loads").check();
            assert_eq!(build_.errors(), 0, "{}", build_.render_errors());
            let program = build_.program().expect("compiles");
            for (j, code) in build_.checked.program.journeys.iter().zip(&program.journeys) {
                let g = build(j, &build_.sources.get(j.file).text, &build_.checked.program.http);
                out.push((g, code.nodes.iter().map(|n| n.kind).collect()));
            }
        }
        out
    }

    fn overlap(a: &Rect, b: &Rect) -> bool {
        (a.x - b.x).abs() * 2.0 < a.w + b.w - 0.5 && (a.y - b.y).abs() * 2.0 < a.h + b.h - 0.5
    }

    #[test]
    fn boxes_do_not_overlap_and_text_fits() {
        for (g, _) in graphs() {
            let l = layout(&g);
            let mut boxes: Vec<(String, Rect)> =
                g.nodes.iter().zip(&l.nodes).map(|(n, r)| (format!("node {:?}", n.label), *r)).collect();
            boxes.extend(l.edges.iter().filter_map(|p| p.label.as_ref().map(|(t, r)| (format!("label {t:?}"), *r))));
            for (i, (a, ra)) in boxes.iter().enumerate() {
                for (b, rb) in &boxes[i + 1..] {
                    assert!(!overlap(ra, rb), "{}: {a} overlaps {b}", g.journey);
                }
            }
            for ((node, r), text) in g.nodes.iter().zip(&l.nodes).zip(&l.texts) {
                let room = r.w - 2.0 * inset(node.kind, r.h) + 6.0;
                for line in text.lines() {
                    let w = text_width(line, FONT) * if node.kind == NodeKind::Start { 1.08 } else { 1.0 };
                    assert!(w <= room + 0.01, "{}: {line:?} ({w:.0}px) leaves its box ({room:.0}px)", g.journey);
                }
                assert!(text.lines().count() as f64 * LINE <= r.h, "{}: {text:?} is taller than its box", g.journey);
            }
            for p in &l.edges {
                if let Some((text, r)) = &p.label {
                    for line in text.lines() {
                        assert!(text_width(line, LABEL_FONT) <= r.w, "{}: label {line:?} leaves its box", g.journey);
                    }
                }
            }
        }
    }

    /// Two segments from (x1, y) to (x2, y') cross when their order swaps between the rows.
    fn cross(a: ((f64, f64), (f64, f64)), b: ((f64, f64), (f64, f64))) -> bool {
        let (a0, a1, b0, b1) = (a.0 .0, a.1 .0, b.0 .0, b.1 .0);
        (a0 - b0) * (a1 - b1) < -0.01
    }

    #[test]
    fn edges_into_an_await_do_not_cross() {
        for (g, _) in graphs() {
            let l = layout(&g);
            for (n, node) in g.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Await) {
                // The last segment of each edge into the await: where paths merge.
                let ins: Vec<((f64, f64), (f64, f64))> = g
                    .edges
                    .iter()
                    .zip(&l.edges)
                    .filter(|(e, _)| e.to == n)
                    .map(|(_, p)| (p.points[p.points.len() - 2], p.points[p.points.len() - 1]))
                    .collect();
                for (i, a) in ins.iter().enumerate() {
                    for b in &ins[i + 1..] {
                        if (a.0 .1 - b.0 .1).abs() < 0.5 {
                            assert!(!cross(*a, *b), "{}: edges into {:?} cross", g.journey, node.label);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn statement_nodes_carry_their_bytecode_ids() {
        for (g, kinds) in graphs() {
            let ids: Vec<(u32, NodeKind)> = g.nodes.iter().filter_map(|n| n.id.map(|i| (i, n.kind))).collect();
            let want: Vec<(u32, NodeKind)> = kinds.iter().enumerate().map(|(i, k)| (i as u32, *k)).collect();
            assert_eq!(ids, want, "{}: the canvas and the bytecode number nodes alike", g.journey);
        }
    }
}

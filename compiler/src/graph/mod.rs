//! `journey graph`: a journey as the canvas a marketer knows, built from the checked IR.
//!
//! [`build`] turns a journey into a small graph: nodes (start, waits, awaits, conditions,
//! splits, caps, calls, profile updates, jumps, ends) and edges labelled with the path they
//! stand for (a condition's text, `else`, `10% "control"`, `on Purchase`, `after 2h`,
//! `on error`). A branch that finishes without `end` joins the path after its statement; the
//! body running off its end goes to an implicit end. [`mermaid`], [`dot`] and [`svg`] write it.

pub mod dot;
mod layout;
pub mod mermaid;
pub mod svg;

pub use crate::bytecode::graph::{Edge, Graph, Node};
pub use crate::bytecode::NodeKind;
use crate::ir::{self, Call, Journey, Start, StmtKind};
use journey_grammar::ast::{HttpKind, Span};

/// How long a condition or `where` may be on a label before it is cut with `…`.
const MAX_LABEL: usize = 48;

/// Builds the canvas of `journey`, whose source text is `src`; `http` (the program's actions
/// and data sources) names a call's key argument.
pub fn build(journey: &Journey, src: &str, http: &[ir::Http]) -> Graph {
    let mut b = Builder {
        src,
        http,
        goals: journey.goals.iter().map(|g| format!("\"{}\"", g.name)).collect(),
        next_id: 0,
        g: Graph { journey: journey.name.clone(), nodes: Vec::new(), edges: Vec::new() },
    };
    let start = b.node(NodeKind::Start, start_label(journey));
    b.g.nodes[start].id = None;
    b.next_id = 0;
    let open = b.stmts(&journey.body, vec![(start, None)]);
    if !open.is_empty() {
        let end = b.node(NodeKind::End, "end".to_string());
        b.g.nodes[end].id = None;
        b.connect(open, end);
    }
    b.g
}

/// The journey timeout when a journey sets one (the checker's default is not shown).
fn timeout_line(j: &Journey) -> Option<String> {
    (j.timeout_ms != crate::check::DEFAULT_TIMEOUT_MS)
        .then(|| format!("timeout {}", crate::check::fmt_ms(j.timeout_ms)))
}

fn start_label(j: &Journey) -> String {
    let mut lines = vec![match &j.start {
        Start::Event(e) => format!("start on {e}"),
        Start::EventForAudience { event, audience } => format!("start on {event}\nfor audience {audience}"),
        Start::AudienceEnters(a) => format!("audience {a} enters"),
        Start::AudienceExits(a) => format!("audience {a} exits"),
        Start::AudienceRead { audience, every: Some(every), at } => {
            format!("audience {audience}\nevery {every} at {at}")
        }
        Start::AudienceRead { audience, every: None, at } => format!("audience {audience}\nonce at {at}"),
    }];
    if !j.exit_on.is_empty() {
        lines.push(format!("exit on {}", j.exit_on.join(", ")));
    }
    for g in &j.goals {
        lines.push(format!("goal \"{}\" on {} within {}", g.name, g.event, crate::check::fmt_ms(g.window_ms)));
    }
    lines.extend(timeout_line(j));
    lines.join("\n")
}

/// Paths waiting for the next node: a source node and the label of the path.
type Open = Vec<(usize, Option<String>)>;

struct Builder<'s> {
    src: &'s str,
    http: &'s [ir::Http],
    /// The journey's goals, quoted (an experiment's split names what its arms are compared on).
    goals: Vec<String>,
    /// The id of the next statement node: the order code generation numbers them in.
    next_id: u32,
    g: Graph,
}

/// A text cut to at most [`MAX_LABEL`] characters at a word boundary, with `…`.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_LABEL - 1).collect();
    // Not mid-word: back to the last space, unless that leaves too little.
    let at_space = cut.rfind(' ').filter(|&i| i >= MAX_LABEL / 2).map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_space.trim_end())
}

impl Builder<'_> {
    fn node(&mut self, kind: NodeKind, label: String) -> usize {
        self.g.nodes.push(Node { kind, label, id: Some(self.next_id) });
        self.next_id += 1;
        self.g.nodes.len() - 1
    }

    fn connect(&mut self, open: Open, to: usize) {
        for (from, label) in open {
            let short = label.as_deref().map(shorten);
            let full = label.filter(|l| Some(l) != short.as_ref());
            self.g.edges.push(Edge { from, to, label: short, full });
        }
    }

    /// The source text of a span, on one line (shortened when it labels an edge).
    fn text(&self, span: Span) -> String {
        let raw = self.src.get(span.start..span.end).unwrap_or("");
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Adds the statements after the open paths; returns the paths open after them.
    fn stmts(&mut self, stmts: &[ir::Stmt], mut open: Open) -> Open {
        for s in stmts {
            if open.is_empty() {
                break;
            }
            open = self.stmt(s, open);
        }
        open
    }

    fn stmt(&mut self, s: &ir::Stmt, open: Open) -> Open {
        match &s.kind {
            StmtKind::Let { .. } => open,
            StmtKind::Wait(d) => self.step(NodeKind::Wait, format!("wait {}", shorten(&self.text(d.span))), open),
            StmtKind::WaitUntil(t) => {
                self.step(NodeKind::Wait, format!("wait until {}", shorten(&self.text(t.span))), open)
            }
            StmtKind::Await { arms, after } => {
                let n = self.node(NodeKind::Await, "await".to_string());
                self.connect(open, n);
                let mut out = Vec::new();
                for arm in arms {
                    let mut label = match &arm.reaction {
                        // A reaction is labelled by the message it reacts to; its matching
                        // condition is the engine's, not written by the author.
                        Some((reaction, send)) => format!("on {reaction} {send}"),
                        None => format!("on {}", arm.event),
                    };
                    if let Some(c) = arm.condition.as_ref().filter(|_| arm.reaction.is_none()) {
                        label = format!("{label} where {}", self.text(c.span));
                    }
                    out.extend(self.stmts(&arm.body, vec![(n, Some(label))]));
                }
                if let Some((d, body)) = after {
                    let label = format!("after {}", self.text(d.span));
                    out.extend(self.stmts(body, vec![(n, Some(label))]));
                }
                out
            }
            StmtKind::If { branches, otherwise } => {
                let n = self.node(NodeKind::Condition, "condition".to_string());
                self.connect(open, n);
                let mut out = Vec::new();
                for (cond, body) in branches {
                    let label = self.text(cond.span);
                    out.extend(self.stmts(body, vec![(n, Some(label))]));
                }
                out.extend(self.stmts(otherwise, vec![(n, Some("else".to_string()))]));
                out
            }
            StmtKind::Split(branches) => {
                // An experiment (every arm labelled) names the goals its arms are compared on.
                let experiment = !branches.is_empty() && branches.iter().all(|b| b.1.is_some());
                let text = if experiment && !self.goals.is_empty() {
                    format!("split\nexperiment on {}", self.goals.join(", "))
                } else {
                    "split".to_string()
                };
                let n = self.node(NodeKind::Split, text);
                self.connect(open, n);
                let mut out = Vec::new();
                for (percent, label, body) in branches {
                    let label = match label {
                        Some(l) => format!("{percent}% {l}"),
                        None => format!("{percent}%"),
                    };
                    out.extend(self.stmts(body, vec![(n, Some(label))]));
                }
                out
            }
            StmtKind::Cap { limit, body, otherwise } => {
                let limit = shorten(&self.text(limit.span));
                let n = self.node(NodeKind::Cap, format!("cap {limit}"));
                self.connect(open, n);
                let mut out = self.stmts(body, vec![(n, Some(format!("first {limit}")))]);
                out.extend(self.stmts(otherwise, vec![(n, Some("else".to_string()))]));
                out
            }
            StmtKind::Call { call, .. } => self.call(call, open),
            StmtKind::Send(send) => {
                let mut label = format!("send {} {}", send.channel, self.text(send.template.span));
                if send.transactional {
                    label = format!("send transactional {} {}", send.channel, self.text(send.template.span));
                }
                let n = self.node(NodeKind::Send, label);
                self.connect(open, n);
                let handled = send.on_suppressed.is_some() || send.on_error.is_some();
                let mut out = vec![(n, handled.then(|| "sent".to_string()))];
                if let Some(body) = &send.on_suppressed {
                    out.extend(self.stmts(body, vec![(n, Some("on suppressed".to_string()))]));
                }
                if let Some(body) = &send.on_error {
                    out.extend(self.stmts(body, vec![(n, Some("on error".to_string()))]));
                }
                out
            }
            StmtKind::UpdateProfile(fields) => {
                let names: Vec<String> = fields.iter().map(|(path, _)| path.join(".")).collect();
                self.step(NodeKind::Update, format!("update profile\n{}", names.join(", ")), open)
            }
            StmtKind::Jump(j) => self.step(NodeKind::Jump, format!("jump {j}"), open),
            StmtKind::End(label) => {
                let text = match label {
                    Some(l) => format!("end \"{l}\""),
                    None => "end".to_string(),
                };
                let n = self.node(NodeKind::End, text);
                self.connect(open, n);
                Vec::new()
            }
        }
    }

    /// A node with one way on.
    fn step(&mut self, kind: NodeKind, label: String, open: Open) -> Open {
        let n = self.node(kind, label);
        self.connect(open, n);
        vec![(n, None)]
    }

    /// The argument that says what a call does, as `name: value`: its `template` when it has
    /// one (a SendEmail's), else its first argument given as a constant string.
    fn key_argument(&self, call: &Call) -> Option<String> {
        let http = self.http.iter().find(|h| h.name == call.target)?;
        let given = || http.params.iter().zip(&call.args).filter_map(|((p, _), a)| Some((p, a.as_ref()?)));
        let (name, arg) = given()
            .find(|(p, _)| p.as_str() == "template")
            .or_else(|| given().find(|(_, a)| matches!(&a.kind, ir::ExprKind::Const(crate::ir::Const::Str(_)))))?;
        Some(shorten(&format!("{name}: {}", self.text(arg.span))))
    }

    fn call(&mut self, call: &Call, open: Open) -> Open {
        let kind = if call.kind == HttpKind::Action { NodeKind::Call } else { NodeKind::Fetch };
        let mut label = format!("{kind} {}", call.target);
        if let Some(arg) = self.key_argument(call) {
            label = format!("{label}\n{arg}");
        }
        let n = self.node(kind, label);
        self.connect(open, n);
        let handled = call.on_timeout.is_some() || call.on_error.is_some();
        let mut out = vec![(n, handled.then(|| "ok".to_string()))];
        if let Some(body) = &call.on_timeout {
            out.extend(self.stmts(body, vec![(n, Some("on timeout".to_string()))]));
        }
        if let Some(body) = &call.on_error {
            out.extend(self.stmts(body, vec![(n, Some("on error".to_string()))]));
        }
        out
    }
}

//! A journey's canvas as `journey graph` draws it: nodes and the labelled paths between them.
//! The compiler builds it from the checked journey (`journey_compiler::graph`); an artifact keeps
//! one per journey, so that a server draws each stored version as it was published, whatever
//! the files on disk say now (the bytecode alone has no edges).

use crate::NodeKind;
use serde::{Deserialize, Serialize};

/// A node of the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Its text; lines are separated by `\n`.
    pub label: String,
    /// The node id reports and step events use for it (`None` for the start and the implicit
    /// end, which the bytecode has no node for).
    pub id: Option<u32>,
}

/// A path from one node to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Index of the source node.
    pub from: usize,
    /// Index of the target node.
    pub to: usize,
    /// What the path stands for, if it is one of several (a long condition shortened).
    pub label: Option<String>,
    /// The label's full text, when it was shortened (an SVG shows it on hover).
    pub full: Option<String>,
}

/// One journey's canvas. Node 0 is the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The journey's name.
    pub journey: String,
    /// The nodes, in the order of the statements.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The journeys this one jumps to.
    pub fn jumps(&self) -> impl Iterator<Item = (usize, &str)> {
        self.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Jump).filter_map(|(i, n)| {
            let target = n.label.strip_prefix("jump ")?;
            Some((i, target))
        })
    }
}

//! `journey graph`: draw journeys as the canvas (Mermaid, Graphviz DOT, or SVG).

use super::project::{load_and_check, render, ProjectArgs};
use super::{Color, FAILED, OK, PROBLEMS};
use clap::ValueEnum;
use journey_compiler::graph;
use std::path::PathBuf;

/// What `journey graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    /// Mermaid `flowchart TD` text (several journeys: one subgraph each).
    #[default]
    Mermaid,
    /// Graphviz DOT text (several journeys: one cluster each).
    Dot,
    /// An SVG image drawn by journey itself (one journey).
    Svg,
}

/// Arguments of `journey graph`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: ProjectArgs,
    /// The journey to draw (default: every journey; SVG needs one when there are several).
    #[arg(long, value_name = "NAME")]
    journey: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: GraphFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `journey graph`; returns the exit code.
pub fn run(args: Args) -> u8 {
    let c = match load_and_check(&args.project.paths, &args.project.schemas.dirs) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if c.errors() > 0 {
        render(&c.diagnostics, &c.sources, Color::Auto);
        eprintln!("error: the project has {} error(s); fix them first (`journey check`)", c.errors());
        return PROBLEMS;
    }
    let journeys = &c.checked.program.journeys;
    let names: Vec<&str> = journeys.iter().map(|j| j.name.as_str()).collect();
    let chosen: Vec<_> = match &args.journey {
        Some(name) => journeys.iter().filter(|j| &j.name == name).collect(),
        None => journeys.iter().collect(),
    };
    if chosen.is_empty() {
        match &args.journey {
            Some(name) => eprintln!("error: no journey named `{name}`; the journeys are: {}", list(&names)),
            None => eprintln!("error: no journey to draw: the files declare none"),
        }
        return FAILED;
    }
    if args.format == GraphFormat::Svg && chosen.len() > 1 {
        eprintln!(
            "error: an SVG shows one journey; choose one with `--journey NAME` (the journeys are: {})",
            list(&names)
        );
        return FAILED;
    }
    let graphs: Vec<graph::Graph> =
        chosen.iter().map(|j| graph::build(j, &c.sources.get(j.file).text, &c.checked.program.http)).collect();
    let text = match args.format {
        GraphFormat::Mermaid => graph::mermaid::render(&graphs),
        GraphFormat::Dot => graph::dot::render(&graphs),
        GraphFormat::Svg => graph::svg::render(&graphs[0]),
    };
    match &args.output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                FAILED
            }
        },
        None => {
            print!("{text}");
            OK
        }
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

//! Human-readable disassembly of a compiled program (`journey disasm`).

use crate::{Code, Op, Program, Reentry};
use std::fmt::Write;

/// The whole program as text: tables, events and each journey's code.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; {} journeys, {} events, {} actions/data sources",
        p.journeys.len(),
        p.events.len(),
        p.http.len()
    );
    for (i, c) in p.consts.iter().enumerate() {
        let _ = writeln!(out, "const {i:>3} = {c:?}");
    }
    for e in &p.events {
        let _ = writeln!(out, "\nevent {}", e.name);
        code(&mut out, p, &e.code);
        if let Some(k) = e.key {
            let _ = writeln!(out, "  ; key at {k:04}");
        }
        if let Some(w) = e.when {
            let _ = writeln!(out, "  ; when at {w:04}");
        }
    }
    for j in &p.journeys {
        let _ = writeln!(out, "\njourney {} ({} locals, timeout {}ms, {})", j.name, j.locals, j.timeout_ms, j.timezone);
        let _ = writeln!(out, "  start {:?}", j.start);
        let reentry = match j.reentry {
            Reentry::Never => "never".to_string(),
            Reentry::Always => "always".to_string(),
            Reentry::After(ms) => format!("after {ms}ms"),
        };
        let _ = writeln!(out, "  reentry {reentry}");
        let exit_on = if j.exit_on.is_empty() { "-".to_string() } else { j.exit_on.join(" | ") };
        let _ = writeln!(out, "  exit on {exit_on}");
        let active =
            j.active.as_ref().map(|(from, to)| format!("from {from} to {to}")).unwrap_or_else(|| "always".into());
        let _ = writeln!(out, "  active {active}");
        for (i, path) in j.event_paths.iter().enumerate() {
            let _ = writeln!(out, "  event path {i}: event.{}", path.join("."));
        }
        code(&mut out, p, &j.code);
        for (i, n) in j.nodes.iter().enumerate() {
            let _ = writeln!(out, "  node {i}: {} (line {}): {}", n.kind, n.line, n.label);
        }
        for (i, a) in j.awaits.iter().enumerate() {
            let arms: Vec<String> = a
                .arms
                .iter()
                .map(|arm| {
                    let cond = arm.condition.map(|c| format!(" where@{c:04}")).unwrap_or_default();
                    let slot = arm.slot.map(|s| format!(" as s{s}")).unwrap_or_default();
                    format!("{}{slot}{cond} -> {:04}", arm.event, arm.target)
                })
                .collect();
            let after = a.after.map(|(d, t)| format!(", after@{d:04} -> {t:04}")).unwrap_or_default();
            let _ = writeln!(out, "  await {i}: {}{after}", arms.join(", "));
        }
        for (i, c) in j.calls.iter().enumerate() {
            let name = p.http.get(c.http as usize).map(|h| h.name.as_str()).unwrap_or("?");
            let _ = writeln!(
                out,
                "  call {i}: {name} given {:?} -> {} timeout {} error {} next {:04}",
                c.given,
                c.slot.map(|s| format!("s{s}")).unwrap_or_else(|| "_".into()),
                c.on_timeout.map(|a| format!("{a:04}")).unwrap_or_else(|| "-".into()),
                c.on_error.map(|a| format!("{a:04}")).unwrap_or_else(|| "-".into()),
                c.next
            );
        }
        for (i, g) in j.goals.iter().enumerate() {
            let slot = g.slot.map(|s| format!(" as s{s}")).unwrap_or_default();
            let cond = g.condition.map(|c| format!(" where@{c:04}")).unwrap_or_default();
            let value = g.value.map(|v| format!(" value@{v:04}")).unwrap_or_default();
            let _ =
                writeln!(out, "  goal {i}: \"{}\" on {}{slot}{cond} within {}ms{value}", g.name, g.event, g.window_ms);
        }
        for (i, s) in j.splits.iter().enumerate() {
            let b: Vec<String> = s
                .branches
                .iter()
                .map(|(p, l, t)| format!("<{p}% {} -> {t:04}", l.clone().unwrap_or_default()))
                .collect();
            let _ = writeln!(out, "  split {i}: {}", b.join(", "));
        }
        for (i, c) in j.caps.iter().enumerate() {
            let _ = writeln!(out, "  cap {i}: first {} else -> {:04}", c.limit, c.otherwise);
        }
        for (i, s) in j.sends.iter().enumerate() {
            let channel = p.channels.get(s.channel as usize).map(|c| c.name.as_str()).unwrap_or("?");
            let addr = |a: Option<u32>| a.map(|a| format!("{a:04}")).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "  send {i}: {}{channel} node {} -> {} retry {:04} suppressed {} error {} next {:04}",
                if s.transactional { "transactional " } else { "" },
                s.node,
                s.slot.map(|s| format!("s{s}")).unwrap_or_else(|| "_".into()),
                s.retry,
                addr(s.on_suppressed),
                addr(s.on_error),
                s.next
            );
        }
        if let Some(tz) = j.timezone_expr {
            let _ = writeln!(out, "  ; timezone at {tz:04}");
        }
    }
    for c in &p.channels {
        let deliver = p.http.get(c.deliver as usize).map(|h| h.name.as_str()).unwrap_or("?");
        let quiet = c
            .quiet
            .map(|q| format!(" quiet {}ms..{}ms {}", q.from_ms, q.to_ms, if q.queue { "queue" } else { "drop" }))
            .unwrap_or_default();
        let _ = writeln!(out, "\nchannel {} deliver {deliver}{quiet}", c.name);
        for (word, r) in [("opened", &c.opened), ("clicked", &c.clicked)] {
            if let Some(r) = r {
                let _ = writeln!(out, "  {word} on {} by {}", r.event, r.by.join("."));
            }
        }
    }
    for f in &p.frequencies {
        let channel = f.channel.and_then(|c| p.channels.get(c as usize)).map(|c| c.name.as_str()).unwrap_or("any");
        let _ = writeln!(out, "\nfrequency {channel} {} per {}ms", f.limit, f.window_ms);
    }
    out
}

fn code(out: &mut String, p: &Program, c: &Code) {
    for (addr, op) in c.ops.iter().enumerate() {
        let _ = writeln!(out, "  {addr:04}  {}", op_text(p, op));
    }
    for (i, l) in c.lambdas.iter().enumerate() {
        let _ = writeln!(out, "  ; lambda {i}: {:?} s{} body at {:04}", l.kind, l.slot, l.body);
    }
}

fn name(p: &Program, i: u32) -> &str {
    p.names.get(i as usize).map(String::as_str).unwrap_or("?")
}

fn op_text(p: &Program, op: &Op) -> String {
    match *op {
        Op::Const(i) => match p.consts.get(i as usize) {
            Some(c) => format!("const {c:?}"),
            None => format!("const #{i} (missing)"),
        },
        Op::Field(n) => format!("field .{}", name(p, n)),
        Op::Secret(n) => format!("secret {}", name(p, n)),
        Op::Call(f, argc) => format!("call {}/{argc}", p.functions.get(f as usize).map(String::as_str).unwrap_or("?")),
        Op::MakeRecord(s) => {
            let names: Vec<&str> =
                p.shapes.get(s as usize).map(|v| v.iter().map(|n| name(p, *n)).collect()).unwrap_or_default();
            format!("record {{{}}}", names.join(", "))
        }
        Op::JumpJourney(n) => format!("jump-journey {}", name(p, n)),
        Op::End(n) if n == u32::MAX => "end".into(),
        Op::End(n) => format!("end \"{}\"", name(p, n)),
        other => {
            let s = format!("{other:?}");
            // `JumpIfFalse(12)` -> `jump-if-false 0012`: lower-kebab names, padded addresses.
            let (head, arg) = s
                .split_once('(')
                .map(|(h, a)| (h.to_string(), a.trim_end_matches(')').to_string()))
                .unwrap_or((s, String::new()));
            let mut kebab = String::new();
            for (i, ch) in head.chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(ch.to_ascii_lowercase());
            }
            if arg.is_empty() {
                kebab
            } else {
                format!("{kebab} {arg}")
            }
        }
    }
}

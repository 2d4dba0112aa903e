//! `journey run --mocks FILE`: answers for the calls of a dry run, as `journey test`'s `mock`
//! statements answer them. One JSON object per line:
//! `{"action": "Loyalty", "when": {"memberId": "LY-1"}, "answer": {...}}`, or `"error":
//! "timeout"` / `"error": "failed"` instead of `answer`. The first line whose `action` and
//! `when` (arguments by parameter name, all equal) match a call answers it.

use journey_compiler::bytecode::Program;
use journey_vm::engine::CallOutcome;
use journey_vm::value::Value;
use serde_json::Value as Json;
use std::path::Path;

/// What a mock answers.
#[derive(Debug, Clone)]
enum Answer {
    Value(Value),
    Timeout,
    Failed,
}

/// One mock line.
#[derive(Debug, Clone)]
struct Mock {
    /// Arguments that must be equal: (parameter index, value).
    when: Vec<(usize, Value)>,
    answer: Answer,
}

/// The mocks of a file, by action or data source (its index in the program).
#[derive(Debug, Default)]
pub struct Mocks {
    by_http: Vec<Vec<Mock>>,
}

impl Mocks {
    /// Reads a mocks file; every bad line is reported as `FILE:LINE: what is wrong`.
    pub fn load(path: &Path, program: &Program) -> Result<Mocks, Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("cannot read the mocks file `{}`: {e}", path.display())])?;
        let mut mocks = Mocks { by_http: vec![Vec::new(); program.http.len()] };
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match mock(line, program) {
                Ok((http, m)) => mocks.by_http[http].push(m),
                Err(why) => problems.push(format!("{}:{}: {why}", path.display(), i + 1)),
            }
        }
        if problems.is_empty() {
            Ok(mocks)
        } else {
            Err(problems)
        }
    }

    /// The answer of the first mock matching a call of `http` with `args`, if any.
    pub fn answer(&self, http: u32, args: &[Value]) -> Option<CallOutcome> {
        let found =
            self.by_http.get(http as usize)?.iter().find(|m| m.when.iter().all(|(i, v)| args.get(*i) == Some(v)))?;
        Some(match &found.answer {
            Answer::Value(v) => CallOutcome::Ok(v.clone()),
            Answer::Timeout => CallOutcome::Timeout("mocked timeout".into()),
            Answer::Failed => CallOutcome::Error("mocked failure".into()),
        })
    }
}

fn mock(line: &str, program: &Program) -> Result<(usize, Mock), String> {
    let v: Json = serde_json::from_str(line).map_err(|e| format!("not valid JSON ({e})"))?;
    let Json::Object(fields) = &v else {
        return Err("not a JSON object; write {\"action\": \"Name\", \"answer\": {...}}".into());
    };
    if let Some(k) = fields.keys().find(|k| !["action", "when", "answer", "error"].contains(&k.as_str())) {
        return Err(format!("unknown key \"{k}\"; a mock has \"action\", \"when\", and \"answer\" or \"error\""));
    }
    let Some(name) = v["action"].as_str() else {
        return Err("has no \"action\": the name of the action or data source it answers".into());
    };
    let Some(http) = program.http.iter().position(|h| h.name == name) else {
        let known: Vec<&str> = program.http.iter().map(|h| h.name.as_str()).collect();
        let hint = journey_compiler::suggest::did_you_mean(name, known).map(|h| format!("; {h}")).unwrap_or_default();
        return Err(format!("no action or data source `{name}`{hint}"));
    };
    let decl = &program.http[http];
    let mut when = Vec::new();
    match &v["when"] {
        Json::Null => {}
        Json::Object(args) => {
            for (k, arg) in args {
                let Some(i) = decl.params.iter().position(|(p, _)| p == k) else {
                    let params: Vec<&str> = decl.params.iter().map(|(p, _)| p.as_str()).collect();
                    return Err(format!("`{name}` has no parameter `{k}` (its parameters: {})", params.join(", ")));
                };
                when.push((i, Value::from_json_typed(arg, &decl.params[i].1)));
            }
        }
        _ => return Err("\"when\" must be an object of arguments by parameter name".into()),
    }
    let answer = match (fields.get("answer"), fields.get("error")) {
        (Some(a), None) => {
            let mut path = String::new();
            journey_vm::http::validate(a, &decl.returns, &mut path)
                .map_err(|e| format!("the answer does not match what `{name}` returns: {e}"))?;
            Answer::Value(Value::from_json_typed(a, &decl.returns))
        }
        (None, Some(e)) => match e.as_str() {
            Some("timeout") => Answer::Timeout,
            Some("failed") => Answer::Failed,
            _ => return Err(format!("\"error\" is \"timeout\" or \"failed\", not {e}")),
        },
        _ => return Err("give either \"answer\" or \"error\" (\"timeout\" or \"failed\")".into()),
    };
    Ok((http, Mock { when, answer }))
}

//! `journey explain`: what a diagnostic code means, an example, and the fix.

use super::{Format, FAILED, OK};
use journey_compiler::codes;

/// Arguments of `journey explain`.
#[derive(clap::Args)]
pub struct Args {
    /// The code, e.g. E0003 (without one: list every code).
    code: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Runs `journey explain`; returns the exit code.
pub fn run(args: Args) -> u8 {
    let Some(code) = args.code else {
        for c in codes::CODES {
            match args.format {
                Format::Json => println!("{}", serde_json::json!({"code": c.code, "title": c.title})),
                Format::Human => println!("{}  {}", c.code, c.title),
            }
        }
        return OK;
    };
    let Some(info) = codes::lookup(&code) else {
        let known: Vec<&str> = codes::CODES.iter().map(|c| c.code).collect();
        let hint = journey_compiler::suggest::did_you_mean(&code.to_uppercase(), known).unwrap_or_default();
        eprintln!("error: unknown diagnostic code `{code}`. {hint} Run `journey explain` to list them.");
        return FAILED;
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"code": info.code, "title": info.title, "explanation": info.explanation, "example": info.example, "fix": info.fix})
        ),
        Format::Human => {
            println!("{}: {}\n\n{}\n", info.code, info.title, info.explanation);
            if !info.example.is_empty() {
                println!("Example:\n");
                for line in info.example.lines() {
                    println!("    {line}");
                }
                println!();
            }
            println!("Fix: {}", info.fix);
        }
    }
    OK
}

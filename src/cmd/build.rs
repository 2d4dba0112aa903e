//! `journey build` and `journey disasm`: compile to a bytecode artifact, and print one.

use super::project::{compile, ProjectArgs, SchemaArgs};
use super::{FAILED, OK};
use journey_compiler::artifact;
use std::path::PathBuf;

/// Arguments of `journey build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Where to write the artifact.
    #[arg(short, long, value_name = "FILE", default_value = "journey.jbc")]
    output: PathBuf,
}

/// Runs `journey build`.
pub fn build(args: BuildArgs) -> u8 {
    let (c, program) = match compile(&args.project.paths, &args.project.schemas.dirs) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let hash = artifact::source_hash(&c.sources, &c.journey_files);
    let a = artifact::artifact(program, c.canvases(), hash);
    let bytes = artifact::to_bytes(&a);
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return FAILED;
    }
    eprintln!(
        "wrote {} ({} bytes, {} journeys, source hash {})",
        args.output.display(),
        bytes.len(),
        a.program.journeys.len(),
        &a.header.source_hash[..12]
    );
    OK
}

/// Arguments of `journey disasm`.
#[derive(clap::Args)]
pub struct DisasmArgs {
    /// An artifact written by `journey build`, or journey files / a project folder to compile.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    schemas: SchemaArgs,
}

/// Runs `journey disasm`.
pub fn disasm(args: DisasmArgs) -> u8 {
    let program = match args.paths.as_slice() {
        [one] if one.is_file() && one.extension().is_none_or(|e| e != "journey") => {
            let bytes = match std::fs::read(one) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: cannot read `{}`: {e}", one.display());
                    return FAILED;
                }
            };
            match artifact::from_bytes(&bytes) {
                Ok(a) => {
                    println!(
                        "; format {} from journey {}, sources {}",
                        a.header.format_version, a.header.tool_version, a.header.source_hash
                    );
                    a.program
                }
                Err(e) => {
                    eprintln!("error: `{}`: {e}", one.display());
                    return FAILED;
                }
            }
        }
        _ => match compile(&args.paths, &args.schemas.dirs) {
            Ok((_, p)) => p,
            Err(code) => return code,
        },
    };
    print!("{}", journey_bytecode::disasm::disassemble(&program));
    OK
}

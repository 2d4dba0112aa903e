//! Expression text through the production path: parsed and checked by the compiler, compiled to
//! bytecode, verified and run on the VM (as `journey eval` does).
#![allow(dead_code)]

use journey_compiler::sources::Sources;
use journey_compiler::types::Ty;
use journey_compiler::SchemaRegistry;
use journey_vm::library::EvalContext;
use journey_vm::machine::Expression;
use journey_vm::value::Value;
use std::sync::OnceLock;

/// The built-in schemas.
pub fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| SchemaRegistry::new(&[]).expect("built-in schemas load"))
}

/// The value of `src` with `event` and `profile` (of type `any`), or its diagnostics' messages.
pub fn vm_eval(src: &str, event: &Value, profile: &Value, ctx: &EvalContext) -> Result<Value, String> {
    let mut sources = Sources::default();
    let file = sources.add("<expr>", "<expr>".into(), src.to_string());
    let expr = journey_compiler::check_expr(&sources, file, registry(), Ty::Any, Ty::Any)
        .map_err(|d| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; "))?;
    let (program, code) = journey_compiler::codegen::compile_expr(&expr);
    let expression = Expression::load(program, code).map_err(|e| e.to_string())?;
    expression.eval(event, profile, ctx).ok_or_else(|| format!("`{src}` ran past its instruction budget"))
}

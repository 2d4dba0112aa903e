//! Journey types and the schema loader: XDM (by `$id`), JSON Schema files and the
//! standard XDM components embedded in the tool.

pub mod types;

pub use types::{FieldTy, RecordTy, Ty};

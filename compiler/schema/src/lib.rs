//! Journey types and the schema loader: XDM (by `$id`), JSON Schema files and the
//! standard XDM components embedded in the tool.
//!
//! [`SchemaRegistry`] indexes schemas by `$id` (user search paths first, then the embedded
//! components) and resolves them to [`Ty`]: [`SchemaRegistry::xdm`] composes a class with field
//! groups, [`SchemaRegistry::json_file`] reads a plain JSON Schema file. A type that contains
//! itself through `$ref` is `any` where it recurs; constructs this loader cannot type are `any`.

#![warn(missing_docs)]

mod doc;
mod embedded;
pub mod error;
mod part;
pub mod registry;
mod resolve;
pub mod types;
mod xdm;

pub use error::SchemaError;
pub use registry::{SchemaKind, SchemaRegistry};
pub use types::{FieldTy, RecordTy, Ty};

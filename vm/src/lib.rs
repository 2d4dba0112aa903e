//! The journey VM: values, the expression library, bytecode and journey instances.

#![warn(missing_docs)]

pub mod engine;
pub mod eval;
pub mod http;
pub mod json;
pub mod library;
pub mod machine;
pub mod projection;
pub mod run;
pub mod testing;
pub mod value;

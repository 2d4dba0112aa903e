//! The journey VM: values, the expression library, the bytecode interpreter and journey
//! instances. It runs compiled programs ([`journey_bytecode`]) and depends on no part of the
//! front end (grammar, checker).

#![warn(missing_docs)]

pub mod engine;
pub mod http;
pub mod json;
pub mod library;
pub mod machine;
pub mod payload;
pub mod projection;
pub mod run;
pub mod stats;
pub mod testing;
pub mod value;

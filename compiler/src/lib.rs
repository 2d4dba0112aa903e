//! The journey compiler: name resolution, type checking into a typed IR, and diagnostics.

pub use journey_schema::types;

//! The journey compiler: schema loading, name resolution, type checking and diagnostics.

pub mod types;

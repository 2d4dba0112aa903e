//! The journey VM: values, the expression library, bytecode and journey instances.

//! What names an expression can see: locals in nested blocks, `event`, `profile`, and in an
//! event's `key`/`when` the payload's fields by their bare names.

use crate::types::Ty;
use journey_grammar::ast::Span;

/// A local variable.
#[derive(Debug, Clone)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Its slot.
    pub slot: usize,
    /// Its type.
    pub ty: Ty,
    /// Where its name is declared.
    pub span: Span,
}

/// Where an expression stands, which decides what `event`, `profile` and bare names mean.
#[derive(Debug, Clone)]
pub enum Context {
    /// An event's `key`/`when`: bare names are payload fields.
    Payload(Ty),
    /// A journey body: `event` (or why it is not available) and `profile`.
    Journey { event: Result<Ty, &'static str> },
    /// An action or data source declaration: parameters and `secret()`.
    Http,
    /// A test: only literals.
    Test,
}

/// Nested block scopes of locals.
#[derive(Debug, Clone)]
pub struct Scope {
    frames: Vec<Vec<Local>>,
    next_slot: usize,
    /// The most slots in use at once.
    pub max_slots: usize,
    /// What `event`/`profile`/bare names mean.
    pub context: Context,
}

impl Scope {
    /// An empty scope in a context.
    pub fn new(context: Context) -> Self {
        Scope { frames: vec![Vec::new()], next_slot: 0, max_slots: 0, context }
    }

    /// Enters a block.
    pub fn push(&mut self) {
        self.frames.push(Vec::new());
    }

    /// Leaves a block. Slots are not reused, so a suspended instance's slots stay unambiguous.
    pub fn pop(&mut self) {
        self.frames.pop();
    }

    /// Declares a local in the innermost block and returns its slot.
    pub fn declare(&mut self, name: &str, ty: Ty, span: Span) -> usize {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.max_slots = self.max_slots.max(self.next_slot);
        if let Some(frame) = self.frames.last_mut() {
            frame.push(Local { name: name.to_string(), slot, ty, span });
        }
        slot
    }

    /// Finds the innermost local of this name.
    pub fn lookup(&self, name: &str) -> Option<&Local> {
        self.frames.iter().rev().flat_map(|f| f.iter().rev()).find(|l| l.name == name)
    }

    /// Every visible local, outermost first.
    pub fn locals(&self) -> impl Iterator<Item = &Local> {
        self.frames.iter().flatten()
    }

    /// Every visible local name, for suggestions.
    pub fn names(&self) -> Vec<&str> {
        self.frames.iter().flat_map(|f| f.iter().map(|l| l.name.as_str())).collect()
    }
}

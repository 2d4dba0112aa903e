//! The types of the journey language, shared by the schema loader, the checker and the IR.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A type of the journey language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Ty {
    /// Unknown: the type of an expression that already has an error, or of a schema part we
    /// cannot type (a recursive reference). Accepted everywhere, so one mistake reports once.
    Any,
    /// The type of the `null` literal.
    Null,
    /// `bool`.
    Bool,
    /// `int` (i64).
    Int,
    /// `number` (f64).
    Number,
    /// `string`.
    String,
    /// `date` (AJO's dateOnly).
    Date,
    /// `datetime`, with a zone offset (AJO's dateTime).
    DateTime,
    /// `localdatetime`, without a zone (AJO's dateTimeOnly).
    LocalDateTime,
    /// `time`: a time of day.
    Time,
    /// `duration`.
    Duration,
    /// `list<T>`.
    List(Box<Ty>),
    /// `map<T>`: string keys.
    Map(Box<Ty>),
    /// `{ name: T, ... }`.
    Record(Arc<RecordTy>),
    /// `T?`: may be null.
    Optional(Box<Ty>),
}

/// Field name (XDM `xdm:` prefix dropped) -> field, in declaration order. Hashed with foldhash:
/// `journey run` and `journey serve` look up every field of every event payload here, and the
/// keys are the project's own schema names (no untrusted input is inserted).
pub type Fields = IndexMap<String, FieldTy, foldhash::fast::RandomState>;

/// The fields of a record type, in declaration order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordTy {
    /// Field name (XDM `xdm:` prefix dropped) -> field.
    pub fields: Fields,
}

/// One field of a record type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldTy {
    /// The type of reading the field: already `T?` unless the schema lists it as required.
    pub ty: Ty,
    /// Whether the schema lists it as required.
    pub required: bool,
    /// The schema's `title`, for hover.
    pub title: Option<String>,
    /// The schema's `description`, for hover.
    pub description: Option<String>,
    /// The values the schema lists for it (`enum`, or the keys of `meta:enum`).
    pub enum_values: Option<Vec<String>>,
}

impl FieldTy {
    /// A field of type `ty` with no schema metadata; optional unless `required`.
    pub fn plain(ty: Ty, required: bool) -> Self {
        FieldTy {
            ty: if required { ty } else { ty.optional() },
            required,
            title: None,
            description: None,
            enum_values: None,
        }
    }
}

impl Ty {
    /// `T?` (idempotent; `null?` and `any?` stay as they are).
    pub fn optional(self) -> Ty {
        match self {
            Ty::Optional(_) | Ty::Null | Ty::Any => self,
            t => Ty::Optional(Box::new(t)),
        }
    }

    /// The type without its `?`.
    pub fn non_null(&self) -> &Ty {
        match self {
            Ty::Optional(t) => t,
            t => t,
        }
    }

    /// Whether a value of this type may be null.
    pub fn is_nullable(&self) -> bool {
        matches!(self, Ty::Optional(_) | Ty::Null | Ty::Any)
    }

    /// A record type from `(name, field)` pairs.
    pub fn record(fields: impl IntoIterator<Item = (String, FieldTy)>) -> Ty {
        Ty::Record(Arc::new(RecordTy { fields: fields.into_iter().collect() }))
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Any => write!(f, "any"),
            Ty::Null => write!(f, "null"),
            Ty::Bool => write!(f, "bool"),
            Ty::Int => write!(f, "int"),
            Ty::Number => write!(f, "number"),
            Ty::String => write!(f, "string"),
            Ty::Date => write!(f, "date"),
            Ty::DateTime => write!(f, "datetime"),
            Ty::LocalDateTime => write!(f, "localdatetime"),
            Ty::Time => write!(f, "time"),
            Ty::Duration => write!(f, "duration"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Map(t) => write!(f, "map<{t}>"),
            Ty::Record(r) => {
                // Long XDM records would flood a message: show the first few fields.
                write!(f, "{{ ")?;
                for (i, (name, field)) in r.fields.iter().take(4).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{name}: {}", field.ty)?;
                }
                if r.fields.len() > 4 {
                    write!(f, ", ...")?;
                }
                write!(f, " }}")
            }
            Ty::Optional(t) => write!(f, "{t}?"),
        }
    }
}

//! The intermediate form of a schema node while `allOf`, `$ref` and field groups are merged:
//! objects keep their fields' base types and `required` flags until the record is built.

use crate::types::{FieldTy, RecordTy, Ty};
use indexmap::IndexMap;
use std::sync::Arc;

/// What one schema node says about a value, before it becomes a [`Ty`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Part {
    pub kind: Kind,
    /// `Some(true)` when the schema allows null (`"type": [.., "null"]`, `anyOf` with null),
    /// `Some(false)` when it names a type without null, `None` when it says nothing.
    pub nullable: Option<bool>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub enum_values: Option<Vec<String>>,
    /// The finished type, once computed (cleared by anything that changes the type).
    pub ty: Option<Ty>,
}

/// The shape of a node.
#[derive(Debug, Clone, Default)]
pub(crate) enum Kind {
    /// No constraint (an empty schema, or one we cannot type).
    #[default]
    Any,
    /// An object: a record, or a map when it has only `additionalProperties`.
    Object(Arc<Obj>),
    /// Any other type (already finished).
    Ty(Ty),
}

/// An object schema's fields, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj {
    pub fields: IndexMap<String, Field>,
    /// The value type of `additionalProperties` when it is a schema.
    pub additional: Option<Ty>,
    /// `meta:xdmType: map`.
    pub map: bool,
    /// `additionalProperties: false`.
    pub closed: bool,
    /// Names listed in `required` that are not fields (yet): an `allOf` sibling may bring them.
    pub pending: Vec<String>,
}

/// One field while merging: its type without the `?` that optionality adds.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub base: Ty,
    pub required: bool,
    pub title: Option<String>,
    pub description: Option<String>,
    pub enum_values: Option<Vec<String>>,
}

impl Part {
    /// A part of a finished type.
    pub(crate) fn of(ty: Ty) -> Part {
        Part { kind: Kind::Ty(ty), ..Part::default() }
    }

    /// Whether the part says nothing about the type (only, perhaps, a title).
    fn neutral(&self) -> bool {
        matches!(self.kind, Kind::Any) && self.nullable.is_none()
    }

    /// Whether the part describes an object.
    pub(crate) fn is_object(&self) -> bool {
        matches!(self.kind, Kind::Object(_))
    }

    /// The conjunction of two parts (`allOf`): objects merge their fields, the first wins for
    /// metadata and for types that disagree.
    pub(crate) fn and(self, other: Part) -> Part {
        let (a_neutral, b_neutral) = (self.neutral(), other.neutral());
        let title = self.title.or(other.title);
        let description = self.description.or(other.description);
        let enum_values = self.enum_values.or(other.enum_values);
        let (kind, nullable, ty) = if b_neutral {
            (self.kind, self.nullable, self.ty)
        } else if a_neutral {
            (other.kind, other.nullable, other.ty)
        } else {
            let nullable = match (self.nullable, other.nullable) {
                (Some(a), Some(b)) => Some(a && b),
                (a, b) => a.or(b),
            };
            let kind = match (self.kind, other.kind) {
                (Kind::Any, k) | (k, Kind::Any) => k,
                (Kind::Object(mut a), Kind::Object(b)) => {
                    Arc::make_mut(&mut a).merge(&b);
                    Kind::Object(a)
                }
                (Kind::Ty(a), Kind::Ty(b)) => Kind::Ty(merge_ty(a, b)),
                (k, _) => k,
            };
            (kind, nullable, None)
        };
        Part { kind, nullable, title, description, enum_values, ty }
    }

    /// Marks the named fields required (the node's `required` list).
    pub(crate) fn require<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        let mut names = names.peekable();
        if names.peek().is_none() {
            return;
        }
        if matches!(self.kind, Kind::Any) {
            // `{"required": [..]}` alone still constrains the object it is merged with.
            self.kind = Kind::Object(Arc::default());
        }
        if let Kind::Object(obj) = &mut self.kind {
            let obj = Arc::make_mut(obj);
            for n in names {
                match obj.fields.get_mut(n) {
                    Some(f) => f.required = true,
                    None if !obj.pending.iter().any(|p| p == n) => obj.pending.push(n.to_string()),
                    None => {}
                }
            }
            self.ty = None;
        }
    }

    /// The finished type, `T?` when the schema allows null.
    pub(crate) fn finish(&self) -> Ty {
        if let Some(t) = &self.ty {
            return t.clone();
        }
        let base = self.finish_base();
        if self.nullable == Some(true) {
            base.optional()
        } else {
            base
        }
    }

    /// The finished type, ignoring null (for a class: the payload itself is never null).
    pub(crate) fn finish_base(&self) -> Ty {
        match &self.kind {
            Kind::Any => Ty::Any,
            Kind::Ty(t) => t.clone(),
            Kind::Object(o) => o.finish(),
        }
    }

    /// This part as a field of a record.
    pub(crate) fn into_field(self) -> Field {
        Field {
            base: self.finish(),
            required: false,
            title: self.title,
            description: self.description,
            enum_values: self.enum_values,
        }
    }
}

impl Obj {
    /// Adds a field, merging it with one of the same name.
    pub(crate) fn insert(&mut self, name: &str, field: Field) {
        match self.fields.get_mut(name) {
            Some(old) => {
                let base = std::mem::replace(&mut old.base, Ty::Any);
                old.base = merge_ty(base, field.base);
                old.required |= field.required;
                old.title = old.title.take().or(field.title);
                old.description = old.description.take().or(field.description);
                old.enum_values = old.enum_values.take().or(field.enum_values);
            }
            None => {
                self.fields.insert(name.to_string(), field);
            }
        }
    }

    fn merge(&mut self, other: &Obj) {
        for (name, f) in &other.fields {
            self.insert(name, f.clone());
        }
        if self.additional.is_none() {
            self.additional = other.additional.clone();
        }
        self.map |= other.map;
        self.closed |= other.closed;
        self.pending.extend(other.pending.iter().cloned());
        let fields = &mut self.fields;
        self.pending.retain(|n| match fields.get_mut(n) {
            Some(f) => {
                f.required = true;
                false
            }
            None => true,
        });
    }

    /// A record if it has fields; a map for `meta:xdmType: map`, for `additionalProperties`
    /// alone, and for an object that says nothing of its fields.
    fn finish(&self) -> Ty {
        if self.map || (self.fields.is_empty() && !self.closed) {
            return Ty::Map(Box::new(self.additional.clone().unwrap_or(Ty::Any)));
        }
        Ty::Record(Arc::new(RecordTy {
            fields: self
                .fields
                .iter()
                .map(|(name, f)| {
                    let ty = if f.required { f.base.clone() } else { f.base.clone().optional() };
                    let field = FieldTy {
                        ty,
                        required: f.required,
                        title: f.title.clone(),
                        description: f.description.clone(),
                        enum_values: f.enum_values.clone(),
                    };
                    (name.clone(), field)
                })
                .collect(),
        }))
    }
}

/// The conjunction of two finished types: records merge their fields (a field required on
/// either side is required), lists and maps merge their elements, `any` gives way, and
/// otherwise the first wins.
pub(crate) fn merge_ty(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (Ty::Any, t) | (t, Ty::Any) => t,
        (Ty::Optional(a), Ty::Optional(b)) => merge_ty(*a, *b).optional(),
        (Ty::Optional(a), b) => merge_ty(*a, b),
        (a, Ty::Optional(b)) => merge_ty(a, *b),
        (Ty::List(a), Ty::List(b)) => Ty::List(Box::new(merge_ty(*a, *b))),
        (Ty::Map(a), Ty::Map(b)) => Ty::Map(Box::new(merge_ty(*a, *b))),
        (Ty::Record(a), Ty::Record(b)) => {
            let mut fields = a.fields.clone();
            for (name, f) in &b.fields {
                match fields.get_mut(name) {
                    Some(old) => {
                        let required = old.required || f.required;
                        let ty = merge_ty(old.ty.non_null().clone(), f.ty.non_null().clone());
                        old.ty = if required { ty } else { ty.optional() };
                        old.required = required;
                        old.title = old.title.take().or(f.title.clone());
                        old.description = old.description.take().or(f.description.clone());
                        old.enum_values = old.enum_values.take().or(f.enum_values.clone());
                    }
                    None => {
                        fields.insert(name.clone(), f.clone());
                    }
                }
            }
            Ty::Record(Arc::new(RecordTy { fields }))
        }
        (a, _) => a,
    }
}

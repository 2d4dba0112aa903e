//! XDM specifics: what kind of schema an `$id` is, and how XDM names fields.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// What an XDM `$id` describes, so a checker can say "this `$id` is a data type, not a class".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaKind {
    /// A class (`classes/`, or `meta:extends` a behavior): the base of an event or profile schema.
    Class,
    /// A field group, formerly mixin (`fieldgroups/`, or has `meta:intendedToExtend`).
    FieldGroup,
    /// A data type (`datatypes/`): the type of a field, not a schema of its own.
    DataType,
    /// A behavior (`behaviors/`: record, time-series, adhoc).
    Behavior,
    /// A composed schema exported from Adobe Experience Platform (has `meta:class`).
    Schema,
    /// Any other JSON Schema with an `$id`.
    Other,
}

impl fmt::Display for SchemaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemaKind::Class => "class",
            SchemaKind::FieldGroup => "field group",
            SchemaKind::DataType => "data type",
            SchemaKind::Behavior => "behavior",
            SchemaKind::Schema => "composed schema",
            SchemaKind::Other => "plain schema",
        })
    }
}

/// The top-level keys of a schema file that the index needs (the rest is skipped unparsed).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Header {
    #[serde(rename = "$id", default, deserialize_with = "string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string")]
    pub title: Option<String>,
    #[serde(rename = "meta:extends", default)]
    pub extends: Option<Value>,
    #[serde(rename = "meta:intendedToExtend", default)]
    pub intended_to_extend: Option<Value>,
    #[serde(rename = "meta:resourceType", default, deserialize_with = "string")]
    pub resource_type: Option<String>,
    #[serde(rename = "meta:class", default)]
    pub class: Option<Value>,
}

/// Reads a string, and anything else as absent (a header never fails on odd values).
fn string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// The behaviors a class extends.
const BEHAVIORS: [&str; 3] = [
    "https://ns.adobe.com/xdm/data/record",
    "https://ns.adobe.com/xdm/data/time-series",
    "https://ns.adobe.com/xdm/data/adhoc",
];

impl Header {
    /// The header of an already parsed file.
    pub(crate) fn of(v: &Value) -> Header {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let g = |k: &str| v.get(k).cloned();
        Header {
            id: s("$id"),
            title: s("title"),
            extends: g("meta:extends"),
            intended_to_extend: g("meta:intendedToExtend"),
            resource_type: s("meta:resourceType"),
            class: g("meta:class"),
        }
    }

    /// The `$id`s listed in `meta:intendedToExtend` (the classes a field group is for).
    pub(crate) fn intended(&self) -> Vec<String> {
        strings(self.intended_to_extend.as_ref())
    }

    /// The kind of schema: from `meta:resourceType`, then the folder (`classes/`, `fieldgroups/`,
    /// `mixins/`, `datatypes/`, `behaviors/`), then `meta:intendedToExtend`, `meta:class` and
    /// `meta:extends`.
    pub(crate) fn kind(&self, path: &str) -> SchemaKind {
        let by_name = |name: &str| match name {
            "classes" => Some(SchemaKind::Class),
            "fieldgroups" | "mixins" => Some(SchemaKind::FieldGroup),
            "datatypes" => Some(SchemaKind::DataType),
            "behaviors" => Some(SchemaKind::Behavior),
            "schemas" => Some(SchemaKind::Schema),
            _ => None,
        };
        if let Some(k) = self.resource_type.as_deref().and_then(by_name) {
            return k;
        }
        let folder = path.split(['/', '\\']).rev().skip(1).find_map(by_name);
        if let Some(k) = folder.filter(|k| *k != SchemaKind::Schema) {
            return k;
        }
        if self.intended_to_extend.is_some() {
            return SchemaKind::FieldGroup;
        }
        if self.class.is_some() {
            return SchemaKind::Schema;
        }
        let extends = strings(self.extends.as_ref());
        if extends.iter().any(|e| BEHAVIORS.contains(&e.as_str())) {
            return SchemaKind::Class;
        }
        SchemaKind::Other
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The journey name of an XDM field: `xdm:` is dropped, other prefixes (`repo:`, `@id`) stay.
pub(crate) fn field_name(raw: &str) -> &str {
    raw.strip_prefix("xdm:").unwrap_or(raw)
}

/// Whether a plain JSON Schema file reads like XDM (has `meta:` keys at its root), so its
/// fields drop the `xdm:` prefix too.
pub(crate) fn looks_like_xdm(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.keys().any(|k| k.starts_with("meta:")))
}

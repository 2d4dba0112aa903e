//! Turns JSON Schema nodes (XDM or plain) into [`Part`]s: `$ref`, `allOf`, `anyOf`/`oneOf`,
//! `type`, `properties`, `items`, `additionalProperties`, `enum`, `meta:enum`, `meta:xdmType`.
//!
//! A `$ref` that leads back to a node still being resolved (a type containing itself) becomes
//! `any` at that point; anything else this loader cannot type also becomes `any`.

use crate::doc::{Doc, DocKey};
use crate::error::SchemaError;
use crate::part::{Kind, Obj, Part};
use crate::registry::SchemaRegistry;
use crate::types::Ty;
use crate::xdm::field_name;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Nested `$ref`s deeper than this become `any` (a guard against pathological schemas).
const MAX_REFS: usize = 48;

/// `$ref`s one resolution may expand before the rest become `any`: recursive schemas whose
/// parts cannot be cached could otherwise take exponential time. Composing a standard XDM
/// class with all its field groups takes well under a thousand.
const BUDGET: usize = 50_000;

/// A node of a schema file, as a cache key: the file, the JSON pointer, and whether field names
/// are XDM names.
pub(crate) type NodeKey = (DocKey, String, bool);

/// One resolution (one `xdm()` or `json_file()` call): the `$ref`s being resolved, to cut cycles.
pub(crate) struct Resolver<'r> {
    reg: &'r SchemaRegistry,
    xdm: bool,
    stack: Vec<NodeKey>,
    /// The shallowest stack index a cycle was cut at since the current frame began: a frame
    /// whose result depends on a cut below it is not cached.
    min_cut: usize,
    /// `$ref`s left to expand (see [`BUDGET`]).
    budget: usize,
}

impl<'r> Resolver<'r> {
    /// A resolver; `xdm` drops the `xdm:` prefix of field names.
    pub(crate) fn new(reg: &'r SchemaRegistry, xdm: bool) -> Self {
        Resolver { reg, xdm, stack: Vec::new(), min_cut: usize::MAX, budget: BUDGET }
    }

    /// The whole file `doc`, cached.
    pub(crate) fn root(&mut self, doc: &Arc<Doc>) -> Result<Part, SchemaError> {
        self.at(doc, String::new(), &doc.value)
    }

    /// The node at `pointer` in `doc` (which is `node`), cached, with cycles cut to `any`.
    fn at(&mut self, doc: &Arc<Doc>, pointer: String, node: &Value) -> Result<Part, SchemaError> {
        let key: NodeKey = (doc.key.clone(), pointer, self.xdm);
        if let Some(p) = self.reg.cached_part(&key) {
            return Ok(p);
        }
        if let Some(i) = self.stack.iter().position(|k| *k == key) {
            self.min_cut = self.min_cut.min(i);
            return Ok(Part::default());
        }
        if self.stack.len() >= MAX_REFS || self.budget == 0 {
            self.min_cut = 0;
            return Ok(Part::default());
        }
        self.budget -= 1;
        let depth = self.stack.len();
        self.stack.push(key);
        let outer_cut = std::mem::replace(&mut self.min_cut, usize::MAX);
        let result = self.node(doc, node);
        let key = self.stack.pop().expect("pushed above");
        let cut = self.min_cut;
        self.min_cut = outer_cut.min(cut);
        let mut part = result?;
        part.ty = Some(part.finish());
        if cut >= depth {
            self.reg.cache_part(key, part.clone());
        }
        Ok(part)
    }

    /// One schema node.
    pub(crate) fn node(&mut self, doc: &Arc<Doc>, v: &Value) -> Result<Part, SchemaError> {
        let Value::Object(m) = v else {
            return Ok(Part::default());
        };
        let mut part = self.local(doc, m)?;
        if let Some(Value::String(r)) = m.get("$ref") {
            part = part.and(self.reference(doc, r)?);
        }
        if let Some(Value::Array(all)) = m.get("allOf") {
            for s in all {
                part = part.and(self.node(doc, s)?);
            }
        }
        for k in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alts)) = m.get(k) {
                part = part.and(self.union(doc, alts)?);
            }
        }
        if let Some(Value::Array(req)) = m.get("required") {
            let xdm = self.xdm;
            part.require(req.iter().filter_map(Value::as_str).map(|n| name(xdm, n)));
        }
        Ok(part)
    }

    /// The keywords of the node itself: metadata, `type`, `properties`, `items`.
    fn local(&mut self, doc: &Arc<Doc>, m: &Map<String, Value>) -> Result<Part, SchemaError> {
        let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
        let mut part = Part {
            title: text("title"),
            description: text("description"),
            enum_values: enum_values(m),
            ..Part::default()
        };
        let mut types: Vec<&str> = match m.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let null = types.contains(&"null") || m.get("nullable") == Some(&Value::Bool(true));
        if !types.is_empty() || null {
            part.nullable = Some(null);
        }
        types.retain(|t| *t != "null");
        let xdm_type = m.get("meta:xdmType").and_then(Value::as_str);
        let name = match (xdm_type, types.as_slice()) {
            (Some(x), _) => x,
            (None, [t]) => t,
            (None, [_, _, ..]) => return Ok(part),
            (None, []) if types_of_keywords(m, "object") => "object",
            (None, []) if types_of_keywords(m, "array") => "array",
            (None, []) if part.enum_values.is_some() && m.contains_key("enum") => "string",
            (None, []) if m.get("const").is_some_and(Value::is_string) => "string",
            (None, []) if null => "null",
            (None, []) => return Ok(part),
        };
        part.kind = match name {
            "string" => Kind::Ty(string_format(m)),
            "date" => Kind::Ty(Ty::Date),
            "date-time" => Kind::Ty(Ty::DateTime),
            "integer" | "long" | "int" | "short" | "byte" => Kind::Ty(Ty::Int),
            "number" | "double" | "float" => Kind::Ty(Ty::Number),
            "boolean" => Kind::Ty(Ty::Bool),
            "null" => Kind::Ty(Ty::Null),
            "array" => Kind::Ty(Ty::List(Box::new(self.items(doc, m)?))),
            "object" | "map" => Kind::Object(Arc::new(self.object(doc, m, name == "map")?)),
            _ => Kind::Any,
        };
        Ok(part)
    }

    fn items(&mut self, doc: &Arc<Doc>, m: &Map<String, Value>) -> Result<Ty, SchemaError> {
        Ok(match m.get("items") {
            Some(items @ Value::Object(_)) => self.node(doc, items)?.finish(),
            _ => Ty::Any,
        })
    }

    fn object(&mut self, doc: &Arc<Doc>, m: &Map<String, Value>, map: bool) -> Result<Obj, SchemaError> {
        let mut obj = Obj { map, ..Obj::default() };
        if let Some(Value::Object(props)) = m.get("properties") {
            for (raw, s) in props {
                let field = self.node(doc, s)?.into_field();
                obj.insert(name(self.xdm, raw), field);
            }
        }
        match m.get("additionalProperties") {
            Some(ap @ Value::Object(_)) => obj.additional = Some(self.node(doc, ap)?.finish()),
            Some(Value::Bool(false)) => obj.closed = true,
            _ => {}
        }
        Ok(obj)
    }

    /// `anyOf`/`oneOf`: null alternatives make the rest nullable; one remaining alternative (or
    /// several of the same type) is the type; different types are `any`.
    fn union(&mut self, doc: &Arc<Doc>, alts: &[Value]) -> Result<Part, SchemaError> {
        let mut null = false;
        let mut rest = Vec::new();
        for a in alts {
            let p = self.node(doc, a)?;
            if matches!(p.kind, Kind::Ty(Ty::Null)) {
                null = true;
            } else {
                rest.push(p);
            }
        }
        let mut part = match rest.len() {
            0 if null => Part::of(Ty::Null),
            0 => Part::default(),
            1 => rest.pop().unwrap_or_default(),
            _ => {
                let ty = rest[0].finish();
                if rest.iter().all(|p| p.finish() == ty) {
                    let enums: Option<Vec<Vec<String>>> = rest.iter().map(|p| p.enum_values.clone()).collect();
                    let mut p = rest.swap_remove(0);
                    p.enum_values = enums.map(|e| e.concat());
                    p
                } else {
                    Part::default()
                }
            }
        };
        if null {
            part.nullable = Some(true);
            part.ty = None;
        }
        Ok(part)
    }

    /// A `$ref`: by `$id` (absolute, or relative to the file's `$id`), to a file next to this
    /// one, and/or to a fragment (`#/definitions/x`, `#/$defs/x`, `#anchor`).
    fn reference(&mut self, doc: &Arc<Doc>, r: &str) -> Result<Part, SchemaError> {
        let unresolved =
            |suggestion| SchemaError::UnresolvedRef { path: doc.key.display(), reference: r.to_string(), suggestion };
        let (base, fragment) = r.split_once('#').unwrap_or((r, ""));
        let target = if base.is_empty() { doc.clone() } else { self.reg.doc_for_ref(doc, base, r)? };
        let fragment = percent_decode(fragment);
        let (pointer, node) = if fragment.is_empty() || fragment.starts_with('/') {
            (fragment.clone(), target.value.pointer(&fragment))
        } else {
            match find_anchor(&target.value, &fragment, "") {
                Some((p, v)) => (p, Some(v)),
                None => (fragment.clone(), None),
            }
        };
        let Some(node) = node else {
            return Err(unresolved(None));
        };
        self.at(&target, pointer, node)
    }
}

fn name(xdm: bool, raw: &str) -> &str {
    if xdm {
        field_name(raw)
    } else {
        raw
    }
}

/// Whether the keywords imply a type: `properties`/`additionalProperties` an object, `items` an array.
fn types_of_keywords(m: &Map<String, Value>, t: &str) -> bool {
    match t {
        "object" => ["properties", "additionalProperties", "patternProperties"].iter().any(|k| m.contains_key(*k)),
        _ => m.contains_key("items") || m.contains_key("prefixItems"),
    }
}

fn string_format(m: &Map<String, Value>) -> Ty {
    match m.get("format").and_then(Value::as_str) {
        Some("date") => Ty::Date,
        Some("date-time") => Ty::DateTime,
        _ => Ty::String,
    }
}

/// The string values of `enum` (or `const`), else the keys of `meta:enum`.
fn enum_values(m: &Map<String, Value>) -> Option<Vec<String>> {
    let strings = |a: &Vec<Value>| a.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>();
    let values = match (m.get("enum"), m.get("const"), m.get("meta:enum")) {
        (Some(Value::Array(a)), _, _) => strings(a),
        (_, Some(Value::String(c)), _) => vec![c.clone()],
        (_, _, Some(Value::Object(o))) => o.keys().cloned().collect(),
        _ => return None,
    };
    (!values.is_empty()).then_some(values)
}

/// Decodes `%xx` escapes in a `$ref` fragment.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subschema with `"$anchor": name` (or a draft-06 `"$id": "#name"`), and its pointer.
fn find_anchor<'v>(v: &'v Value, name: &str, at: &str) -> Option<(String, &'v Value)> {
    match v {
        Value::Object(m) => {
            let hit = m.get("$anchor").and_then(Value::as_str) == Some(name)
                || m.get("$id").and_then(Value::as_str).and_then(|i| i.strip_prefix('#')) == Some(name);
            if hit {
                return Some((at.to_string(), v));
            }
            m.iter()
                .find_map(|(k, c)| find_anchor(c, name, &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"))))
        }
        Value::Array(a) => a.iter().enumerate().find_map(|(i, c)| find_anchor(c, name, &format!("{at}/{i}"))),
        _ => None,
    }
}

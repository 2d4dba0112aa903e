//! Every standard XDM component embedded in the tool resolves to a type.

use journey_schema::{SchemaKind, SchemaRegistry, Ty};

#[test]
fn every_embedded_component_resolves() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let ids: Vec<&str> = reg.ids().collect();
    assert!(ids.len() > 400, "only {} embedded $ids", ids.len());
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for id in &ids {
        let kind = reg.kind(id).unwrap();
        *counts.entry(kind.to_string()).or_insert(0) += 1;
        match reg.xdm(id, &[]) {
            Err(e) => failures.push(format!("{kind} {id}: {e} ({})", e.help())),
            Ok(ty @ Ty::Record(_)) if !fields_of(&ty).is_empty() => {
                let mut anys = Vec::new();
                walk_any(&ty, "", &mut anys, 0);
                if !anys.is_empty() {
                    failures.push(format!("{kind} {id}: `any` at {}", anys.join(", ")));
                }
            }
            // The adhoc behavior has no fields of its own; data types may be plain values.
            Ok(_) if matches!(kind, SchemaKind::Behavior | SchemaKind::DataType) => {}
            Ok(ty) => failures.push(format!("{kind} {id}: not a record with fields but {ty}")),
        }
    }
    for kind in ["class", "field group", "data type", "behavior"] {
        assert!(counts.get(kind).is_some_and(|n| *n > 0), "no {kind} in {counts:?}");
    }
    assert!(failures.is_empty(), "{} of {} do not resolve:\n{}", failures.len(), ids.len(), failures.join("\n"));
}

#[test]
fn every_class_composes_with_all_its_field_groups() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let classes: Vec<&str> = reg.ids().filter(|id| reg.kind(id) == Some(SchemaKind::Class)).collect();
    let mut failures = Vec::new();
    let mut composed = 0;
    for class in classes {
        let groups: Vec<&str> = reg.field_groups_for(class).collect();
        let base = match reg.xdm(class, &[]) {
            Ok(Ty::Record(r)) => r.fields.len(),
            other => panic!("{class}: {other:?}"),
        };
        match reg.xdm(class, &groups) {
            Ok(Ty::Record(r)) if r.fields.len() >= base => composed += groups.len(),
            Ok(ty) => failures.push(format!("{class} + {} field groups: {ty}", groups.len())),
            Err(e) => failures.push(format!("{class} + {} field groups: {e}", groups.len())),
        }
    }
    assert!(composed > 150, "only {composed} field groups composed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn fields_of(ty: &Ty) -> Vec<&str> {
    match ty {
        Ty::Record(r) => r.fields.keys().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The paths of the fields typed `any` (nothing in the standard components needs it).
fn walk_any(ty: &Ty, path: &str, out: &mut Vec<String>, depth: usize) {
    match ty.non_null() {
        _ if depth > 16 => {}
        Ty::Any => out.push(path.to_string()),
        Ty::List(t) => walk_any(t, &format!("{path}[]"), out, depth + 1),
        Ty::Map(t) if **t != Ty::Any => walk_any(t, &format!("{path}{{}}"), out, depth + 1),
        Ty::Record(r) => {
            for (name, f) in &r.fields {
                walk_any(&f.ty, &format!("{path}.{name}"), out, depth + 1);
            }
        }
        _ => {}
    }
}

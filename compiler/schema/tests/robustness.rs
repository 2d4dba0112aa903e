//! Odd, malformed and pathological schemas degrade to `any`; they never panic or hang.

use journey_schema::{SchemaRegistry, Ty};
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Writes `schema` to a fresh file under the test's temporary folder.
fn write(name: &str, schema: &Value) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("journey-schema-robustness");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(schema).unwrap()).unwrap();
    path
}

fn field(ty: &Ty, name: &str) -> Ty {
    match ty.non_null() {
        Ty::Record(r) => r.fields.get(name).unwrap_or_else(|| panic!("no {name}")).ty.clone(),
        t => panic!("{t} is not a record"),
    }
}

#[test]
fn malformed_keywords_degrade() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let ty = reg.json_file(&fixture("json/weird.json")).unwrap();
    let any_list = Ty::List(Box::new(Ty::Any)).optional();
    let cases = [
        ("badType", Ty::Any),
        ("badProps", Ty::Map(Box::new(Ty::Any)).optional()),
        ("badItems", any_list.clone()),
        ("badRef", Ty::Any),
        ("badAllOf", Ty::Any),
        ("badEnum", Ty::String.optional()),
        ("numberEnum", Ty::Int.optional()),
        ("unknownType", Ty::Any),
        ("tuple", any_list.clone()),
        ("prefixItems", any_list),
        ("boolSchema", Ty::Any),
        ("notSchema", Ty::Any),
        ("ifThen", Ty::Any),
        ("emptyAllOf", Ty::Any),
        ("onlyNull", Ty::Null),
        ("nullOrNothing", Ty::Null),
        ("twoRecords", Ty::Any),
        ("sameTypes", Ty::String.optional()),
        ("patternOnly", Ty::Map(Box::new(Ty::Any)).optional()),
        ("closed", Ty::record([]).optional()),
        ("xdmLong", Ty::Int.optional()),
        ("xdmDate", Ty::Date.optional()),
        ("time", Ty::String.optional()),
        ("anchor", Ty::Number.optional()),
        ("encoded", Ty::Bool.optional()),
        ("escaped", Ty::Int.optional()),
    ];
    for (name, want) in cases {
        assert_eq!(field(&ty, name), want, "{name}");
    }
}

#[test]
fn long_ref_chain_is_cut() {
    let mut defs = serde_json::Map::new();
    for i in 0..300 {
        defs.insert(format!("d{i}"), json!({ "$ref": format!("#/$defs/d{}", i + 1) }));
    }
    defs.insert("d300".into(), json!({ "type": "string" }));
    let path = write("chain.json", &json!({ "properties": { "x": { "$ref": "#/$defs/d0" } }, "$defs": defs }));
    let reg = SchemaRegistry::new(&[]).unwrap();
    assert_eq!(field(&reg.json_file(&path).unwrap(), "x"), Ty::Any);
    // Entered closer to the end, the same chain resolves.
    let path = write("chain2.json", &json!({ "properties": { "x": { "$ref": "#/$defs/d290" } }, "$defs": defs }));
    assert_eq!(field(&reg.json_file(&path).unwrap(), "x"), Ty::String.optional());
}

#[test]
fn recursive_diamonds_finish() {
    // Each definition refers to the next twice, and the last to the first: nothing below the
    // cycle can be cached, so without a budget this would take 2^30 steps.
    let n = 30;
    let mut defs = serde_json::Map::new();
    for i in 0..n {
        let next = format!("#/$defs/d{}", (i + 1) % n);
        defs.insert(
            format!("d{i}"),
            json!({ "type": "object", "properties": { "a": { "$ref": next }, "b": { "$ref": next } } }),
        );
    }
    let path = write("diamonds.json", &json!({ "$ref": "#/$defs/d0", "$defs": defs }));
    let reg = SchemaRegistry::new(&[]).unwrap();
    let start = std::time::Instant::now();
    let ty = reg.json_file(&path).unwrap();
    assert!(matches!(field(&ty, "a").non_null(), Ty::Record(_)));
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
}

#[test]
fn deep_inline_nesting() {
    let mut schema = json!({ "type": "string" });
    for _ in 0..60 {
        schema = json!({ "type": "object", "properties": { "n": schema } });
    }
    let path = write("deep.json", &schema);
    let reg = SchemaRegistry::new(&[]).unwrap();
    let mut ty = reg.json_file(&path).unwrap();
    for _ in 0..60 {
        ty = field(&ty, "n");
    }
    assert_eq!(ty, Ty::String.optional());
}

//! Plain JSON Schema files: `$defs`/`definitions`, references across files, `required`,
//! formats, `additionalProperties`, nullable `anyOf`/`oneOf`, recursion.

use journey_schema::{FieldTy, SchemaRegistry, Ty};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fields(ty: &Ty) -> &journey_schema::types::Fields {
    match ty.non_null() {
        Ty::Record(r) => &r.fields,
        t => panic!("{t} is not a record"),
    }
}

fn get<'a>(ty: &'a Ty, name: &str) -> &'a FieldTy {
    fields(ty).get(name).unwrap_or_else(|| panic!("no `{name}` in {ty}"))
}

fn opt(t: Ty) -> Ty {
    t.optional()
}

#[test]
fn order_schema() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let order = reg.json_file(&fixture("json/order.schema.json")).unwrap();

    let id = get(&order, "orderId");
    assert!(id.required);
    assert_eq!(id.ty, Ty::String);
    assert_eq!(id.title.as_deref(), Some("Order ID"));
    assert_eq!(id.description.as_deref(), Some("The shop's order number."));
    assert_eq!(get(&order, "placedAt").ty, Ty::DateTime);
    assert_eq!(get(&order, "deliveryDate").ty, opt(Ty::Date));
    let status = get(&order, "status");
    assert_eq!(status.ty, opt(Ty::String));
    assert_eq!(status.enum_values.as_deref().unwrap(), ["placed", "shipped", "delivered"]);

    // $defs, required inside a list's records.
    let Ty::List(item) = &get(&order, "items").ty else { panic!("items") };
    assert_eq!(get(item, "sku").ty, Ty::String);
    assert_eq!(get(item, "quantity").ty, Ty::Int);
    // A file in a subfolder, and its `../` reference back.
    let price = &get(item, "price").ty;
    assert_eq!(get(price, "amount").ty, Ty::Number);
    let currency = get(price, "currency");
    assert_eq!(currency.ty, Ty::String);
    assert_eq!(currency.enum_values.as_deref().unwrap(), ["EUR", "USD"]);
    assert_eq!(get(price, "payer").ty, opt(Ty::String));
    assert_eq!(get(&order, "total").ty, get(item, "price").ty);

    // A whole file, and a definition in it (`$defs` pointing on to `definitions`).
    let customer = &get(&order, "customer").ty;
    assert_eq!(get(customer, "email").ty, Ty::String);
    let tier = get(customer, "tier");
    assert_eq!(tier.ty, opt(Ty::String));
    assert_eq!(tier.enum_values.as_deref().unwrap(), ["gold", "silver"]);
    assert_eq!(get(&get(customer, "home").ty, "city").ty, Ty::String);
    let ship_to = &get(&order, "shipTo").ty;
    assert_eq!(get(ship_to, "city").ty, Ty::String);
    assert_eq!(get(ship_to, "zip").ty, opt(Ty::String));

    // Nullable unions, const unions.
    assert_eq!(get(&order, "note").ty, opt(Ty::String));
    assert_eq!(get(&get(&order, "coupon").ty, "code").ty, opt(Ty::String));
    let channel = get(&order, "channel");
    assert_eq!(channel.ty, opt(Ty::String));
    assert_eq!(channel.enum_values.as_deref().unwrap(), ["web", "store"]);

    // Maps, open objects, type arrays.
    assert_eq!(get(&order, "attributes").ty, opt(Ty::Map(Box::new(Ty::String))));
    assert_eq!(get(&order, "metadata").ty, opt(Ty::Map(Box::new(Ty::Any))));
    assert_eq!(get(&order, "weight").ty, opt(Ty::Number));
    assert_eq!(get(&order, "gift").ty, opt(Ty::Bool));
    assert_eq!(get(&order, "tags").ty, opt(Ty::List(Box::new(Ty::String))));
    assert_eq!(get(&order, "anything").ty, Ty::Any);
    assert_eq!(get(&order, "mixed").ty, Ty::Any);
    // A plain JSON Schema keeps `xdm:` prefixes.
    assert!(fields(&order).contains_key("xdm:source"));
    // `$ref: "#"` recurs into the schema itself: `any` at that point.
    assert_eq!(get(&order, "replaces").ty, Ty::Any);
}

#[test]
fn recursive_definition_is_any_where_it_recurs() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let tree = reg.json_file(&fixture("json/tree.json")).unwrap();
    assert_eq!(get(&tree, "name").ty, opt(Ty::String));
    assert_eq!(get(&tree, "children").ty, opt(Ty::List(Box::new(Ty::Any))));
}

#[test]
fn all_of_merges_properties_and_required() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let ty = reg.json_file(&fixture("json/allof.json")).unwrap();
    assert_eq!(get(&ty, "id").ty, Ty::String, "required by the other allOf member");
    assert_eq!(get(&ty, "kind").ty, Ty::String);
    let nested = &get(&ty, "nested").ty;
    assert_eq!(get(nested, "a").ty, opt(Ty::String));
    assert_eq!(get(nested, "b").ty, opt(Ty::Int));
    assert_eq!(get(&ty, "counts").ty, opt(Ty::Map(Box::new(Ty::Int))));
}

#[test]
fn json_files_are_cached() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let path = fixture("json/order.schema.json");
    let first = reg.json_file(&path).unwrap();
    // Another spelling of the same path hits the same entry.
    let other = fixture("json/sub/../order.schema.json");
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        assert_eq!(reg.json_file(&other).unwrap(), first);
    }
    assert!(start.elapsed().as_millis() < 1000, "{:?}", start.elapsed());
}

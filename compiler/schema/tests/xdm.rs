//! Composing the standard XDM classes with field groups.

use journey_schema::{FieldTy, SchemaKind, SchemaRegistry, Ty};

const PROFILE: &str = "https://ns.adobe.com/xdm/context/profile";
const EVENT: &str = "https://ns.adobe.com/xdm/context/experienceevent";

/// The field at a dotted path, looking through `?`, lists and maps.
fn field(ty: &Ty, path: &str) -> FieldTy {
    let mut ty = ty.clone();
    let mut found = None;
    for name in path.split('.') {
        let mut t = ty.non_null().clone();
        while let Ty::List(inner) | Ty::Map(inner) = t {
            t = inner.non_null().clone();
        }
        let Ty::Record(r) = t else { panic!("`{name}` of `{path}`: {t} is not a record") };
        let f = r.fields.get(name).unwrap_or_else(|| {
            let names: Vec<_> = r.fields.keys().collect();
            panic!("no field `{name}` of `{path}` in {names:?}")
        });
        ty = f.ty.clone();
        found = Some(f.clone());
    }
    found.expect("non-empty path")
}

fn reg() -> SchemaRegistry {
    SchemaRegistry::new(&[]).expect("registry of the embedded components")
}

#[test]
fn profile_with_person_personal_and_loyalty_details() {
    let reg = reg();
    let ty = reg
        .xdm(
            PROFILE,
            &[
                "https://ns.adobe.com/xdm/context/profile-person-details",
                "https://ns.adobe.com/xdm/context/profile-personal-details",
                "https://ns.adobe.com/xdm/mixins/profile/profile-loyalty-details",
                // The XDM profile class itself has no identityMap (ExperienceEvent does):
                // it comes with this field group.
                "https://ns.adobe.com/xdm/context/identitymap",
            ],
        )
        .unwrap();
    assert_eq!(field(&ty, "person.name.firstName").ty, Ty::String.optional());
    assert_eq!(field(&ty, "personalEmail.address").ty, Ty::String.optional());
    assert_eq!(field(&ty, "loyalty.points").ty, Ty::Number.optional());
    assert_eq!(field(&ty, "person.birthDate").ty, Ty::Date.optional());
    let id_map = field(&ty, "identityMap").ty;
    let Ty::Map(items) = id_map.non_null() else { panic!("identityMap is {id_map}") };
    assert!(matches!(items.non_null(), Ty::List(_)), "identityMap values are {items}");
    assert_eq!(field(&ty, "identityMap.id").ty, Ty::String.optional());
    let state = field(&ty, "identityMap.authenticatedState");
    assert_eq!(state.enum_values.unwrap(), ["ambiguous", "authenticated", "loggedOut"]);
    // Other prefixes stay.
    field(&ty, "@id");
    field(&ty, "repo:createDate");
    let name = field(&ty, "person.name");
    assert!(name.title.is_some() && name.description.is_some());
}

#[test]
fn experience_event_with_commerce_and_web() {
    let reg = reg();
    let ty = reg
        .xdm(
            EVENT,
            &[
                "https://ns.adobe.com/xdm/context/experienceevent-commerce",
                "https://ns.adobe.com/xdm/context/experienceevent-web",
            ],
        )
        .unwrap();
    let event_type = field(&ty, "eventType");
    assert_eq!(event_type.ty, Ty::String.optional());
    let values = event_type.enum_values.unwrap();
    assert!(values.iter().any(|v| v == "commerce.purchases"), "{values:?}");
    let timestamp = field(&ty, "timestamp");
    assert!(timestamp.required);
    assert_eq!(timestamp.ty, Ty::DateTime);
    let items = field(&ty, "productListItems").ty;
    let Ty::List(item) = items.non_null() else { panic!("productListItems is {items}") };
    assert!(matches!(item.non_null(), Ty::Record(_)));
    assert_eq!(field(&ty, "productListItems.SKU").ty.non_null(), &Ty::String);
    assert_eq!(field(&ty, "productListItems.priceTotal").ty, Ty::Number.optional());
    assert_eq!(field(&ty, "productListItems.quantity").ty, Ty::Int.optional());
    field(&ty, "commerce.purchases.value");
    field(&ty, "web.webPageDetails.URL");
    // ExperienceEvent brings identityMap itself.
    let Ty::Map(_) = field(&ty, "identityMap").ty.non_null() else { panic!("identityMap") };
    field(&ty, "identityMap.id");
}

#[test]
fn kinds() {
    let reg = reg();
    assert_eq!(reg.kind(PROFILE), Some(SchemaKind::Class));
    assert_eq!(reg.kind(EVENT), Some(SchemaKind::Class));
    let fg = "https://ns.adobe.com/xdm/context/profile-person-details";
    assert_eq!(reg.kind(fg), Some(SchemaKind::FieldGroup));
    assert_eq!(reg.kind("https://ns.adobe.com/xdm/context/person"), Some(SchemaKind::DataType));
    assert_eq!(reg.kind("https://ns.adobe.com/xdm/data/record"), Some(SchemaKind::Behavior));
    assert_eq!(reg.kind("https://example.com/nothing"), None);
    assert!(reg.field_groups_for(PROFILE).any(|f| f == fg));
}

#[test]
fn cached_compositions_are_cheap() {
    let reg = reg();
    let with = ["https://ns.adobe.com/xdm/context/profile-person-details"];
    let first = reg.xdm(PROFILE, &with).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        assert_eq!(reg.xdm(PROFILE, &with).unwrap(), first);
    }
    // Generous even for an unoptimized build on a busy machine.
    assert!(start.elapsed().as_millis() < 500, "{:?} for 1000 cached lookups", start.elapsed());
}

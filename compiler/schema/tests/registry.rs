//! Search paths, overriding embedded `$id`s, and the errors the checker reports.

use journey_schema::{SchemaError, SchemaKind, SchemaRegistry, Ty};
use std::path::PathBuf;

const PROFILE: &str = "https://ns.adobe.com/xdm/context/profile";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn field_names(ty: &Ty) -> Vec<String> {
    match ty.non_null() {
        Ty::Record(r) => r.fields.keys().cloned().collect(),
        t => panic!("{t} is not a record"),
    }
}

#[test]
fn user_path_overrides_an_embedded_id() {
    let reg = SchemaRegistry::new(&[fixture("override")]).unwrap();
    assert_eq!(reg.ids().next(), Some(PROFILE), "user $ids come first");
    assert_eq!(reg.ids().filter(|i| *i == PROFILE).count(), 1);
    assert_eq!(reg.title(PROFILE), Some("ACME's own profile class"));
    assert_eq!(reg.kind(PROFILE), Some(SchemaKind::Class));
    let ty = reg.xdm(PROFILE, &[]).unwrap();
    assert_eq!(field_names(&ty), ["@id", "acmeId"]);
    let Ty::Record(r) = &ty else { unreachable!() };
    assert_eq!(r.fields["acmeId"].ty, Ty::String);
    assert!(reg.source(PROFILE).unwrap().ends_with("override/profile.schema.json"));

    // The embedded one is still what a registry without the path gives.
    let plain = SchemaRegistry::new(&[]).unwrap();
    assert!(field_names(&plain.xdm(PROFILE, &[]).unwrap()).contains(&"personID".to_string()));
}

#[test]
fn user_field_group_extends_an_embedded_class() {
    let reg = SchemaRegistry::new(&[fixture("xdm")]).unwrap();
    let fg = "https://ns.example.com/acme/mixins/loyalty-extras";
    assert_eq!(reg.kind(fg), Some(SchemaKind::FieldGroup));
    assert_eq!(reg.kind("https://ns.example.com/acme/datatypes/code"), Some(SchemaKind::DataType));
    assert!(reg.field_groups_for(PROFILE).any(|f| f == fg));
    let ty = reg.xdm(PROFILE, &[fg]).unwrap();
    let names = field_names(&ty);
    assert!(names.contains(&"personID".to_string()) && names.contains(&"_acme".to_string()));
    let Ty::Record(r) = &ty else { unreachable!() };
    let acme = &r.fields["_acme"].ty;
    let Ty::Record(acme) = acme.non_null() else { panic!("{acme}") };
    assert_eq!(acme.fields["tier"].enum_values.as_deref().unwrap(), ["gold", "silver"]);
    // A reference from the user's file into the embedded components.
    assert!(field_names(&acme.fields["favoriteStore"].ty).contains(&"city".to_string()));
}

#[test]
fn missing_search_path_is_an_error_naming_it() {
    let missing = fixture("no-such-folder");
    let e = SchemaRegistry::new(std::slice::from_ref(&missing)).unwrap_err();
    assert_eq!(e, SchemaError::NotFound { path: missing });
    assert!(e.to_string().contains("no-such-folder"), "{e}");
}

#[test]
fn broken_files_in_a_search_path_are_warnings() {
    let reg = SchemaRegistry::new(&[fixture("broken")]).unwrap();
    let warnings: Vec<String> = reg.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("bad.json") && warnings[0].contains("line 5"), "{warnings:?}");
    assert!(reg.contains("https://ns.example.com/acme/broken"));
}

#[test]
fn unknown_id_suggests_the_nearest() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    // Same last segment, different folder: the real $id of the loyalty field group.
    let e = reg.xdm(PROFILE, &["https://ns.adobe.com/xdm/context/profile-loyalty-details"]).unwrap_err();
    let want = "https://ns.adobe.com/xdm/mixins/profile/profile-loyalty-details";
    assert_eq!(e.suggestion(), Some(want));
    assert_eq!(e.help(), format!("did you mean `{want}`?"));
    assert_eq!(e.to_string(), "unknown XDM schema `https://ns.adobe.com/xdm/context/profile-loyalty-details`");
    // A typo.
    let e = reg.xdm("https://ns.adobe.com/xdm/context/profle", &[]).unwrap_err();
    assert_eq!(e.suggestion(), Some(PROFILE));
    assert_eq!(
        reg.suggest_id("https://ns.adobe.com/xdm/context/experienceevnt").as_deref(),
        Some("https://ns.adobe.com/xdm/context/experienceevent")
    );
    // Nothing close.
    let e = reg.xdm("urn:acme:nothing", &[]).unwrap_err();
    assert_eq!(e.suggestion(), None);
    assert!(e.help().contains("journey.toml"), "{}", e.help());
}

#[test]
fn bad_json_names_the_line() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let path = fixture("broken/bad.json");
    match reg.json_file(&path).unwrap_err() {
        SchemaError::InvalidJson { path: p, line, column, reason } => {
            assert_eq!((p, line, column), (path, 5, 5));
            assert!(reason.contains("expected"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
    let e = reg.json_file(&fixture("broken/nope.json")).unwrap_err();
    assert!(matches!(e, SchemaError::NotFound { .. }), "{e:?}");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn missing_ref_names_file_and_ref() {
    let reg = SchemaRegistry::new(&[]).unwrap();
    let e = reg.json_file(&fixture("broken/missing-ref.json")).unwrap_err();
    let SchemaError::UnresolvedRef { path, reference, .. } = &e else { panic!("{e:?}") };
    assert!(path.ends_with("broken/missing-ref.json"));
    assert_eq!(reference, "#/$defs/nope");
    assert!(e.to_string().contains("#/$defs/nope") && e.to_string().contains("missing-ref.json"));

    let e = reg.json_file(&fixture("broken/missing-file-ref.json")).unwrap_err();
    assert!(
        matches!(&e, SchemaError::UnresolvedRef { reference, .. } if reference == "missing-file.json#/$defs/place"),
        "{e:?}"
    );

    // An unknown $id in a $ref gets a suggestion too.
    let reg = SchemaRegistry::new(&[fixture("broken")]).unwrap();
    let e = reg.xdm("https://ns.example.com/acme/broken", &[]).unwrap_err();
    assert_eq!(e.suggestion(), Some("https://ns.adobe.com/xdm/context/person"));
}

#[test]
fn field_group_must_be_an_object() {
    let reg = SchemaRegistry::new(&[fixture("xdm")]).unwrap();
    let code = "https://ns.example.com/acme/datatypes/code";
    let e = reg.xdm(PROFILE, &[code]).unwrap_err();
    assert_eq!(e, SchemaError::NotAnObject { id: code.into(), kind: Some(SchemaKind::DataType) });
    assert!(e.help().contains("data type"), "{}", e.help());
}

#[test]
fn registry_is_shareable_across_threads() {
    fn check<T: Send + Sync>() {}
    check::<SchemaRegistry>();
}

#[test]
fn refs_relative_to_the_files_id_use_the_index() {
    // b.json is not next to a.json: `b.json` resolves against a.json's `$id`.
    let reg = SchemaRegistry::new(&[fixture("ids")]).unwrap();
    assert!(reg.contains("https://example.com/ids/b.json"), "a trailing `#` is ignored");
    let ty = reg.json_file(&fixture("ids/a.json")).unwrap();
    let Ty::Record(r) = &ty else { panic!("{ty}") };
    assert_eq!(r.fields["x"].ty, Ty::Int.optional());
    assert_eq!(r.fields["y"].ty, Ty::Date.optional());
    // Without the search path, b.json is nowhere to be found.
    let e = SchemaRegistry::new(&[]).unwrap().json_file(&fixture("ids/a.json")).unwrap_err();
    assert!(matches!(e, SchemaError::UnresolvedRef { .. }), "{e:?}");
}

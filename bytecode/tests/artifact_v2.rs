//! Artifacts of format version 2 (before `concurrency`), as `journey serve` stored its published
//! versions, still load: `fixtures/mail-v2.jbc` is `fixtures/mail-v2.journey` built by a journey
//! that wrote version 2.

use journey_bytecode::artifact;

const V2: &[u8] = include_bytes!("fixtures/mail-v2.jbc");

#[test]
fn a_version_2_artifact_loads_with_no_concurrency_of_its_own() {
    let a = artifact::from_bytes(V2).expect("a version 2 artifact loads");
    assert_eq!(a.header.format_version, 2);
    let http: Vec<_> = a.program.http.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(http, ["Mail", "Tier"]);
    let mail = &a.program.http[0];
    assert_eq!((mail.timeout_ms, mail.retries, mail.backoff_ms), (2_000, 2, 100));
    assert_eq!(mail.throttle, Some((10, 1_000)));
    assert_eq!(a.program.http[1].cache_ms, Some(60_000));
    assert!(a.program.http.iter().all(|h| h.concurrency.is_none()));
    assert_eq!(a.program.journeys[0].name, "Welcome");
}

#[test]
fn an_upgraded_artifact_is_written_in_the_current_format() {
    let a = artifact::from_bytes(V2).expect("loads");
    let bytes = artifact::to_bytes(&a);
    assert_eq!(bytes[8..12], journey_bytecode::FORMAT_VERSION.to_le_bytes());
    let again = artifact::from_bytes(&bytes).expect("the rewritten artifact loads");
    assert_eq!(again.program.http.len(), 2);
    assert_eq!(again.program.journeys[0].name, "Welcome");
}

#[test]
fn other_versions_are_refused_with_a_reason() {
    let mut bytes = V2.to_vec();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    let e = artifact::from_bytes(&bytes).expect_err("version 1 is not read");
    assert!(e.to_string().contains("format version 1 is not supported"), "{e}");
}

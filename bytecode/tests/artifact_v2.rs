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
    assert_eq!((mail.settings.timeout_ms, mail.settings.retries, mail.settings.backoff_ms), (2_000, 2, 100));
    assert_eq!(mail.settings.throttle, Some((10, 1_000)));
    assert_eq!(a.program.http[1].settings.cache_ms, Some(60_000));
    assert!(a.program.http.iter().all(|h| h.settings.concurrency.is_none()));
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

/// Version 3 (before messages and goals) is what this format writes less each journey's sends,
/// computed time zone and goals, the program's channels and frequency rules, and the canvases: the fixture's
/// program (one journey, no tests) written so loads again, the same.
#[test]
fn a_version_3_artifact_loads_with_no_messages_or_goals() {
    let a = artifact::from_bytes(V2).expect("loads");
    assert_eq!((a.program.journeys.len(), a.program.tests.len()), (1, 0));
    let now = artifact::to_bytes(&a);
    // The end: the journey's sends, time zone and goals, then tests, channels and frequency
    // rules, then the canvases (none: the fixture had none), each empty (one zero byte).
    assert!(now.ends_with(&[0; 7]));
    let mut v3 = now[..now.len() - 7].to_vec();
    v3.push(0);
    v3[8..12].copy_from_slice(&3u32.to_le_bytes());
    let again = artifact::from_bytes(&v3).expect("a version 3 artifact loads");
    assert_eq!(artifact::to_bytes(&again), now);
}

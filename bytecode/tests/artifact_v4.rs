//! Artifacts of format version 4 (before goals), as `journey serve` stored its published
//! versions, still load with no goals: `fixtures/promo-v4.jbc` is `fixtures/promo-v4.journey`
//! built by a journey that wrote version 4.

use journey_bytecode::artifact;

const V4: &[u8] = include_bytes!("fixtures/promo-v4.jbc");

#[test]
fn a_version_4_artifact_loads_with_no_goals() {
    let a = artifact::from_bytes(V4).expect("a version 4 artifact loads");
    assert_eq!(a.header.format_version, 4);
    let j = &a.program.journeys[0];
    assert_eq!(j.name, "Promo");
    assert!(j.goals.is_empty());
    // What version 4 had is kept: the channel, the send, the split's labels, the time zone.
    assert_eq!(a.program.channels[0].name, "email");
    assert_eq!(j.sends.len(), 1);
    let labels: Vec<_> = j.splits[0].branches.iter().map(|b| b.1.clone()).collect();
    assert_eq!(labels, [Some("control".to_string()), Some("B".to_string())]);
    assert_eq!(j.timezone, "Europe/Paris");
}

#[test]
fn an_upgraded_version_4_artifact_is_written_in_the_current_format() {
    let a = artifact::from_bytes(V4).expect("loads");
    let bytes = artifact::to_bytes(&a);
    assert_eq!(bytes[8..12], journey_bytecode::FORMAT_VERSION.to_le_bytes());
    let again = artifact::from_bytes(&bytes).expect("the rewritten artifact loads");
    assert_eq!(again.program.journeys[0].sends.len(), 1);
}

//! Artifacts of format version 5 (before canvases), as `journey serve` stored its published
//! versions, still load, with no canvases: `fixtures/goal-v5.jbc` is `fixtures/goal-v5.journey`
//! built by a journey that wrote version 5.

use journey_bytecode::artifact;

const V5: &[u8] = include_bytes!("fixtures/goal-v5.jbc");

#[test]
fn a_version_5_artifact_loads_with_no_canvases() {
    let a = artifact::from_bytes(V5).expect("a version 5 artifact loads");
    assert_eq!(a.header.format_version, 5);
    assert!(a.canvases.is_empty());
    let j = &a.program.journeys[0];
    assert_eq!(j.name, "Welcome");
    assert_eq!(j.goals.len(), 1, "what version 5 had is kept");
}

#[test]
fn an_upgraded_version_5_artifact_is_written_in_the_current_format() {
    let a = artifact::from_bytes(V5).expect("loads");
    let bytes = artifact::to_bytes(&a);
    assert_eq!(bytes[8..12], journey_bytecode::FORMAT_VERSION.to_le_bytes());
    let again = artifact::from_bytes(&bytes).expect("the rewritten artifact loads");
    assert_eq!(again.program.journeys[0].goals.len(), 1);
    assert!(again.canvases.is_empty());
}

//! Property test of frequency rules (docs/language.md, Messages): for random sequences of
//! events starting journeys that send marketing messages (with deliveries that sometimes fail
//! and transactional sends mixed in), no profile's sent marketing messages ever exceed any
//! frequency rule in any window. Run on the engine `journey run` uses.

use journey_compiler::check::Defaults;
use journey_compiler::sources::Sources;
use journey_compiler::SchemaRegistry;
use journey_vm::engine::{CallOutcome, Engine, Options, Payload, To};
use journey_vm::machine::Image;
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

const PROJECT: &str = r#"
profile = { email: string?, phone: string? }
type Go = { key: string }
event GoA: Go { key key }
event GoB: Go { key key }
event GoC: Go { key key }
action Mail(to: string, template: string, messageId: string) = http POST "https://mail.example.com" {
  body { to: to, template: template, id: messageId }
}
action Text(to: string, template: string) = http POST "https://sms.example.com" {
  body { to: to, template: template }
}
channel email { to profile.email  deliver Mail }
channel sms { to profile.phone  deliver Text }
frequency email 2 per 1d
frequency any 3 per 2d
frequency sms 1 per 6h
journey A {
  start on GoA
  reentry always
  send email "a1"
  wait 3h
  send sms "a2"
}
journey B {
  start on GoB
  reentry always
  send sms "b1"
  send email "b2"
  send transactional email "receipt"
}
journey C {
  start on GoC
  reentry always
  wait 30m
  send email "c1"
}
"#;

fn image() -> Arc<Image> {
    static I: OnceLock<Arc<Image>> = OnceLock::new();
    I.get_or_init(|| {
        let registry = SchemaRegistry::new(&[]).expect("built-in schemas load");
        let mut sources = Sources::default();
        let id = sources.add("props.journey", "props.journey".into(), PROJECT.to_string());
        let checked = journey_compiler::check(&sources, &[id], &registry, &Defaults::default());
        assert!(
            checked.diagnostics.is_empty(),
            "{:?}",
            checked.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
        let program = journey_compiler::codegen::compile(&checked.program, &sources);
        Arc::new(Image::load(program).expect("loads"))
    })
    .clone()
}

/// The rules of `PROJECT`: (channel or any, limit, window ms).
const RULES: [(Option<&str>, usize, i64); 3] =
    [(Some("email"), 2, 86_400_000), (None, 3, 2 * 86_400_000), (Some("sms"), 1, 6 * 3_600_000)];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn sent_marketing_messages_never_exceed_a_frequency_rule(
        steps in prop::collection::vec((0u8..3, 0u8..3, 0i64..(8 * 3_600_000), any::<bool>()), 1..60)
    ) {
        let start = 1_780_000_000_000;
        let mut engine = Engine::new(image(), start, Options { keep_paths: true, ..Default::default() });
        for p in 0..3 {
            let key = format!("p{p}");
            let attrs = serde_json::json!({ "email": format!("{key}@example.com"), "phone": format!("+4670000000{p}") });
            engine.set_profile(&key, journey_vm::value::Value::from_json(&attrs));
        }
        let mut now = start;
        let settle = |engine: &mut Engine, fail: bool| loop {
            let calls = engine.take_calls();
            if calls.is_empty() {
                break;
            }
            for c in calls {
                let outcome = if fail { CallOutcome::Error("down".into()) } else { CallOutcome::Ok(journey_vm::value::Value::Null) };
                engine.complete_call(c.instance, outcome);
            }
        };
        for (event, profile, gap, fail) in steps {
            now += gap;
            while let Some(due) = engine.next_due().filter(|d| *d <= now) {
                engine.advance(due, true);
                settle(&mut engine, false);
            }
            engine.advance(now, false);
            let name = ["GoA", "GoB", "GoC"][event as usize];
            let payload = serde_json::json!({ "key": format!("p{profile}") });
            let _ = engine.deliver(name, Payload::Json(&payload), To::Key);
            settle(&mut engine, fail);
        }
        let sent: Vec<_> = engine.message_log().iter().filter(|m| m.outcome == "sent" && m.category == "marketing").collect();
        for p in 0..3 {
            let key = format!("p{p}");
            let mine: Vec<_> = sent.iter().filter(|m| m.profile == key).collect();
            for (channel, limit, window) in RULES {
                for m in &mine {
                    let inside = mine
                        .iter()
                        .filter(|x| channel.is_none_or(|c| x.channel == c))
                        .filter(|x| m.at_ms - window < x.at_ms && x.at_ms <= m.at_ms)
                        .count();
                    prop_assert!(
                        inside <= limit,
                        "{key}: {inside} messages in the {window}ms window ending {} for {channel:?} (limit {limit})",
                        m.at_ms
                    );
                }
            }
        }
    }
}

//! Measures the loader: `cargo run --release -p journey-schema --example timing`.

use journey_schema::SchemaRegistry;
use std::time::Instant;

const PROFILE: &str = "https://ns.adobe.com/xdm/context/profile";
const WITH: [&str; 3] = [
    "https://ns.adobe.com/xdm/context/profile-person-details",
    "https://ns.adobe.com/xdm/context/profile-personal-details",
    "https://ns.adobe.com/xdm/mixins/profile/profile-loyalty-details",
];
const EVENT: &str = "https://ns.adobe.com/xdm/context/experienceevent";
const EVENT_WITH: [&str; 2] = [
    "https://ns.adobe.com/xdm/context/experienceevent-commerce",
    "https://ns.adobe.com/xdm/context/experienceevent-web",
];

fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("{what:<58} {:>10.3?}", start.elapsed());
    out
}

fn main() {
    let reg = time("registry, first in the process (indexes the components)", || SchemaRegistry::new(&[]).unwrap());
    time("profile + 3 field groups, first time (parses files)", || reg.xdm(PROFILE, &WITH).unwrap());
    time("experienceevent + commerce + web, first time", || reg.xdm(EVENT, &EVENT_WITH).unwrap());
    let n = 10_000;
    let start = Instant::now();
    for _ in 0..n {
        reg.xdm(PROFILE, &WITH).unwrap();
    }
    println!("{:<58} {:>10.3?}", "profile + 3 field groups, cached (each)", start.elapsed() / n);
    let reg2 = time("another registry in the same process", || SchemaRegistry::new(&[]).unwrap());
    time("profile + 3 field groups on it (files already parsed)", || reg2.xdm(PROFILE, &WITH).unwrap());
    let ids: Vec<String> = reg.ids().map(str::to_string).collect();
    let start = Instant::now();
    for id in &ids {
        reg.xdm(id, &[]).unwrap();
    }
    let all = start.elapsed();
    println!("{:<58} {:>10.3?}", format!("all {} embedded $ids, each alone", ids.len()), all);
}

//! The generated project the language server benchmarks edit: schemas, events, an audience,
//! an action, a data source, then 50-line journeys up to the size asked for.
#![allow(dead_code)]

#[path = "../../tests/support/project.rs"]
mod project;

/// The declarations the journeys use (shared with the tests).
pub use project::DECLARATIONS as HEADER;

/// One journey of 50 lines.
pub fn journey(i: usize) -> String {
    format!(
        r#"
/// Generated journey {i}.
journey Recovery{i} {{
  start on CartAdd
  reentry after 7d
  timeout 30d
  exit on Purchase

  let email = profile.personalEmail.address ?? ""
  let first = profile.person.name.firstName ?? "there"
  let cartId = event.commerce.cart.cartID ?? ""
  let items = event.productListItems
  if count(items) == 0 {{ end "empty" }}
  let item = items[0]
  let value = item.priceTotal ?? 0.0
  wait 1h

  let member = fetch Loyalty(email) on error {{ }}
  split {{
    10% "control" -> {{ }}
    45% "A" -> {{
      call SendEmail(to: email, template: "a-{i}", vars: {{ name: first, cart: cartId }})
    }}
    45% "B" -> {{
      if value >= 100 and member.tier == "gold" {{
        call SendEmail(to: email, template: "b-{i}", vars: {{ name: first, code: "VIP" }})
      }} else {{
        call SendEmail(to: email, template: "b-{i}", vars: {{ name: first }})
      }}
    }}
  }}

  await {{
    on Purchase as p where p.commerce.cart.cartID == cartId -> {{
      end "recovered"
    }}
    after 2d -> {{ }}
  }}

  if inAudience("VIP") and (member.points ?? 0) > 1000 {{
    call SendEmail(to: email, template: "vip-{i}", vars: {{ name: "${{first}} (VIP)" }})
  }} else {{
    wait 1d
  }}
  end "not-recovered"
}}
"#
    )
}

/// A file of at least `lines` lines.
pub fn project(lines: usize) -> String {
    let mut out = HEADER.to_string();
    let mut i = 0;
    while out.lines().count() < lines {
        out.push_str(&journey(i));
        i += 1;
    }
    out
}

/// The runtime the benches drive the server on (the server's own threads, a deep stack for the
/// parser as `journey lsp` has).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A fresh, empty temporary folder for one bench's files.
pub fn temp_folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("journey-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

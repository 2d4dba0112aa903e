//! Generates a realistic journey project of a given size, for the benchmarks.

/// One project file of about `target_bytes`, made of many journeys over shared declarations.
pub fn project(target_bytes: usize) -> String {
    let mut out = String::with_capacity(target_bytes + 4096);
    out.push_str(HEADER);
    let mut i = 0usize;
    while out.len() < target_bytes {
        out.push_str(&journey(i));
        i += 1;
    }
    out
}

const HEADER: &str = r#"/// Shared declarations of the generated project.
type Item = { sku: string, price: number, quantity: int }
type Cart = { email: string, items: list<Item>, at: datetime, channel: string? }
type Order = { orderId: string, email: string, total: number }
event CartAdd: Cart { key lower(email) when count(items) > 0 }
event Purchase: Order { key email }
profile = xdm "https://ns.adobe.com/xdm/context/profile"
    with "https://ns.adobe.com/xdm/context/profile-person-details",
         "https://ns.adobe.com/xdm/context/profile-personal-details"
audience VIP

datasource Loyalty(memberId: string) = http GET "https://loyalty.example.com/members/{memberId}" {
  headers { "Accept": "application/json" }
  auth bearer secret("LOYALTY_TOKEN")
  timeout 2s
  cache 10m
  returns { tier: string, points: int }
}

action SendEmail(to: string, template: string, vars: map<string>?) = http POST "https://mail.example.com/v3/send" {
  headers { "Authorization": "Bearer " + secret("MAIL_TOKEN") }
  body { to: to, template_id: template, data: vars }
  timeout 5s
  retry 3 backoff 2s
  returns { messageId: string }
}
"#;

/// A project of many files of about `target_bytes` in all: the shared declarations in one file,
/// then files of about 2.4 KB (two journeys each), as a project of 2,500 files and 6 MB has.
/// Returns (file name, text) pairs.
#[allow(dead_code)] // the check bench uses it; gen.rs is included by other benches too
pub fn files(target_bytes: usize) -> Vec<(String, String)> {
    let mut out = vec![("declarations.journey".to_string(), HEADER.to_string())];
    let mut total = HEADER.len();
    let mut i = 0usize;
    while total < target_bytes {
        let mut text = String::new();
        while text.len() < 2_400 {
            text.push_str(&journey(i));
            i += 1;
        }
        total += text.len();
        out.push((format!("carts{:05}.journey", out.len()), text));
    }
    out
}

fn journey(i: usize) -> String {
    format!(
        r#"
/// Generated journey number {i}.
journey Cart{i} {{
  start on CartAdd
  reentry after 7d
  timezone "Europe/Stockholm"
  timeout 30d
  exit on Purchase

  let items = event.items
  let total = sum(event.items[0].price, 2.5) * 1.25
  wait {w}h
  await {{
    on Purchase as p where p.total > {i}.0 and p.email == event.email -> {{ end "converted" }}
    on CartAdd -> {{ }}
    after 2h -> {{ }}
  }}
  if count(items) == 0 or total < 1.0 {{ end "empty" }}
  // A comment that the parser skips, as real scripts have.
  let member = fetch Loyalty(profile.personalEmail.address ?? "none") on error {{ end "loyalty-down" }}
  split {{
    10% "control" -> {{ end "control" }}
    45% "A" -> {{ call SendEmail(to: profile.personalEmail.address ?? "", template: "cart-a-{i}") }}
    45% "B" -> {{ call SendEmail(to: event.email, template: "cart-b", vars: {{ name: profile.person.name.firstName ?? "there" }}) }}
  }}
  let sent = call SendEmail(to: event.email, template: "cart-2")
    on timeout {{ end "mail-timeout" }}
    on error {{ end "mail-failed" }}
  wait until 09:00
  if timeOf(now()) in 09:00..18:00 and dayOfWeek(now()) in [1, 2, 3, 4, 5] {{
    call SendEmail(to: event.email, template: "weekday-${{member.tier}}")
  }} else if upper(member.tier) == "GOLD" {{
    end "gold"
  }}
  end "done"
}}
"#,
        w = 1 + i % 5
    )
}

//! The project the language server's tests and benches open: its shared declarations (schemas,
//! events, an audience, an action, a data source, each with a doc comment that hover shows).
//! `lsp/tests/features.rs` and `lsp/benches/common` include this file.

/// The declarations the journeys use.
pub const DECLARATIONS: &str = r#"/// The customer profile.
profile = xdm "https://ns.adobe.com/xdm/context/profile"
    with "https://ns.adobe.com/xdm/context/profile-person-details",
         "https://ns.adobe.com/xdm/context/profile-personal-details"

/// Site commerce events.
schema CommerceEvent = xdm "https://ns.adobe.com/xdm/context/experienceevent"
    with "https://ns.adobe.com/xdm/context/experienceevent-commerce"

/// Products were added to the cart.
event CartAdd: CommerceEvent {
  key identityMap.Email[0].id
  when eventType == "commerce.productListAdds"
}

/// An order was placed.
event Purchase: CommerceEvent {
  key identityMap.Email[0].id
  when eventType == "commerce.purchases"
}

/// Our best customers.
audience VIP

/// Sends an email.
action SendEmail(to: string, template: string, vars: map<string>?) = http POST "https://mail.example.com/send" {
  body { to: to, template_id: template, data: vars }
  timeout 5s
  retry 3 backoff 2s
  returns { messageId: string }
}

/// Loyalty standing.
datasource Loyalty(memberId: string) = http GET "https://loyalty.example.com/members/{memberId}" {
  timeout 2s
  cache 10m
  returns { tier: string, points: int }
}
"#;

//! Building the HTTP request of one call from a compiled declaration and its arguments.
//!
//! Null handling: a URL placeholder whose argument is null fails the call before anything is
//! sent; null query parameters and headers are left out; in the JSON body, record fields whose
//! value is null are left out (at any depth; list items stay as they are), and a null body sends
//! no body.

use super::eval::eval_option;
use super::secret::{Redactor, SecretSource, REDACTED};
use crate::machine::Image;
use crate::value::Value;
use base64::Engine;
use journey_bytecode::{Addr, AuthCode, HttpCode, UrlPart};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, Url};
use std::collections::HashMap;
use std::fmt;

/// Characters kept as they are in a URL placeholder's value: RFC 3986's unreserved set.
const PLACEHOLDER: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A request ready to send. Its Debug output is the redacted [`RequestRecord`].
#[derive(Clone)]
pub struct PreparedRequest {
    method: Method,
    url: Url,
    headers: Vec<Header>,
    body: Option<String>,
    redactor: Redactor,
}

#[derive(Clone)]
struct Header {
    name: String,
    value: String,
    /// Authentication headers are always shown as [`REDACTED`].
    sensitive: bool,
}

/// A request as it may be shown: secrets and authentication replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The action or data source.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// The full URL with its query.
    pub url: String,
    /// Header name and value, in sending order.
    pub headers: Vec<(String, String)>,
    /// The JSON body text.
    pub body: Option<String>,
}

impl PreparedRequest {
    /// Evaluates the options of declaration `http` of `image`'s program with `args` as
    /// parameters 0..n.
    pub fn build(
        image: &Image,
        http: &HttpCode,
        args: &[Value],
        idempotency_key: &str,
        secrets: &dyn SecretSource,
    ) -> Result<PreparedRequest, String> {
        let mut redactor = Redactor::default();
        let result = build(image, http, args, idempotency_key, secrets, &mut redactor);
        result.map_err(|e| redactor.redact(&e))
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL (with secrets, if any are in the query: do not print it, use [`Self::record`]).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `host` or `host:port`, for messages.
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or("?");
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// Header names and values as they are sent (do not print them, use [`Self::record`]).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|h| (h.name.as_str(), h.value.as_str()))
    }

    /// The JSON body text as it is sent.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The secret values this request holds.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The request with secrets and authentication redacted, under the declaration's name.
    pub fn record(&self, name: &str) -> RequestRecord {
        let r = &self.redactor;
        RequestRecord {
            name: name.to_string(),
            method: self.method.to_string(),
            url: r.redact(self.url.as_str()),
            headers: self
                .headers
                .iter()
                .map(|h| {
                    let v = if h.sensitive { REDACTED.to_string() } else { r.redact(&h.value) };
                    (h.name.clone(), v)
                })
                .collect(),
            body: self.body.as_deref().map(|b| r.redact(b)),
        }
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.record("");
        f.debug_struct("PreparedRequest")
            .field("method", &r.method)
            .field("url", &r.url)
            .field("headers", &r.headers)
            .field("body", &r.body)
            .finish()
    }
}

fn build(
    image: &Image,
    http: &HttpCode,
    args: &[Value],
    idempotency_key: &str,
    secrets: &dyn SecretSource,
    redactor: &mut Redactor,
) -> Result<PreparedRequest, String> {
    if args.len() != http.params.len() {
        return Err(format!("{} takes {} arguments, got {}", http.name, http.params.len(), args.len()));
    }
    let mut eval = |at: Addr, what: &str| {
        eval_option(image, http, at, args, secrets, redactor).map_err(|err| format!("{what} of {}: {err}", http.name))
    };
    let method = Method::from_bytes(http.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{}: unknown HTTP method {}", http.name, http.method))?;
    let mut url = fill_url(http, &mut eval)?;
    for (name, e) in &http.query {
        match eval(*e, &format!("query parameter {name}"))? {
            Value::Null => {}
            Value::List(items) => {
                for item in items.iter().filter(|v| !v.is_null()) {
                    url.query_pairs_mut().append_pair(name, &item.text());
                }
            }
            v => {
                url.query_pairs_mut().append_pair(name, &v.text());
            }
        }
    }
    let mut headers = Vec::new();
    for (name, e) in &http.headers {
        let v = eval(*e, &format!("header {name}"))?;
        if !v.is_null() {
            headers.push(Header { name: name.clone(), value: v.text().into_owned(), sensitive: false });
        }
    }
    let auth = match &http.auth {
        AuthCode::None => None,
        AuthCode::Basic(user, pass) => {
            let user = text_of(eval(*user, "basic auth user")?, "basic auth user", http)?;
            let pass = text_of(eval(*pass, "basic auth password")?, "basic auth password", http)?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            Some(("Authorization".to_string(), format!("Basic {encoded}")))
        }
        AuthCode::Bearer(token) => {
            let token = text_of(eval(*token, "bearer token")?, "bearer token", http)?;
            Some(("Authorization".to_string(), format!("Bearer {token}")))
        }
        AuthCode::Header(name, value) => {
            let value = text_of(eval(*value, &format!("auth header {name}"))?, "auth header", http)?;
            Some((name.clone(), value))
        }
    };
    let body = match &http.body {
        None => None,
        Some(e) => match eval(*e, "body")? {
            Value::Null => None,
            v => Some(serde_json::to_string(&Body(&v)).map_err(|e| format!("body of {}: {e}", http.name))?),
        },
    };
    if let Some((name, value)) = auth {
        headers.retain(|h| !h.name.eq_ignore_ascii_case(&name));
        headers.push(Header { name, value, sensitive: true });
    }
    let has = |headers: &[Header], n: &str| headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
    if !has(&headers, "accept") {
        headers.push(Header { name: "Accept".into(), value: "application/json".into(), sensitive: false });
    }
    if body.is_some() && !has(&headers, "content-type") {
        headers.push(Header { name: "Content-Type".into(), value: "application/json".into(), sensitive: false });
    }
    headers.retain(|h| !h.name.eq_ignore_ascii_case("idempotency-key"));
    headers.push(Header { name: "Idempotency-Key".into(), value: idempotency_key.to_string(), sensitive: false });
    for h in &mut headers {
        if redactor.contains_secret(&h.value) {
            h.sensitive = true;
        }
        reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("{}: invalid header name {:?}", http.name, h.name))?;
        reqwest::header::HeaderValue::from_str(&h.value)
            .map_err(|_| format!("{}: invalid value for header {}", http.name, h.name))?;
    }
    Ok(PreparedRequest { method, url, headers, body, redactor: std::mem::take(redactor) })
}

/// The URL template with each `{param}` replaced by its value's percent-encoded text.
fn fill_url(http: &HttpCode, eval: &mut impl FnMut(Addr, &str) -> Result<Value, String>) -> Result<Url, String> {
    if let [UrlPart::Text(text)] = http.url.as_slice() {
        // A URL without placeholders is parsed once per thread (parsing costs more than the
        // rest of building a request); only such URLs are kept, so the cache stays small.
        thread_local! {
            static FIXED: std::cell::RefCell<HashMap<String, Url, foldhash::fast::RandomState>> =
                Default::default();
        }
        if let Some(url) = FIXED.with_borrow(|fixed| fixed.get(text.as_str()).cloned()) {
            return Ok(url);
        }
        let url = parse_url(http, text)?;
        FIXED.with_borrow_mut(|fixed| fixed.insert(text.clone(), url.clone()));
        return Ok(url);
    }
    let mut out = String::new();
    for part in &http.url {
        match part {
            UrlPart::Text(text) => out.push_str(text),
            UrlPart::Param { name, value } => {
                let v = eval(*value, &format!("URL parameter {name}"))?;
                if v.is_null() {
                    return Err(format!("{}: URL parameter {name} is null", http.name));
                }
                out.extend(utf8_percent_encode(&v.text(), PLACEHOLDER));
            }
        }
    }
    parse_url(http, &out)
}

fn parse_url(http: &HttpCode, text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{}: invalid URL: {e}", http.name))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{}: the URL must be http or https, not {}", http.name, url.scheme()));
    }
    Ok(url)
}

fn text_of(v: Value, what: &str, http: &HttpCode) -> Result<String, String> {
    match v {
        Value::Null => Err(format!("{what} of {} is null", http.name)),
        v => Ok(v.text().into_owned()),
    }
}

/// A body value written as JSON text straight from the value (no `serde_json::Value` built on
/// the way): as `Value::to_json`, without the fields of any record whose value is null (at any
/// depth; list items stay as they are).
struct Body<'a>(&'a Value);

impl Body<'_> {
    /// Written as `null`, so left out of a record (a number that is not finite is written so).
    fn is_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Number(n) => !n.is_finite(),
            _ => false,
        }
    }
}

impl serde::Serialize for Body<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Number(n) => s.serialize_f64(*n),
            Value::Str(t) => s.serialize_str(t),
            Value::Date(_) | Value::DateTime { .. } | Value::LocalDateTime(_) | Value::Time(_) | Value::Duration(_) => {
                s.collect_str(self.0)
            }
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&Body(item))?;
                }
                seq.end()
            }
            Value::Record(r) => {
                let mut map = s.serialize_map(None)?;
                for (k, v) in r.iter().filter(|(_, v)| !Body::is_null(v)) {
                    map.serialize_entry(&**k, &Body(v))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The text the body had when it went through `serde_json::Value`: nulls dropped from
    /// records at every depth, kept in lists.
    fn through_json(v: &Value) -> String {
        fn drop_null_fields(json: &mut serde_json::Value) {
            match json {
                serde_json::Value::Object(m) => {
                    m.retain(|_, v| !v.is_null());
                    m.values_mut().for_each(drop_null_fields);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(drop_null_fields),
                _ => {}
            }
        }
        let mut json = v.to_json();
        drop_null_fields(&mut json);
        json.to_string()
    }

    #[test]
    fn body_text_is_the_json_of_the_value_without_null_fields() {
        let values = [
            Value::from_json(&json!({"to": "a@x", "n": 1, "f": 2.5, "seven": 7.0, "gone": null,
                "list": [1, null, {"x": null, "y": "q\"uote\u{1}"}], "deep": {"z": null, "w": [true]}})),
            Value::from_json(&json!([null, {"a": null}])),
            Value::Number(f64::NAN),
            Value::Duration(90_000),
            Value::DateTime { millis: 1_700_000_000_123, offset: 3600 },
        ];
        for v in &values {
            assert_eq!(serde_json::to_string(&Body(v)).unwrap(), through_json(v), "{v:?}");
        }
        let mut r = crate::value::Record::new();
        r.insert("nan", Value::Number(f64::INFINITY));
        r.insert("d", Value::Date(jiff::civil::date(2026, 3, 4)));
        let v = Value::record(r);
        assert_eq!(serde_json::to_string(&Body(&v)).unwrap(), through_json(&v));
    }
}

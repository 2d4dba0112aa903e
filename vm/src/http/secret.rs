//! Secrets for option expressions (`secret("NAME")`), and the redaction that keeps them out of
//! everything printed: request dumps, dry-run records, error reasons and Debug output.

use std::collections::HashMap;
use std::fmt;

/// Where `secret("NAME")` reads its value.
pub trait SecretSource: Send + Sync {
    /// The secret's value, or `None` when it is not set.
    fn secret(&self, name: &str) -> Option<String>;
}

/// Secrets from environment variables of the same name (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Secrets from a map (for tests and embedding); its Debug shows names, never values.
#[derive(Clone, Default)]
pub struct MapSecrets(HashMap<String, String>);

impl MapSecrets {
    /// An empty map.
    pub fn new() -> Self {
        MapSecrets(HashMap::new())
    }

    /// The map with one more secret.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }
}

impl fmt::Debug for MapSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.0.keys().collect();
        names.sort();
        f.debug_struct("MapSecrets").field("names", &names).finish_non_exhaustive()
    }
}

impl SecretSource for MapSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// What replaces a secret in printed text.
pub const REDACTED: &str = "***";

/// The secret values one request read, to blank out of any text about it.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    /// Remembers a secret value (with its percent- and form-encoded forms, as a URL shows it).
    pub fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        let forms = [
            value.to_string(),
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string(),
            url_form(value),
        ];
        for f in forms {
            if !self.values.contains(&f) {
                self.values.push(f);
            }
        }
        // Longest first, so a secret that contains another is blanked whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Whether no secret was read.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether `text` contains any secret.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.values.iter().any(|v| text.contains(v.as_str()))
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.values.len())
    }
}

fn url_form(value: &str) -> String {
    reqwest::Url::parse_with_params("x:", [("k", value)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("k=").to_string()))
        .unwrap_or_else(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_plain_and_encoded_forms() {
        let mut r = Redactor::default();
        r.add("s3cr3t token/+");
        let text = "a s3cr3t token/+ b s3cr3t%20token%2F%2B c s3cr3t+token%2F%2B";
        assert_eq!(r.redact(text), "a *** b *** c ***");
        assert!(!r.contains_secret("nothing"));
    }

    #[test]
    fn map_debug_hides_values() {
        let m = MapSecrets::new().with("TOKEN", "hunter2");
        assert!(!format!("{m:?}").contains("hunter2"));
    }
}

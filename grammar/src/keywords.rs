//! The language's keywords, once: every word the grammar (`journey.pest`) spells out, with the
//! roles it plays there. The editor lexer, completion and the VS Code grammar take their lists
//! from here; a test checks this table against the pest grammar, word for word.

/// What a keyword does in the language (a word may have several roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Starts a declaration: `journey`, `event`, `test`, ...
    Declaration,
    /// Starts a journey setting: `start`, `timeout`, `exit`, ...
    Setting,
    /// Starts a statement: `let`, `wait`, `call`, ...
    Statement,
    /// Starts an arm of `await`: `on`, `after`.
    AwaitArm,
    /// Starts a clause of an event declaration: `key`, `when`.
    Clause,
    /// Starts an option of an action or data source: `headers`, `retry`, ...
    HttpOption,
    /// Starts a test statement: `send`, `expect`, ...
    Test,
    /// An expression word (an operator or a literal): `and`, `is`, `null`, ...
    Expression,
    /// What an `is` test checks for: `integer`, `decimal`, `numeric`.
    TypeTest,
    /// Names a built-in type where a type goes (`list<string>`); a type, not a keyword, to an
    /// editor.
    TypeName,
    /// A day in `every monday at 09:00`.
    Weekday,
    /// Any other word inside a declaration, statement or setting: `on`, `as`, `backoff`, ...
    Part,
}

/// A keyword and its roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Keyword {
    /// The word.
    pub word: &'static str,
    /// What it does.
    pub roles: &'static [Role],
}

impl Keyword {
    /// Whether it plays `role`.
    pub fn is(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether an editor shows it as a keyword (type names and weekdays it shows otherwise).
    pub fn is_editor_keyword(&self) -> bool {
        !self.is(Role::TypeName) && !self.is(Role::Weekday)
    }

    /// Whether it may not name a declaration or a local: a word that starts a declaration, a
    /// setting or a statement (it may still name a field, an argument or a record key).
    pub fn is_reserved(&self) -> bool {
        self.is(Role::Declaration) || self.is(Role::Setting) || self.is(Role::Statement)
    }
}

macro_rules! keywords {
    ($($word:literal: $($role:ident)|+;)*) => {
        /// Every keyword, in the order of the grammar.
        pub const KEYWORDS: &[Keyword] = &[$(Keyword { word: $word, roles: &[$(Role::$role),+] }),*];

        /// The keyword `word`, if it is one.
        pub fn keyword(word: &str) -> Option<&'static Keyword> {
            match word {
                $($word => Some(&Keyword { word: $word, roles: &[$(Role::$role),+] }),)*
                _ => None,
            }
        }
    };
}

keywords! {
    "schema": Declaration;
    "type": Declaration;
    "profile": Declaration | Test | Part;
    "event": Declaration;
    "audience": Declaration | Test | Part;
    "datasource": Declaration;
    "action": Declaration;
    "journey": Declaration;
    "test": Declaration;
    "xdm": Part;
    "json": Part;
    "with": Part;
    "key": Clause;
    "when": Clause;
    "http": Part;
    "headers": HttpOption;
    "query": HttpOption;
    "body": HttpOption;
    "auth": HttpOption;
    "none": Part;
    "basic": Part;
    "bearer": Part;
    "header": Part;
    "timeout": Setting | HttpOption | Part;
    "retry": HttpOption;
    "backoff": Part;
    "throttle": HttpOption;
    "per": Part;
    "concurrency": HttpOption;
    "cache": HttpOption;
    "returns": HttpOption;
    "start": Setting | Test;
    "on": AwaitArm | Part;
    "enters": Part;
    "exits": Part;
    "every": Part;
    "at": Part;
    "once": Part;
    "reentry": Setting;
    "never": Part;
    "always": Part;
    "after": AwaitArm | Test | Part;
    "timezone": Setting;
    "active": Setting;
    "from": Part;
    "to": Part;
    "exit": Setting;
    "let": Statement;
    "wait": Statement;
    "until": Part;
    "await": Statement;
    "as": Part;
    "where": Part;
    "if": Statement | Expression;
    "then": Expression;
    "else": Expression | Part;
    "split": Statement;
    "cap": Statement;
    "call": Statement | Part;
    "fetch": Statement;
    "error": Part;
    "update": Statement;
    "jump": Statement;
    "end": Statement;
    "mock": Test;
    "fail": Part;
    "send": Statement | Test;
    "expect": Test;
    "no": Part;
    "times": Part;
    "time": Part | TypeName;
    "ended": Part;
    "running": Part;
    "has": Expression | Part;
    "is": Expression;
    "not": Expression;
    "in": Expression;
    "and": Expression;
    "or": Expression;
    "null": Expression;
    "true": Expression;
    "false": Expression;
    "integer": TypeTest;
    "decimal": TypeTest;
    "numeric": TypeTest;
    "list": TypeName;
    "map": TypeName;
    "channel": Declaration;
    "frequency": Declaration;
    "consent": Part;
    "deliver": Part;
    "quiet": Part;
    "queue": Part;
    "drop": Part;
    "opened": Part;
    "clicked": Part;
    "by": Part;
    "for": Part;
    "transactional": Part;
    "suppressed": Part;
    "sent": Part;
    "because": Part;
    "goal": Setting;
    "within": Part;
    "value": Part;
    "converted": Part;
    "arm": Part;
    "day": Weekday;
    "monday": Weekday;
    "tuesday": Weekday;
    "wednesday": Weekday;
    "thursday": Weekday;
    "friday": Weekday;
    "saturday": Weekday;
    "sunday": Weekday;
}

/// The keywords that play `role`, in the order of the grammar.
pub fn with_role(role: Role) -> impl Iterator<Item = &'static str> {
    KEYWORDS.iter().filter(move |k| k.is(role)).map(|k| k.word)
}

/// Whether `word` may not name a declaration or a local (see [`Keyword::is_reserved`]).
pub fn is_reserved(word: &str) -> bool {
    keyword(word).is_some_and(Keyword::is_reserved)
}

/// Whether `word` is an expression word (`and`, `then`, `null`, ...).
pub fn is_expression_word(word: &str) -> bool {
    keyword(word).is_some_and(|k| k.is(Role::Expression))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookup_is_the_table() {
        for k in KEYWORDS {
            assert_eq!(keyword(k.word), Some(k), "{}", k.word);
        }
        assert_eq!(keyword("journeys"), None);
        let mut words: Vec<&str> = KEYWORDS.iter().map(|k| k.word).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), KEYWORDS.len(), "a word is listed twice");
    }
}

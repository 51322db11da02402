//! The name and value rules hearth shares with its Nix renderers. Their one
//! definition is `modules/lib/util/rules.json`: the renderers check values
//! with `builtins.match` on those patterns, and `hearth check` with the same
//! patterns here, so whatever `check` accepts the renderers render
//! (`tests/rules_agree.rs` runs both engines on random strings).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

const SOURCE: &str = include_str!("../../modules/lib/util/rules.json");

#[derive(Deserialize)]
struct Raw {
    re: String,
    desc: String,
}

/// One rule: an anchored pattern and what it accepts, in words.
pub struct Rule {
    pub name: &'static str,
    pub pattern: String,
    pub desc: String,
    re: Regex,
}

impl Rule {
    pub fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
    /// `None` when `s` is accepted, else "`s` is not <desc>".
    pub fn problem(&self, s: &str) -> Option<String> {
        (!self.matches(s)).then(|| format!("`{}` is not {}", s.escape_debug(), self.desc))
    }
}

static RULES: LazyLock<BTreeMap<String, Rule>> = LazyLock::new(|| {
    let raw: BTreeMap<String, serde_json::Value> = serde_json::from_str(SOURCE).expect("rules.json is valid JSON (checked by a test)");
    raw.into_iter()
        .filter(|(k, _)| !k.starts_with('_'))
        .map(|(k, v)| {
            let r: Raw = serde_json::from_value(v).expect("every rule has re and desc (checked by a test)");
            // POSIX `builtins.match` matches the whole string.
            let re = Regex::new(&format!("^(?:{})$", r.re)).expect("rules.json patterns compile (checked by a test)");
            let name: &'static str = Box::leak(k.clone().into_boxed_str());
            (k, Rule { name, pattern: r.re, desc: r.desc, re })
        })
        .collect()
});

/// The rule called `name` (a key of rules.json).
pub fn rule(name: &str) -> &'static Rule {
    RULES.get(name).unwrap_or_else(|| panic!("hearth bug: no rule `{name}` in modules/lib/util/rules.json"))
}

/// Every rule.
pub fn all() -> impl Iterator<Item = &'static Rule> {
    RULES.values()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles_and_is_anchored() {
        assert!(all().count() >= 6);
        for r in all() {
            assert!(!r.matches(""), "{} accepts the empty string", r.name);
        }
        assert!(rule("userName").matches("torjus"));
        assert!(!rule("userName").matches("xtorjus\n"));
        assert!(!rule("userName").matches("1alice"));
        assert!(rule("endpoint").matches("[::1]:51820"));
        assert!(!rule("endpoint").matches("h:+51821"));
        assert!(!rule("endpoint").matches("[h:51821"));
        assert!(!rule("interface").matches(".hearth"));
    }
}

//! A small Nix value model and printer: everything hearth writes into `.nix`
//! files goes through here, so escaping lives in one place, and every emitted
//! file is parsed back with rnix before it is written.

use std::fmt::Write as _;

/// A Nix value as hearth emits it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// A path literal relative to the emitting file, e.g. `../../secrets/x.age`.
    /// Only built by hearth itself from validated names (see [`Value::rel_path`]).
    Path(String),
    List(Vec<Value>),
    /// Attribute set in insertion order (callers insert in a deterministic order).
    Attrs(Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Self {
        Value::Str(s.into())
    }

    pub fn strs<I, S>(items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// A relative path literal. Panics on anything but `[A-Za-z0-9._/-]`
    /// segments starting with `./` or `../`: callers only pass names hearth
    /// validated as DNS labels, so a panic here is a bug, not bad input.
    pub fn rel_path(p: impl Into<String>) -> Self {
        let p = p.into();
        assert!(
            (p.starts_with("./") || p.starts_with("../")) && p.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c)) && !p.contains("//") && !p.ends_with('/'),
            "hearth bug: unsafe path literal {p:?}"
        );
        Value::Path(p)
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Self {
        s.map(|s| Value::Str(s.into())).unwrap_or(Value::Null)
    }
}

/// Joins the segments of an attribute path inside an [`Attrs`] key. Names
/// hearth emits are validated DNS labels and never contain it.
const PATH_SEP: &str = "\u{1f}";

/// Builder for attribute sets that keeps insertion order.
#[derive(Debug, Default, Clone)]
pub struct Attrs(Vec<(String, Value)>);

impl Attrs {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, k: impl Into<String>, v: impl Into<Value>) -> Self {
        self.0.push((k.into(), v.into()));
        self
    }
    pub fn push(&mut self, k: impl Into<String>, v: impl Into<Value>) {
        self.0.push((k.into(), v.into()));
    }
    /// An attribute path such as `hearth.wireguard = ...;`: each segment is
    /// escaped on its own when printed.
    pub fn set_path(mut self, segments: &[&str], v: impl Into<Value>) -> Self {
        self.push_path(segments, v);
        self
    }
    pub fn push_path(&mut self, segments: &[&str], v: impl Into<Value>) {
        self.0.push((segments.join(PATH_SEP), v.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Attrs> for Value {
    fn from(a: Attrs) -> Self {
        Value::Attrs(a.0)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
macro_rules! int_from {
    ($($t:ty),*) => {$(impl From<$t> for Value { fn from(i: $t) -> Self { Value::Int(i64::from(i)) } })*};
}
int_from!(u8, u16, u32, i32, i64);
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

/// Escapes a string for a double-quoted Nix string literal: `\`, `"`, `${`,
/// and control characters. The result, between quotes, evaluates to exactly
/// `s`.
pub fn escape_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            // Nix has no escape for other control characters; they are
            // allowed verbatim inside a string literal.
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An attribute name: bare when it is a plain identifier that is not a
/// keyword, quoted otherwise.
pub fn attr_name(k: &str) -> String {
    const KEYWORDS: &[&str] = &["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"];
    let mut chars = k.chars();
    let ident = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || "_'-".contains(c)),
        _ => false,
    };
    if ident && !KEYWORDS.contains(&k) {
        k.to_owned()
    } else {
        escape_str(k)
    }
}

/// Pretty-prints a value with two-space indentation, one attribute or list
/// item per line; short scalar lists stay on one line.
pub fn print(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::List(_) | Value::Attrs(_))
}

fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            if *i < 0 {
                // `-1` is parsed as unary minus applied to 1; keep it explicit.
                let _ = write!(out, "({i})");
            } else {
                let _ = write!(out, "{i}");
            }
        }
        Value::Str(s) => escape_into(out, s),
        Value::Path(p) => out.push_str(p),
        Value::List(items) if items.is_empty() => out.push_str("[ ]"),
        Value::List(items) => {
            let one_line = items.len() <= 4 && items.iter().all(is_scalar) && {
                let len: usize = items.iter().map(|i| print(i).len() + 1).sum();
                len + indent < 80
            };
            if one_line {
                out.push_str("[ ");
                for i in items {
                    write_value(out, i, indent);
                    out.push(' ');
                }
                out.push(']');
            } else {
                out.push_str("[\n");
                for i in items {
                    pad(out, indent + 1);
                    // A function application or negative number needs parens
                    // in a list; our values never are, except ints (handled).
                    write_value(out, i, indent + 1);
                    out.push('\n');
                }
                pad(out, indent);
                out.push(']');
            }
        }
        Value::Attrs(items) if items.is_empty() => out.push_str("{ }"),
        Value::Attrs(items) => {
            out.push_str("{\n");
            for (k, val) in items {
                pad(out, indent + 1);
                let path: Vec<String> = k.split(PATH_SEP).map(attr_name).collect();
                out.push_str(&path.join("."));
                out.push_str(" = ");
                write_value(out, val, indent + 1);
                out.push_str(";\n");
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// Parses Nix source with rnix and returns the first syntax error, if any.
pub fn parse_errors(src: &str) -> Option<String> {
    let parse = rnix::Root::parse(src);
    parse.errors().first().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_interpolation_quotes_and_backslashes() {
        assert_eq!(escape_str(r#"a"b\c${d}$e"#), r#""a\"b\\c\${d}$e""#);
        assert_eq!(escape_str("x\ny"), r#""x\ny""#);
        assert_eq!(escape_str("$${x}"), r#""$\${x}""#);
    }

    #[test]
    fn quotes_attr_names_that_are_not_identifiers() {
        assert_eq!(attr_name("hearth-wireguard-key"), "hearth-wireguard-key");
        assert_eq!(attr_name("vps/wireguard-key.age"), "\"vps/wireguard-key.age\"");
        assert_eq!(attr_name("in"), "\"in\"");
        assert_eq!(attr_name("1abc"), "\"1abc\"");
    }

    #[test]
    fn printed_values_parse() {
        let v: Value = Attrs::new()
            .set("a", "x\"${y}")
            .set("b", vec![1u16, 2, 3])
            .set("c", Value::Null)
            .set("d", Attrs::new().set("e f", true))
            .set("n", -3i64)
            .set_path(&["hearth", "wire guard"], 1u16)
            .into();
        let s = print(&v);
        assert_eq!(parse_errors(&s), None, "{s}");
        assert!(s.contains("  hearth.\"wire guard\" = 1;\n"), "{s}");
    }

    #[test]
    #[should_panic(expected = "unsafe path literal")]
    fn rejects_unsafe_path_literals() {
        Value::rel_path("../x y");
    }
}

//! Validated value types (in the style of innernet's `Endpoint` and
//! `Hostname`): WireGuard keys, endpoints, SSH public keys, age recipients
//! and port specs are parsed once, where they enter hearth (the inventory
//! file through serde, a command line through [`arg`]), and the rest of
//! hearth holds the parsed value instead of re-parsing a `String`.
//!
//! Each type keeps the exact text it was parsed from: `Display` and serde give
//! it back unchanged, so a render writes byte for byte what it wrote when
//! these fields were strings. Where `modules/lib/util/rules.json` has a rule
//! the JSON schema carries its pattern; `Endpoint` checks the `endpoint` rule
//! through [`crate::rules`], and `WgKey`'s strict decoder is the
//! `wireguardKey` rule (a property test below proves they agree).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use schemars::schema::{InstanceType, Metadata, Schema, SchemaObject, StringValidation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::keys::KeyError;
use crate::secrets::{Recipient, RecipientKind, SecretsError};

/// What is wrong with a value.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("value `{0}` holds a control character (a newline, tab, NUL or escape)")]
    ControlCharacter(String),
    #[error("`{shown}` is not {desc}")]
    Rule { shown: String, desc: &'static str },
    #[error("endpoint `{0}` has no valid port (1-65535)")]
    Port(String),
    #[error("endpoint host `{0}` is not an IPv6 address")]
    Ipv6(String),
    #[error("endpoint host `{0}` is not a hostname or IP address")]
    Hostname(String),
    #[error("not a WireGuard key: {0}")]
    WgKey(#[source] KeyError),
    #[error("is not an OpenSSH public key ({0})")]
    SshKey(#[source] ssh_key::Error),
    #[error("{0}")]
    Recipient(#[source] SecretsError),
    #[error("is an age recipient; a host key is the host's `ssh-ed25519 AAAA...` key")]
    NotSshEd25519,
    #[error("port {0} is not a port (1-65535)")]
    PortNumber(i64),
    #[error("`{0}` is not a port (1-65535) or a range like `8000-8100`")]
    PortRange(String),
    #[error("an empty port list names no port")]
    NoPorts,
}

/// A value that failed to parse: what is wrong, and what to do about it.
/// Printed as `<what>\n  hint: <fix>`, the layout of `hearth check`.
#[derive(Debug, thiserror::Error)]
#[error("{invalid}\n  hint: {hint}")]
pub struct ParseError {
    pub invalid: Invalid,
    pub hint: &'static str,
}

impl ParseError {
    fn new(invalid: Invalid, hint: &'static str) -> Self {
        Self { invalid, hint }
    }
    /// What is wrong, without the hint (for [`crate::validate::Sink::err`]).
    pub fn message(&self) -> String {
        self.invalid.to_string()
    }
}

/// `s` escaped for a message.
fn shown(s: &str) -> String {
    s.escape_debug().to_string()
}

/// A single line of printable text (a NUL cuts a Nix string short, a
/// newline adds a line to an ssh or WireGuard config).
fn one_line(s: &str, hint: &'static str) -> Result<(), ParseError> {
    if s.chars().any(char::is_control) {
        return Err(ParseError::new(Invalid::ControlCharacter(shown(s)), hint));
    }
    Ok(())
}

/// The `rules.json` rule `name`, or an error with `hint`.
fn rule(name: &str, s: &str, hint: &'static str) -> Result<(), ParseError> {
    let r = crate::rules::rule(name);
    if r.matches(s) {
        Ok(())
    } else {
        Err(ParseError::new(Invalid::Rule { shown: shown(s), desc: r.desc.as_str() }, hint))
    }
}

/// A JSON schema string, anchored to the `rules.json` rule `name` when given.
fn string_schema(description: &str, rule: Option<&str>) -> Schema {
    Schema::Object(SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        metadata: Some(Box::new(Metadata { description: Some(description.into()), ..Default::default() })),
        string: rule.map(|r| Box::new(StringValidation { pattern: Some(format!("^(?:{})$", crate::rules::rule(r).pattern)), ..Default::default() })),
        ..Default::default()
    })
}

/// Serde as a string, schemars as a string, `TryFrom<String>`/`Into<String>`
/// and `Display` of the exact text, for a type with a `text` field.
///
/// Deserialized through a string visitor rather than `#[serde(try_from =
/// "String")]`: the parse then fails inside the TOML deserializer of the
/// value itself, so the error carries that value's span (an element of an
/// array, not the whole array) and `inventory.toml:LINE:COL` points at it.
macro_rules! string_type {
    ($t:ident, $desc:expr, $rule:expr) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.text)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($desc)
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }
        impl TryFrom<String> for $t {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.text
            }
        }
        impl $t {
            /// The exact text it was parsed from.
            pub fn as_str(&self) -> &str {
                &self.text
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.text
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, o: &str) -> bool {
                self.text == o
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> String {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> Schema {
                string_schema($desc, $rule)
            }
        }
    };
}

/// A WireGuard public key: base64 of 32 bytes (the shared `wireguardKey`
/// rule: 44 characters, canonical, ending in `=`).
///
/// Parsing decodes the key; it does not run the rule's regex, which the
/// strict base64 decoder implies (canonical padding, no trailing bits: 43
/// characters whose last one is in `[AEIMQUYcgkosw048]`, then `=`). A
/// regex per key cost 9% of `hearth check` on 5,000 peers (`regex` is built
/// without its DFAs here); the test `wg_key_parse_is_the_wireguard_key_rule`
/// proves on random strings that the two accept exactly the same keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WgKey {
    text: String,
}

const WG_HINT: &str = "a WireGuard public key is what `wg pubkey` prints (44 characters of base64 ending in `=`); for a key hearth generated, remove it and run `hearth render` (a peer: `hearth peer rotate NAME`)";

impl FromStr for WgKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        // The key itself is not echoed: a private key has the same form.
        crate::keys::check_key(s).map_err(|e| ParseError::new(Invalid::WgKey(e), WG_HINT))?;
        Ok(Self { text: s.to_owned() })
    }
}

string_type!(WgKey, "A WireGuard public key (base64 of 32 bytes, 44 characters ending in `=`).", Some("wireguardKey"));

/// The host part of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointHost {
    /// A DNS name.
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl fmt::Display for EndpointHost {
    /// The host as a resolver or `ip` takes it (an IPv6 address without brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointHost::Name(n) => f.write_str(n),
            EndpointHost::V4(a) => write!(f, "{a}"),
            EndpointHost::V6(a) => write!(f, "{a}"),
        }
    }
}

/// A public `HOST:PORT` or `[IPv6]:PORT` (the shared `endpoint` rule, then
/// a port of 1-65535 and a hostname of valid labels or an IP address).
/// `Display` gives back the inventory's text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    text: String,
    host: EndpointHost,
    port: u16,
}

const ENDPOINT_HINT: &str = "write HOST:PORT, e.g. endpoint = \"vps.example.net:51820\" (an IPv6 address in brackets: \"[2001:db8::1]:51820\")";

impl Endpoint {
    pub fn host(&self) -> &EndpointHost {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The host as written (an IPv6 address in its brackets).
    pub fn host_text(&self) -> &str {
        self.text.rsplit_once(':').map_or(self.text.as_str(), |(h, _)| h)
    }
}

impl FromStr for Endpoint {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        rule("endpoint", s, ENDPOINT_HINT)?;
        let bad_port = || ParseError::new(Invalid::Port(shown(s)), ENDPOINT_HINT);
        // The rule guarantees a `:PORT` suffix of digits.
        let (host, port) = s.rsplit_once(':').ok_or_else(bad_port)?;
        let port: u16 = port.parse().map_err(|_| bad_port())?;
        if port == 0 {
            return Err(bad_port());
        }
        let host = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            EndpointHost::V6(v6.parse().map_err(|_| ParseError::new(Invalid::Ipv6(shown(v6)), ENDPOINT_HINT))?)
        } else if let Ok(a) = host.parse::<Ipv4Addr>() {
            EndpointHost::V4(a)
        } else {
            let ok = host.len() <= 253 && host.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
            if !ok {
                return Err(ParseError::new(Invalid::Hostname(shown(host)), ENDPOINT_HINT));
            }
            EndpointHost::Name(host.to_owned())
        };
        Ok(Self { text: s.to_owned(), host, port })
    }
}

string_type!(Endpoint, "A public endpoint HOST:PORT or [IPv6]:PORT.", Some("endpoint"));

/// An OpenSSH public key line (`ssh-ed25519 AAAA... comment`): one line, no
/// control characters, parsed by the `ssh_key` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    text: String,
    key: ssh_key::PublicKey,
}

const SSH_HINT: &str = "paste the one line of ~/.ssh/id_ed25519.pub (one key per list entry)";

impl SshPublicKey {
    pub fn key(&self) -> &ssh_key::PublicKey {
        &self.key
    }
}

impl FromStr for SshPublicKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        one_line(s, SSH_HINT)?;
        let key = s.parse::<ssh_key::PublicKey>().map_err(|e| ParseError::new(Invalid::SshKey(e), SSH_HINT))?;
        Ok(Self { text: s.to_owned(), key })
    }
}

string_type!(SshPublicKey, "An OpenSSH public key, one line (`ssh-ed25519 AAAA... comment`).", None);

/// Whom a secret is encrypted to: an age X25519 key (`age1...`) or an
/// `ssh-ed25519` public key, as [`Recipient`] accepts it. Keeps the text as
/// written (a comment included); [`AgeRecipient::recipient`] is the parsed,
/// canonical key.
#[derive(Debug, Clone)]
pub struct AgeRecipient {
    text: String,
    recipient: Recipient,
}

const RECIPIENT_HINT: &str = "generate one with `age-keygen` or use your `~/.ssh/id_ed25519.pub`";

impl AgeRecipient {
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }
    fn parse_with(s: &str, hint: &'static str) -> Result<Self, ParseError> {
        one_line(s, hint)?;
        let recipient = s.parse::<Recipient>().map_err(|e| ParseError::new(Invalid::Recipient(e), hint))?;
        Ok(Self { text: s.to_owned(), recipient })
    }
}

impl PartialEq for AgeRecipient {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}

impl FromStr for AgeRecipient {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse_with(s, RECIPIENT_HINT)
    }
}

string_type!(AgeRecipient, "An age X25519 public key (`age1...`) or an `ssh-ed25519 AAAA...` public key.", None);

/// A host's SSH host key: an [`AgeRecipient`] that is `ssh-ed25519` (the
/// host's secrets are encrypted to it, and agenix decrypts with it).
#[derive(Debug, Clone, PartialEq)]
pub struct SshHostKey {
    text: String,
    recipient: AgeRecipient,
}

const HOST_KEY_HINT: &str = "get it with `ssh-keyscan -t ed25519 HOST` or from /etc/ssh/ssh_host_ed25519_key.pub";

impl SshHostKey {
    pub fn recipient(&self) -> &Recipient {
        self.recipient.recipient()
    }
}

impl FromStr for SshHostKey {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.trim_start().starts_with("age1") {
            return Err(ParseError::new(Invalid::NotSshEd25519, HOST_KEY_HINT));
        }
        let recipient = AgeRecipient::parse_with(s, HOST_KEY_HINT)?;
        if recipient.recipient().kind() != RecipientKind::SshEd25519 {
            return Err(ParseError::new(Invalid::NotSshEd25519, HOST_KEY_HINT));
        }
        Ok(Self { text: s.to_owned(), recipient })
    }
}

string_type!(SshHostKey, "An SSH host public key, `ssh-ed25519 AAAA...` (from `ssh-keyscan -t ed25519 HOST`).", None);

/// An inclusive port range, 1-65535, `start <= end` (`"8000-8100"`; `"80"`
/// is the range of one port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

const PORT_HINT: &str = "e.g. port = 3000, port = \"8000-8100\" or port = [80, 443] (on the command line: --port 80,443,8000-8100)";

impl PortRange {
    pub fn contains(&self, p: u16) -> bool {
        self.start <= p && p <= self.end
    }
    pub fn overlaps(&self, o: &PortRange) -> bool {
        self.start <= o.end && o.start <= self.end
    }
    /// The one port `p` (1-65535).
    pub fn one(p: i64) -> Result<Self, ParseError> {
        match u16::try_from(p) {
            Ok(p) if p != 0 => Ok(PortRange { start: p, end: p }),
            _ => Err(ParseError::new(Invalid::PortNumber(p), PORT_HINT)),
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl FromStr for PortRange {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new(Invalid::PortRange(shown(s)), PORT_HINT);
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let start: u16 = a.parse().map_err(|_| bad())?;
        let end: u16 = b.parse().map_err(|_| bad())?;
        if start == 0 || end < start {
            return Err(bad());
        }
        Ok(PortRange { start, end })
    }
}

impl JsonSchema for PortRange {
    fn schema_name() -> String {
        "PortRange".into()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> Schema {
        string_schema("A port range `START-END` (1-65535, START <= END), or one port as a string.", None)
    }
}

/// A service's ports: a port (`3000`), a range (`"8000-8100"`), or a
/// non-empty list of either.
// Every port is 1-65535 and every range runs upwards once parsed (the
// `Deserialize` and `FromStr` below), so `ranges` cannot fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PortSpec {
    One(#[schemars(range(min = 1))] u16),
    Range(PortRange),
    List(#[schemars(length(min = 1))] Vec<PortItem>),
}

/// One item of a port list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PortItem {
    One(#[schemars(range(min = 1))] u16),
    Range(PortRange),
}

impl PortItem {
    fn range(&self) -> PortRange {
        match self {
            PortItem::One(p) => PortRange { start: *p, end: *p },
            PortItem::Range(r) => *r,
        }
    }
}

impl PortSpec {
    /// The ranges this spec names, in the order written.
    pub fn ranges(&self) -> Vec<PortRange> {
        match self {
            PortSpec::One(p) => vec![PortRange { start: *p, end: *p }],
            PortSpec::Range(r) => vec![*r],
            PortSpec::List(l) => l.iter().map(PortItem::range).collect(),
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ranges().iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","))
    }
}

/// The command line's form: `3000`, `8000-8100` or `80,443,8000-8100`.
impl FromStr for PortSpec {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let items = s
            .split(',')
            .map(|i| {
                let r: PortRange = i.parse()?;
                Ok(if r.start == r.end { PortItem::One(r.start) } else { PortItem::Range(r) })
            })
            .collect::<Result<Vec<_>, ParseError>>()?;
        Ok(match <[PortItem; 1]>::try_from(items) {
            Ok([PortItem::One(p)]) => PortSpec::One(p),
            Ok([PortItem::Range(r)]) => PortSpec::Range(r),
            Err(items) => PortSpec::List(items),
        })
    }
}

/// Deserializes an integer or a string as a [`PortItem`] (a visitor, so a
/// bad item is located at itself, see [`string_type`]).
struct ItemVisitor;

impl serde::de::Visitor<'_> for ItemVisitor {
    type Value = PortItem;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a port (3000) or a range (\"8000-8100\")")
    }
    fn visit_i64<E: serde::de::Error>(self, p: i64) -> Result<PortItem, E> {
        PortRange::one(p).map(|r| PortItem::One(r.start)).map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, p: u64) -> Result<PortItem, E> {
        self.visit_i64(i64::try_from(p).unwrap_or(i64::MAX))
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PortItem, E> {
        s.parse::<PortRange>().map(PortItem::Range).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for PortItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PortSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port (3000), a range (\"8000-8100\") or a list of them")
            }
            fn visit_i64<E: serde::de::Error>(self, p: i64) -> Result<PortSpec, E> {
                PortRange::one(p).map(|r| PortSpec::One(r.start)).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, p: u64) -> Result<PortSpec, E> {
                self.visit_i64(i64::try_from(p).unwrap_or(i64::MAX))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PortSpec, E> {
                s.parse::<PortRange>().map(PortSpec::Range).map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PortSpec, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = seq.next_element::<PortItem>()? {
                    items.push(i);
                }
                if items.is_empty() {
                    return Err(serde::de::Error::custom(ParseError::new(Invalid::NoPorts, PORT_HINT)));
                }
                Ok(PortSpec::List(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// The clap value parser of a type here (`#[arg(value_parser =
/// types::arg::<Endpoint>())]`): surrounding whitespace is ignored (a key
/// pasted as `"$(cat key.pub)"`), and the error is [`ParseError`]'s, which
/// shows the value escaped. (clap's own error for a `FromStr` type would
/// print the value raw, an escape sequence included.)
pub fn arg<T>() -> Arg<T> {
    Arg(std::marker::PhantomData)
}

/// See [`arg`].
pub struct Arg<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Clone for Arg<T> {
    fn clone(&self) -> Self {
        Arg(std::marker::PhantomData)
    }
}

impl<T: FromStr<Err = ParseError> + Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Arg<T> {
    type Value = T;
    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<T, clap::Error> {
        let name = arg.map_or_else(|| "a value".to_owned(), |a| format!("'{a}'"));
        let err = |m: String| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("invalid value for {name}: {m}\n")).with_cmd(cmd);
        let s = value.to_str().ok_or_else(|| err("it is not UTF-8 text".into()))?;
        s.trim().parse().map_err(|e: ParseError| err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WG: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
    const SSH: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEdrWyzvJzqpGgCbsfzjYr04vNe5dgJ02pzYYjH9MvMv";

    #[test]
    fn wg_keys_keep_their_text_and_reject_what_wg_would() {
        let k: WgKey = WG.parse().unwrap();
        assert_eq!(k.to_string(), WG);
        for bad in ["", "short", "YWJj", &WG[..43], &format!("{WG}\n"), "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh="] {
            let e = bad.parse::<WgKey>().unwrap_err();
            assert!(e.to_string().contains("not a WireGuard key") && e.to_string().contains("\n  hint: "), "{bad:?}: {e}");
        }
    }

    proptest::proptest! {
        /// The parser accepts exactly what rules.json's `wireguardKey` rule
        /// accepts (which `tests/rules_agree.rs` proves the Nix renderers
        /// accept): random base64-ish strings, and valid keys with one
        /// character replaced, cut or added.
        #[test]
        fn wg_key_parse_is_the_wireguard_key_rule(
            s in "[A-Za-z0-9+/=]{40,46}",
            at in 0usize..44,
            c in proptest::char::range('+', 'z'),
            seed in proptest::array::uniform32(0u8..),
        ) {
            use base64::Engine as _;
            let rule = crate::rules::rule("wireguardKey");
            let key = base64::engine::general_purpose::STANDARD.encode(seed);
            let mut replaced = key.clone();
            replaced.replace_range(at..at + 1, &c.to_string());
            for t in [s.clone(), key.clone(), replaced, key[..at].to_string(), format!("{key}{c}"), format!("{}{c}=", &key[..42])] {
                proptest::prop_assert_eq!(rule.matches(&t), t.parse::<WgKey>().is_ok(), "{:?}", t);
            }
        }
    }

    #[test]
    fn endpoints_split_once_and_display_as_written() {
        let e: Endpoint = "vps.example.net:51820".parse().unwrap();
        assert_eq!((e.host(), e.port(), e.to_string().as_str()), (&EndpointHost::Name("vps.example.net".into()), 51820, "vps.example.net:51820"));
        let e: Endpoint = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!((e.host(), e.port(), e.host_text()), (&EndpointHost::V6("2001:db8::1".parse().unwrap()), 443, "[2001:db8::1]"));
        let e: Endpoint = "192.0.2.1:1".parse().unwrap();
        assert_eq!(e.host(), &EndpointHost::V4(Ipv4Addr::new(192, 0, 2, 1)));
        for (bad, says) in [
            ("vps.example.net", "is not an endpoint"),
            ("h:+51821", "is not an endpoint"),
            ("[h:51821", "is not an endpoint"),
            ("h:65536", "no valid port"),
            ("h:99999", "no valid port"),
            ("[1:2:3]:80", "not an IPv6 address"),
            ("-h.example:80", "not a hostname"),
            ("a..b:80", "not a hostname"),
        ] {
            let e = bad.parse::<Endpoint>().unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("hint: write HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn ssh_keys_are_one_parsed_line() {
        let k: SshPublicKey = format!("{SSH} me@laptop").parse().unwrap();
        assert_eq!(k.to_string(), format!("{SSH} me@laptop"));
        assert_eq!(k.key().algorithm(), ssh_key::Algorithm::Ed25519);
        let e = format!("{SSH} x\nPermitRootLogin yes").parse::<SshPublicKey>().unwrap_err().to_string();
        assert!(e.contains("control character"), "{e}");
        let e = "ssh-ed25519 AAAA".parse::<SshPublicKey>().unwrap_err().to_string();
        assert!(e.contains("is not an OpenSSH public key") && e.contains("id_ed25519.pub"), "{e}");
    }

    #[test]
    fn recipients_keep_the_comment_and_parse_canonically() {
        let r: AgeRecipient = format!("{SSH} admin").parse().unwrap();
        assert_eq!(r.to_string(), format!("{SSH} admin"));
        assert_eq!(r.recipient().as_str(), SSH);
        assert!("age1nope".parse::<AgeRecipient>().unwrap_err().to_string().contains("age-keygen"));
        // A made-up TEST value shaped like a private key's prefix (no key).
        let test_only_private_prefix = ["AGE", "SECRET", "KEY", "1QQQQ"].join("-");
        let e = test_only_private_prefix.parse::<AgeRecipient>().unwrap_err().to_string();
        assert!(e.contains("PRIVATE") && !e.contains("1QQQQ"), "{e}");
        assert!(format!("{SSH} a\u{0}b").parse::<AgeRecipient>().unwrap_err().to_string().contains("a\\0b` holds a control character"));
    }

    #[test]
    fn host_keys_are_ssh_ed25519_only() {
        assert!(SSH.parse::<SshHostKey>().is_ok());
        let e = "age13qdpee72d29aty74f9drjpy4qj3q39ysr7z6uckxp0c4ckjhxpmslq63mt".parse::<SshHostKey>().unwrap_err().to_string();
        assert!(e.contains("is an age recipient") && e.contains("ssh-keyscan"), "{e}");
        assert!("ssh-rsa AAAA".parse::<SshHostKey>().is_err());
    }

    #[test]
    fn serde_round_trips_the_text_and_rejects_with_the_hint() {
        #[derive(Deserialize, Serialize)]
        struct T {
            e: Endpoint,
            k: WgKey,
        }
        let t: T = toml::from_str(&format!("e = \"h.example:51820\"\nk = \"{WG}\"\n")).unwrap();
        assert_eq!(toml::to_string(&t).unwrap(), format!("e = \"h.example:51820\"\nk = \"{WG}\"\n"));
        let err = toml::from_str::<T>(&format!("e = \"h.example\"\nk = \"{WG}\"\n")).err().unwrap();
        assert!(err.message().contains("is not an endpoint") && err.message().contains("hint:"), "{err}");
        assert_eq!(err.span().map(|s| s.start), Some(4));
    }

    #[test]
    fn port_specs_parse_once_and_expand_to_ranges() {
        #[derive(Deserialize, Serialize)]
        struct T {
            port: PortSpec,
        }
        let r = |start, end| PortRange { start, end };
        for (text, want) in [("80", vec![r(80, 80)]), ("\"8000-8100\"", vec![r(8000, 8100)]), ("[80, \"443\", \"1-2\"]", vec![r(80, 80), r(443, 443), r(1, 2)])] {
            let t: T = toml::from_str(&format!("port = {text}")).unwrap();
            assert_eq!(t.port.ranges(), want, "{text}");
            assert_eq!(toml::to_string(&t).unwrap(), format!("port = {text}\n").replace("\"443\"", "\"443\""), "{text}");
        }
        for (text, says, at) in [
            ("0", "port 0 is not a port", 7),
            ("65536", "port 65536 is not a port", 7),
            ("\"9-1\"", "`9-1` is not a port (1-65535) or a range", 7),
            ("[80, \"x\"]", "`x` is not a port", 12),
            ("[]", "an empty port list", 7),
        ] {
            let e = toml::from_str::<T>(&format!("port = {text}")).err().unwrap();
            assert!(e.message().contains(says) && e.message().contains("hint: e.g. port = 3000"), "{text}: {e}");
            assert_eq!(e.span().map(|s| s.start), Some(at), "{text}: {e}");
        }
        assert_eq!("80".parse::<PortSpec>().unwrap(), PortSpec::One(80));
        assert_eq!("80-81".parse::<PortSpec>().unwrap(), PortSpec::Range(r(80, 81)));
        assert_eq!("80,90-91".parse::<PortSpec>().unwrap().to_string(), "80,90-91");
        assert!("80,".parse::<PortSpec>().is_err() && "0".parse::<PortSpec>().is_err());
    }

    #[test]
    fn clap_errors_show_the_value_escaped_with_the_hint() {
        let cmd = clap::Command::new("t").arg(clap::Arg::new("key").long("ssh-key").value_parser(arg::<SshPublicKey>()));
        let ok = cmd.clone().try_get_matches_from(["t", "--ssh-key", &format!("  {SSH} me\n")]).unwrap();
        assert_eq!(ok.get_one::<SshPublicKey>("key").unwrap().as_str(), format!("{SSH} me"));
        let e = cmd.try_get_matches_from(["t", "--ssh-key", &format!("{SSH} a\u{1b}b")]).unwrap_err();
        let text = e.render().to_string();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(!text.contains('\u{1b}') && text.contains("a\\u{1b}b` holds a control character") && text.contains("hint: paste"), "{text}");
    }

    #[test]
    fn schemas_carry_the_rules_json_pattern() {
        let s = serde_json::to_value(schemars::schema_for!(Endpoint)).unwrap();
        assert_eq!(s["pattern"], format!("^(?:{})$", crate::rules::rule("endpoint").pattern));
        let s = serde_json::to_value(schemars::schema_for!(WgKey)).unwrap();
        assert_eq!(s["pattern"], format!("^(?:{})$", crate::rules::rule("wireguardKey").pattern));
    }
}

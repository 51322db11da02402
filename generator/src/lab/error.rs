//! [`LabError`]: every way the lab (and an area's lab stage) can fail.
//!
//! Each variant carries what the user needs to act: the namespace or path,
//! the command with its exit status and stderr, the fix. A step that adds
//! context to a lower error ("WireGuard on vps", "loading the identity ...")
//! is [`LabError::Step`], whose source is the error itself; the binary
//! prints the whole chain (`error: WireGuard on vps: "wg" "set" ... failed
//! (exit status: 1): ...`). [`chain`] gives the same text inside the
//! library (reports, teardown problems).
//!
//! [`Context`] turns a lower error into a located one:
//! `fs::read(p).with_context(|| format!("reading {}", p.display()))?`.

use std::error::Error as StdError;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitStatus;

use ipnet::Ipv4Net;

use crate::preview::PreviewError;
use crate::secrets::SecretsError;

/// `Result` with [`LabError`] as its default error.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// An error of an area's own lab stage, wrapped by [`LabError::Area`].
pub type AreaSource = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file, directory or system call failed: `what` names the path or action.
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },

    /// A program ran and failed.
    #[error("{} failed ({status}): {stderr}", shown_command(program, args))]
    Command { program: String, args: Vec<String>, status: ExitStatus, stderr: String },

    /// A step of the lab failed because of `source`.
    #[error("{what}")]
    Step { what: String, source: Box<LabError> },

    #[error("{what}: {source}")]
    Json { what: String, source: serde_json::Error },

    #[error(transparent)]
    Secrets(#[from] SecretsError),

    /// Evaluating the renderers (`modules/lib/`) with nix-instantiate.
    #[error(transparent)]
    Nix(#[from] PreviewError),

    #[error(transparent)]
    Inventory(#[from] crate::inventory::LoadError),

    #[error("{what}: {source}")]
    SshKey { what: String, source: ssh_key::Error },

    /// The lab cannot be built from this repository.
    #[error(transparent)]
    Plan(#[from] PlanError),

    /// Root, tools or the tun device are missing.
    #[error("hearth lab cannot run here; missing:\n  {}", missing.join("\n  "))]
    Preflight { missing: Vec<String> },

    /// Tools an area's stage needs: (program, Debian package).
    #[error("missing {}", crate::lab::tools_message(&absent.iter().map(|(t, p)| (t.as_str(), p.as_str())).collect::<Vec<_>>()).unwrap_or_default())]
    MissingTools { absent: Vec<(String, String)> },

    #[error("`{}` is not a lab prefix (hl and 4 hex digits, e.g. hl1a2b; `hearth lab list` shows them)", prefix.escape_debug())]
    NotAPrefix { prefix: String },

    #[error("no lab `{prefix}` (no {}): {source}", state.display())]
    NoLab { prefix: String, state: PathBuf, source: io::Error },

    #[error("no lab is up; start one with `hearth lab up`")]
    NoLabUp,

    #[error("several labs are up ({}); pick one with --lab", labs.join(", "))]
    SeveralLabs { labs: Vec<String> },

    #[error("no node `{node}` in lab {prefix}; nodes: {}", nodes.join(", "))]
    NoNode { node: String, prefix: String, nodes: Vec<String> },

    #[error("no command given (hearth lab exec NODE -- CMD ...)")]
    NoCommand,

    /// A daemon the lab started exited or never became ready.
    #[error("{daemon} did not start (see {})", log.display())]
    DidNotStart { daemon: String, log: PathBuf },

    #[error("{node} is not listening on {addr} {secs} s after it was started (see {}/)", dir.display())]
    NotListening { node: String, addr: SocketAddrV4, secs: u64, dir: PathBuf },

    #[error("{what} thread panicked")]
    Panicked { what: &'static str },

    /// A program's output is not what the lab reads from it.
    #[error("cannot read {what} from {output:?}")]
    Unreadable { what: &'static str, output: String },

    /// The scan from a client made no progress (see `probe::syn_scan`).
    #[error("no probe reaches the gateway: none of this client's probes arrived for {secs} s ({confirmed} of {total} probes confirmed, {resent} chunks re-sent)")]
    NoProbeArrives { secs: u64, confirmed: usize, total: usize, resent: usize },

    #[error(
        "probes keep getting lost on the way to the gateway: no chunk arrived whole for {secs} s, the last {got} of {len} at {rate:.0}/s ({confirmed} of {total} probes confirmed, {resent} chunks re-sent)"
    )]
    ProbesLost { secs: u64, got: u64, len: usize, rate: f64, confirmed: usize, total: usize, resent: usize },

    /// A renderer's output (evaluated with nix-instantiate) is not what
    /// the lab uses: `expected` is e.g. `text` or `an IPv4 address`.
    #[error("{expr} gave {value}, not {expected}")]
    Rendered { expr: String, value: String, expected: &'static str },

    #[error("the plan has no bastion")]
    NoBastion,

    #[error("the bastion trusts a user CA but its secret is not in the inventory's secrets")]
    NoCaSecret,

    #[error("no client or LAN host to log in from")]
    NoLoginSource,

    /// The lab came up only partly and its teardown left something behind.
    #[error("{}{}", chain(source.as_ref()), teardown.iter().map(|p| format!("\nteardown: {p}")).collect::<String>())]
    BringUp { source: Box<LabError>, teardown: Vec<String> },

    /// An area's own lab stage failed.
    #[error("{area} lab stage")]
    Area { area: &'static str, source: AreaSource },
}

/// Why no lab plan can be made from the repository.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the inventory's networks overlap the lab's own segment {segment}")]
    Overlap { segment: Ipv4Net },

    #[error("{} is missing: run `hearth render` first", path.display())]
    NotRendered { path: PathBuf },

    #[error("the inventory has no wireguard-gateway host: nothing to bring up")]
    NoGateway,

    /// `role` is `gateway` or `bastion`.
    #[error("{role} `{host}` has no LAN address")]
    NoAddress { role: &'static str, host: String },

    #[error("no PAM modules found (apt install libpam-modules libpam-google-authenticator)")]
    NoPam,

    #[error("gateway `{host}` is the listener but has no listenPort")]
    NoListenPort { host: String },

    #[error("no evaluation of the renderers for {host}")]
    NoEvaluation { host: String },

    #[error("hosts/{host}/hearth.nix has no enabled hearth.wireguard")]
    NoWireguard { host: String },

    #[error("hosts/{host}/hearth.nix: no age.secrets.{name}")]
    NoAgeSecret { host: String, name: String },

    #[error("`{value}` is not an IPv4 address or network")]
    NotIpv4 { value: String },

    #[error("MTU `{value}` is not a number: {source}")]
    Mtu { value: String, source: std::num::ParseIntError },

    #[error("{addr}/{len} is not a network (prefix length)")]
    PrefixLen { addr: Ipv4Addr, len: u8 },

    #[error("endpoint `{endpoint}` is not a host of the inventory; the lab only dials its own namespaces")]
    UnknownEndpoint { endpoint: String },

    #[error("{file} is not below {}", dir.display())]
    SecretOutside { file: String, dir: PathBuf },

    #[error("lab node `{node}` of area {area} exists already")]
    DuplicateNode { node: String, area: &'static str },

    #[error("too many clients for the lab's internet segment")]
    TooManyClients,

    #[error("client {client}: no Address")]
    NoClientAddress { client: String },

    #[error("no key secret for {client}")]
    NoKeySecret { client: String },

    #[error("client {client}: {reason}")]
    ClientConfig { client: String, reason: String },

    #[error("acl_tests[{test}]: {reason}")]
    AclTarget { test: usize, reason: String },

    #[error("bastion {host} is not the gateway; only a gateway bastion is supported in the lab")]
    BastionNotGateway { host: String },

    #[error("the bastion has no TOTP user; the lab's 2FA checks need one")]
    NoTotpUser,
}

/// `"prog" "arg" ...`, as `Command`'s Debug shows a command line.
fn shown_command(program: &str, args: &[String]) -> String {
    std::iter::once(program).chain(args.iter().map(String::as_str)).map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" ")
}

impl LabError {
    /// A finished command that failed.
    pub fn command(cmd: &std::process::Command, status: ExitStatus, stderr: &[u8]) -> LabError {
        LabError::Command {
            program: cmd.get_program().to_string_lossy().into_owned(),
            args: cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect(),
            status,
            stderr: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }

    /// `cannot start "prog" "arg" ...`: the program could not be run at all.
    pub fn spawn(cmd: &std::process::Command, source: io::Error) -> LabError {
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        LabError::Io { what: format!("cannot start {}", shown_command(&cmd.get_program().to_string_lossy(), &args)), source }
    }

    /// The last OS error (`errno`), for a raw system call that failed.
    pub fn os(what: impl Into<String>) -> LabError {
        LabError::Io { what: what.into(), source: io::Error::last_os_error() }
    }

    /// An area's stage error (the area's own `thiserror` enum).
    pub fn area(area: &'static str, source: impl StdError + Send + Sync + 'static) -> LabError {
        LabError::Area { area, source: Box::new(source) }
    }
}

/// The error and its causes, each once, separated by `: ` (a cause whose
/// text the message already holds is not repeated), as the binary prints it.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

/// A lower error that becomes a [`LabError`] once told what was being done.
pub trait Cause {
    fn within(self, what: String) -> LabError;
}

impl Cause for io::Error {
    fn within(self, what: String) -> LabError {
        LabError::Io { what, source: self }
    }
}

impl Cause for LabError {
    fn within(self, what: String) -> LabError {
        LabError::Step { what, source: Box::new(self) }
    }
}

impl Cause for SecretsError {
    fn within(self, what: String) -> LabError {
        LabError::Secrets(self).within(what)
    }
}

impl Cause for PreviewError {
    fn within(self, what: String) -> LabError {
        LabError::Nix(self).within(what)
    }
}

impl Cause for serde_json::Error {
    fn within(self, what: String) -> LabError {
        LabError::Json { what, source: self }
    }
}

impl Cause for ssh_key::Error {
    fn within(self, what: String) -> LabError {
        LabError::SshKey { what, source: self }
    }
}

/// `.context("what")` / `.with_context(|| format!(...))` on a result whose
/// error is a [`Cause`].
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, LabError>;
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, LabError>;
}

impl<T, E: Cause> Context<T> for Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T, LabError> {
        self.map_err(|e| e.within(what.into()))
    }
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, LabError> {
        self.map_err(|e| e.within(what().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_names_program_arguments_status_and_stderr() {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", "echo nope >&2; exit 3"]);
        let out = c.output().unwrap();
        let e = LabError::command(&c, out.status, &out.stderr);
        assert_eq!(e.to_string(), "\"sh\" \"-c\" \"echo nope >&2; exit 3\" failed (exit status: 3): nope");
    }

    #[test]
    fn chain_shows_every_cause_once() {
        let io = io::Error::new(io::ErrorKind::NotFound, "gone");
        let e = Err::<(), _>(io).context("reading /x").context("the TOTP seed").unwrap_err();
        assert_eq!(chain(&e), "the TOTP seed: reading /x: gone");
        let b = LabError::BringUp { source: Box::new(e), teardown: vec!["user x: busy".into()] };
        assert_eq!(b.to_string(), "the TOTP seed: reading /x: gone\nteardown: user x: busy");
        assert_eq!(chain(&b), b.to_string());
    }

    #[test]
    fn an_area_error_keeps_its_cause() {
        let e = LabError::area("storage", LabError::NoLabUp);
        assert_eq!(chain(&e), "storage lab stage: no lab is up; start one with `hearth lab up`");
    }
}

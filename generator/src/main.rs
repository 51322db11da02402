//! The `hearth` binary: argument parsing and dispatch. All logic lives in the
//! library.

mod cmd;

use clap::{CommandFactory as _, FromArgMatches as _, Parser};

/// The exit status every command keeps (CI scripts rely on it).
const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  a check failed: `check` (the inventory does not parse, breaks a rule or
     fails an ACL test), `render --check` (a generated file or secret is out
     of date), `secret list` and `secrets rekey` (a damaged or stale secret),
     `lab run` (the data plane differs from the policy)
  2  an error: bad arguments, an unreadable file, a missing tool, or an edit,
     render or secret change that was refused (then nothing was changed)";

/// One inventory of a homelab, rendered into NixOS modules and age secrets.
///
/// Typical session:
///   hearth peer add phone --kind phone --group family
///   hearth service add grafana --host monitoring01 --port 3000 --allow family
///   hearth render && git add -A && git commit -m "phone may reach grafana"
///   nixos-rebuild switch --flake .#extgw01
#[derive(Debug, Parser)]
#[command(name = "hearth", version, verbatim_doc_comment, after_help = EXIT_STATUS)]
struct Cli {
    #[command(flatten)]
    global: cmd::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a new hearth repository (inventory, hosts/, secrets/, flake.nix).
    ///
    /// Examples:
    ///   hearth init homelab --domain home.example.net --lan 192.168.1.0/24 \
    ///       --admin "$(cat ~/.ssh/id_ed25519.pub)"
    ///   hearth init . --vpn 10.100.0.0/24
    #[command(verbatim_doc_comment)]
    Init(cmd::core::InitArgs),
    /// Write hosts/*/hearth.nix and secrets/secrets.nix from the inventory.
    ///
    /// Examples:
    ///   hearth render
    ///   hearth render --check        # CI: exit 1 when a generated file is stale
    ///   hearth --identity test-keys/admin-TEST-ONLY.agekey render
    #[command(verbatim_doc_comment)]
    Render(cmd::core::RenderArgs),
    /// Validate the inventory and decide every [[acl_tests]] entry; warn
    /// about what is valid but probably a mistake. Writes nothing.
    ///
    /// Examples:
    ///   hearth check
    ///   hearth --inventory ~/homelab/inventory.toml check
    #[command(verbatim_doc_comment)]
    Check,
    /// Print the inventory's JSON Schema.
    Schema,
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print one rendered part of a host as its NixOS module produces it.
    ///
    /// Examples:
    ///   hearth preview extgw01 nftables
    ///   hearth preview extgw01 sshd
    ///   hearth preview vps wireguard
    #[command(verbatim_doc_comment)]
    Preview(cmd::core::PreviewArgs),
    /// Hosts hearth renders a NixOS configuration for.
    #[command(subcommand)]
    Host(cmd::inventory_cmds::HostCommand),
    /// VPN peers: phones, laptops, other machines.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// LAN services VPN clients may reach.
    #[command(subcommand)]
    Service(cmd::inventory_cmds::ServiceCommand),
    /// Let a group or peer reach a service.
    ///
    /// Examples:
    ///   hearth allow grafana mobile
    ///   hearth allow jellyfin laptop
    #[command(verbatim_doc_comment)]
    Allow(cmd::inventory_cmds::AllowArgs),
    /// Stop a group or peer from reaching a service.
    ///
    /// Examples:
    ///   hearth deny grafana mobile
    ///   hearth deny sonarr laptop
    #[command(verbatim_doc_comment)]
    Deny(cmd::inventory_cmds::AllowArgs),
    /// Policy tests (`[[acl_tests]]`): what a group or peer must and must not reach.
    #[command(subcommand)]
    AclTest(cmd::inventory_cmds::AclTestCommand),
    /// LAN DNS resolvers for VPN peers (`network.resolvers`).
    #[command(subcommand)]
    Resolver(cmd::inventory_cmds::ResolverCommand),
    /// Admin recipients: who can decrypt every secret.
    ///
    /// Examples:
    ///   hearth admin add "$(cat ~/.ssh/id_ed25519.pub)" && hearth secrets rekey
    ///   hearth admin remove age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
    #[command(subcommand, verbatim_doc_comment)]
    Admin(cmd::inventory_cmds::AdminCommand),
    /// One secret: set, show, list, rotate.
    #[command(subcommand)]
    Secret(cmd::secret::SecretCommand),
    /// All secrets at once: rekey.
    #[command(subcommand)]
    Secrets(cmd::secret::SecretsCommand),
    /// Bastion users: TOTP seeds and SSH certificates.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Print ~/.ssh/config entries for the bastion and the LAN hosts behind it.
    ///
    /// Examples:
    ///   hearth ssh-config --user torjus >> ~/.ssh/config
    ///   ssh extgw01                    # key + TOTP code, then every LAN host through it
    #[command(verbatim_doc_comment)]
    SshConfig(cmd::user::SshConfigArgs),
    /// Bring the inventory up as network namespaces and prove the policy on real packets.
    #[command(subcommand)]
    Lab(cmd::lab::LabCommand),
}

#[derive(Debug, clap::Subcommand)]
enum PeerCommand {
    #[command(flatten)]
    Edit(cmd::inventory_cmds::PeerCommand),
    /// Give a peer a new keypair (and preshared key).
    ///
    /// Example:
    ///   hearth peer rotate phone && hearth render && hearth peer config phone --qr
    #[command(verbatim_doc_comment)]
    Rotate { name: String },
    /// Print a peer's wg-quick config (decrypted with the admin identity),
    /// as text, a terminal QR code, or a PNG/SVG image.
    ///
    /// Examples:
    ///   hearth peer config phone --qr
    ///   hearth peer config laptop --output /etc/wireguard/hearth0.conf
    #[command(verbatim_doc_comment)]
    Config(cmd::secret::PeerConfigArgs),
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => cmd::core::init(a, g),
        Command::Render(a) => cmd::core::render(a, g),
        Command::Check => cmd::core::check(g),
        Command::Schema => cmd::core::schema(),
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics when its
            // writer fails, and a closed pipe (`| head -3`) is not an error.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut command(), "hearth", &mut buf);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)?;
            Ok(0)
        }
        Command::Preview(a) => cmd::core::preview(a, g),
        Command::Host(c) => cmd::inventory_cmds::host(c, g),
        Command::Peer(PeerCommand::Edit(c)) => cmd::inventory_cmds::peer(c, g),
        Command::Peer(PeerCommand::Rotate { name }) => cmd::secret::peer_rotate(&name, g),
        Command::Peer(PeerCommand::Config(a)) => cmd::secret::peer_config(a, g),
        Command::Service(c) => cmd::inventory_cmds::service(c, g),
        Command::Allow(a) => cmd::inventory_cmds::allow(a, g, true),
        Command::Deny(a) => cmd::inventory_cmds::allow(a, g, false),
        Command::Admin(c) => cmd::inventory_cmds::admin(c, g),
        Command::AclTest(c) => cmd::inventory_cmds::acl_test(c, g),
        Command::Resolver(c) => cmd::inventory_cmds::resolver(c, g),
        Command::Secret(c) => cmd::secret::secret(c, g),
        Command::Secrets(c) => cmd::secret::secrets_cmd(c, g),
        Command::User(c) => cmd::user::user(c, g),
        Command::SshConfig(a) => cmd::user::ssh_config(a, g),
        Command::Lab(c) => cmd::lab::run(c, g),
    }
}

/// The whole command line: the core subcommands, then every area's own
/// (`hearth storage ...`), found in the library's registry of areas.
fn command() -> clap::Command {
    hearth::area::AREAS.iter().filter_map(|a| a.command()).fold(Cli::command(), |c, sub| c.subcommand(sub))
}

fn dispatch() -> anyhow::Result<i32> {
    let matches = command().get_matches();
    if let Some((name, sub)) = matches.subcommand() {
        if let Some(area) = hearth::area::AREAS.iter().find(|a| a.command().is_some_and(|c| c.get_name() == name)) {
            let global = cmd::Global::from_arg_matches(&matches)?;
            let cx = hearth::area::CliCx { inventory: global.inventory, identity: global.identity };
            return area.run(sub, &cx).map_err(|e| anyhow::anyhow!(e));
        }
    }
    run(Cli::from_arg_matches(&matches)?)
}

fn main() {
    match dispatch() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // A closed pipe (`hearth peer list | head`) is not an error.
            if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
                std::process::exit(0);
            }
            eprintln!("error: {}", message(&e));
            std::process::exit(2);
        }
    }
}

/// The error chain, each cause once: a cause whose text the message already
/// holds (an error that prints its `source` itself) is not repeated. Control
/// characters other than newlines (from a path or a value) are shown
/// escaped, never sent raw to the terminal.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    printable(&out)
}

/// `s` with control characters other than newlines (from a path or a value)
/// shown escaped, never sent raw to the terminal.
pub(crate) fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() && c != '\n' { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

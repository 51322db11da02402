//! `hearth init`, `render`, `check`, `schema`, `completions`, `preview`, and
//! the edit flow every inventory-changing command shares.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _};
use hearth::edit::Editor;
use hearth::inventory::Loaded;
use hearth::{policy, render, secrets, validate};

use super::Global;

/// Options every command that edits the inventory takes.
#[derive(Debug, Clone, clap::Args)]
pub struct EditOpts {
    /// Apply the edit even when it makes an `[[acl_tests]]` entry fail.
    #[arg(long)]
    pub force: bool,
}

/// The shared edit flow: lock, change, allocate, check ACL tests, generate
/// keys and secrets, write. Prints what changed. Nothing is written when the
/// change is invalid or breaks an ACL test (without --force).
pub fn edit(global: &Global, opts: &EditOpts, change: impl FnOnce(&mut Editor) -> anyhow::Result<Vec<String>>) -> anyhow::Result<i32> {
    let mut ed = Editor::open(&global.inventory)?;
    let mut said = change(&mut ed)?;
    let after = ed.preview()?;
    // Allocate in memory first, so ACL tests see the new peers' addresses.
    let mut probe = after.inv.clone();
    render::allocate_missing(&mut probe)?;
    let failures = policy::evaluate_tests(&probe, &policy::allowlist(&probe));
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().map(|f| format!("  {f}")).collect();
        if !opts.force {
            bail!("this change makes {} ACL test(s) fail, so nothing was written:\n{}\nhint: fix the change or the tests, or pass --force", failures.len(), list.join("\n"));
        }
        eprintln!("warning: --force: {} ACL test(s) now fail:\n{}", failures.len(), list.join("\n"));
    }
    let mut store = secrets::SecretStore::open(global.root().join("secrets"))?;
    said.extend(render::materialize(&mut ed, &mut store)?);
    said.extend(ed.swept.iter().map(|p| format!("removed {} (a temp file a killed hearth left)", hearth::fsutil::shown(p))));
    let before_warnings = validate::warnings(&ed.before.inv);
    let after = ed.commit()?;
    // Who may read which secret may have changed: agenix's rules follow now,
    // not at the next render.
    if refresh_rules(global)? {
        said.push("wrote secrets/secrets.nix".into());
    }
    for s in &said {
        println!("{s}");
    }
    // Warnings this change brought in (a typo in a group name, ...).
    for w in validate::warning_lines(&after, &before_warnings) {
        eprintln!("{w}");
    }
    if !said.is_empty() {
        println!("next: run `hearth render` to update hosts/*/hearth.nix");
    }
    Ok(0)
}

/// Rewrites `secrets/secrets.nix` from the inventory as it is now, under
/// the inventory lock (so that of two concurrent edits the last one's rules
/// win). Returns whether it wrote.
pub fn refresh_rules(global: &Global) -> anyhow::Result<bool> {
    let _lock = hearth::fsutil::InventoryLock::acquire(&global.inventory)?;
    let loaded = Loaded::read(&global.inventory)?;
    Ok(render::write_rules(&global.root(), &loaded.inv)?)
}

/// Loads and validates the inventory, printing every problem.
pub fn load_valid(global: &Global) -> anyhow::Result<Loaded> {
    let loaded = Loaded::read(&global.inventory)?;
    if let Err(p) = validate::check(&loaded) {
        return Err(p.into());
    }
    Ok(loaded)
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Write nothing; exit 1 naming every stale or missing generated file.
    #[arg(long)]
    pub check: bool,
}

pub fn render(args: RenderArgs, global: &Global) -> anyhow::Result<i32> {
    let root = global.root();
    if args.check {
        let loaded = load_valid(global)?;
        // Generated values are verified when an identity is at hand.
        let ids = secrets::load_identities(global.identity.as_deref()).ok();
        let report = render::check(&root, &loaded, ids.as_ref())?;
        for n in &report.notes {
            eprintln!("note: {n}");
        }
        if report.problems.is_empty() {
            println!("all generated files are current");
            return Ok(0);
        }
        for p in &report.problems {
            println!("{p}");
        }
        eprintln!("{} generated file(s) or secret(s) are out of date; run `hearth render`", report.problems.len());
        return Ok(1);
    }
    let ident = global.identity.clone();
    let report = render::render(&global.inventory, || secrets::load_identities(ident.as_deref()))?;
    for c in &report.changes {
        println!("{c}");
    }
    for w in &report.written {
        println!("wrote {w}");
    }
    for r in &report.removed {
        println!("removed {r}");
    }
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    if report.changes.is_empty() && report.written.is_empty() && report.removed.is_empty() {
        println!("nothing to do: every generated file is current");
    }
    Ok(0)
}

pub fn check(global: &Global) -> anyhow::Result<i32> {
    // `check` writes nothing, so its report does not say "nothing was written".
    // Exit 1: the inventory does not parse, breaks a rule or fails an ACL
    // test (the check's verdict); exit 2 (an error): it cannot be read.
    let loaded = match Loaded::read(&global.inventory) {
        Ok(l) => l,
        Err(e @ hearth::inventory::LoadError::Parse { .. }) => {
            eprintln!("error: {}", crate::printable(&e.to_string()));
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(p) = validate::check(&loaded) {
        eprintln!("error: {}", crate::printable(&p.with_mode(validate::Mode::Check).to_string()));
        return Ok(1);
    }
    for w in validate::warning_lines(&loaded, &[]) {
        eprintln!("{w}");
    }
    let al = policy::allowlist(&loaded.inv);
    let failures = policy::evaluate_tests(&loaded.inv, &al);
    if failures.is_empty() {
        let n: usize = loaded.inv.acl_tests.iter().map(|t| t.accept.len() + t.deny.len()).sum();
        println!("inventory is valid; {} ACL test(s) with {n} target(s) pass", loaded.inv.acl_tests.len());
        return Ok(0);
    }
    for f in &failures {
        let pos = loaded.locate(&["acl_tests", &f.test.to_string()]);
        println!("{}:{}:{}: {f}", global.inventory.display(), pos.line, pos.col);
    }
    eprintln!("{} ACL expectation(s) fail", failures.len());
    Ok(1)
}

pub fn schema() -> anyhow::Result<i32> {
    println!("{}", hearth::schema_json());
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// The host (or `kvm`: the PiKVM, whose data is on the bastion).
    pub host: String,
    /// What to show: a part an area renders (wireguard, wg-setconf, nat,
    /// nftables, sshd, pam, totp-header, ...); an unknown part lists them all.
    pub part: String,
}

pub fn preview(args: PreviewArgs, global: &Global) -> anyhow::Result<i32> {
    let loaded = load_valid(global)?;
    // A device an area renders for (`hearth preview kvm override`) stands
    // for the host whose hearth.nix carries its data, for that area's parts.
    let alias = hearth::area::AREAS.iter().filter(|a| a.previews().iter().any(|p| p.part == args.part)).find_map(|a| a.preview_host(&loaded.inv, &args.host));
    let host = match alias {
        Some(h) if !loaded.inv.hosts.contains_key(&args.host) => h,
        _ => args.host.clone(),
    };
    if !loaded.inv.hosts.contains_key(&host) {
        bail!("unknown host `{}`; known hosts: {}", args.host, loaded.inv.hosts.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    let out = hearth::preview::preview(&global.root(), &host, &args.part)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes()).ok();
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to create the repository in.
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
    /// The home domain.
    #[arg(long, default_value = "home.example.net")]
    pub domain: String,
    /// The LAN.
    #[arg(long, default_value = "192.168.1.0/24")]
    pub lan: String,
    /// The VPN address pool.
    #[arg(long, default_value = "10.100.0.0/24")]
    pub vpn: String,
    /// An admin recipient (age1... or ssh-ed25519 ...); repeatable.
    #[arg(long = "admin", value_name = "RECIPIENT", value_parser = hearth::types::arg::<hearth::types::AgeRecipient>())]
    pub admins: Vec<hearth::types::AgeRecipient>,
    /// The flake reference of hearth for flake.nix's `inputs.hearth.url`
    /// (e.g. github:you/hearth); default: the checkout this binary was built from.
    #[arg(long = "hearth", value_name = "FLAKE-REF")]
    pub hearth: Option<String>,
}

/// The hearth checkout this binary was built from, as a flake reference,
/// when it is still there.
fn own_flake_ref() -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("flake.nix").is_file().then(|| format!("path:{}", root.display()))
}

/// The template flake with `inputs.hearth.url` set to `url`.
pub fn template_flake(url: &str) -> String {
    TEMPLATE_FLAKE.lines().map(|l| if l.contains("# hearth-input") { format!("    hearth.url = {};", toml_str(url)) } else { l.to_string() }).collect::<Vec<_>>().join("\n") + "\n"
}

pub const TEMPLATE_FLAKE: &str = include_str!("../../../templates/default/flake.nix");

pub fn init(args: InitArgs, _global: &Global) -> anyhow::Result<i32> {
    let dir = &args.dir;
    let inv_path = dir.join("inventory.toml");
    if inv_path.exists() {
        bail!("{} already exists; hearth init never overwrites an inventory", inv_path.display());
    }
    let mut admins = String::new();
    for a in &args.admins {
        admins.push_str(&format!("  {},\n", toml_str(a.as_str())));
    }
    let text = format!(
        "#:schema ./inventory.schema.json\n# hearth inventory: edit with `hearth host add`, `hearth peer add`, `hearth service add`, or by hand.\n\n[network]\ndomain = {}\nlan = {}\nvpn = {}\nresolvers = []\n\n[admin]\nrecipients = [\n{admins}]\n",
        toml_str(&args.domain),
        toml_str(&args.lan),
        toml_str(&args.vpn),
    );
    let hearth_ref = match args.hearth.clone().or_else(own_flake_ref) {
        Some(r) if !r.trim().is_empty() && !r.contains(['"', '\\', '$', '\n']) => r,
        Some(r) => bail!("--hearth `{}` is not a flake reference", r.escape_debug()),
        None => bail!("cannot tell where hearth comes from for flake.nix's inputs.hearth.url; pass --hearth FLAKE-REF (e.g. github:you/hearth or path:/src/hearth)"),
    };
    let loaded = Loaded::parse(&inv_path, text.clone())?;
    if let Err(p) = validate::check(&loaded) {
        bail!("{p}");
    }
    std::fs::create_dir_all(dir.join("hosts")).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::create_dir_all(dir.join("secrets"))?;
    write_new(&dir.join("flake.nix"), &template_flake(&hearth_ref))?;
    write_new(&dir.join("inventory.schema.json"), &hearth::schema_json())?;
    write_new(&dir.join("hosts/.gitkeep"), "")?;
    write_new(&dir.join("secrets/.gitkeep"), "")?;
    write_new(&dir.join(".gitignore"), GITIGNORE)?;
    hearth::fsutil::write_atomic(&inv_path, text.as_bytes())?;
    println!("created {}", inv_path.display());
    println!("next: hearth host add NAME --role wireguard-gateway --address IP --ssh-key \"$(ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-)\"");
    if args.admins.is_empty() {
        println!("warning: no admin recipient yet; add one with `hearth admin add \"$(cat ~/.ssh/id_ed25519.pub)\"`");
    }
    println!("flake.nix takes hearth from {hearth_ref}");
    // A flake sees only what git tracks: without a repository (or with
    // hosts/ untracked) `nix build .#...` sees no hosts.
    let in_git = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--git-dir"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !in_git {
        println!("next: cd {} && git init && git add -A   (a flake sees only the files git tracks)", dir.display());
    } else {
        println!("next: git add -A   (a flake sees only the files git tracks)");
    }
    Ok(0)
}

/// What `hearth init` keeps out of git: the inventory's lock file, and the
/// temp files a killed hearth may leave (they hold ciphertext of secrets as
/// they were; `hearth render` removes them).
pub const GITIGNORE: &str = "# Written by `hearth init`.\n.inventory.toml.lock\n.*.hearth-tmp.*\n";

fn write_new(p: &Path, content: &str) -> anyhow::Result<()> {
    if !p.exists() {
        hearth::fsutil::write_atomic(p, content.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_owned()
}

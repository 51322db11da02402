//! `hearth kvm push`: kvmd's override.yaml, rendered by `lib.kvm.override`
//! on the bastion's `hearth.kvm` (what `hearth preview kvm override` shows),
//! copied to the PiKVM over SSH through the bastion. PiKVM's root file
//! system is read-only: the remote script remounts it `rw`, writes the file
//! atomically, remounts it `ro` (also when the write fails) and restarts
//! kvmd. The file goes over SSH's stdin, never into a temp file.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{CliCx, CmdError, KvmError};

/// Where kvmd reads the override.
pub const OVERRIDE_PATH: &str = "/etc/kvmd/override.yaml";

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Print the ssh command and the file instead of running it.
    #[arg(long)]
    pub dry_run: bool,
    /// Your login on the bastion (default: what ~/.ssh/config says).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The PiKVM's login.
    #[arg(long, value_name = "USER", default_value = "root")]
    pub pikvm_user: String,
    /// The ssh program.
    #[arg(long, value_name = "PROGRAM", default_value = "ssh")]
    pub ssh: PathBuf,
}

/// The script the PiKVM runs: rw, write (atomically), ro, restart kvmd.
/// The file arrives on stdin.
pub fn remote_script() -> String {
    let new = format!("{OVERRIDE_PATH}.hearth-new");
    [
        "set -e".to_string(),
        "rw".into(),
        "trap ro EXIT".into(),
        format!("cat > {new}"),
        format!("mv -f {new} {OVERRIDE_PATH}"),
        "ro".into(),
        "trap - EXIT".into(),
        "systemctl restart kvmd".into(),
    ]
    .join("; ")
}

/// The ssh command line (after the program): jump through the bastion to
/// the PiKVM and run [`remote_script`].
pub fn ssh_args(bastion: std::net::Ipv4Addr, bastion_port: u16, user: Option<&str>, pikvm: std::net::Ipv4Addr, pikvm_user: &str) -> Vec<String> {
    let jump = match user {
        Some(u) => format!("{u}@{bastion}:{bastion_port}"),
        None => format!("{bastion}:{bastion_port}"),
    };
    vec!["-o".into(), format!("ProxyJump={jump}"), format!("{pikvm_user}@{pikvm}"), remote_script()]
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("hosts/{0}/hearth.nix is not current with the inventory\nhint: run `hearth render` first, so that the PiKVM gets what the inventory says")]
    Stale(String),
    #[error("cannot run {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("ssh to the PiKVM failed ({0}); the PiKVM's root file system was remounted read-only by the script's trap if it had got that far")]
    Failed(std::process::ExitStatus),
}

pub fn run(a: &PushArgs, cx: &CliCx) -> Result<i32, CmdError> {
    let loaded = crate::inventory::Loaded::read(&cx.inventory)?;
    crate::validate::check(&loaded)?;
    let inv = &loaded.inv;
    let (Some(pikvm), true) = (inv.kvm.pikvm, inv.kvm.is_used()) else { return Err(KvmError::NotConfigured.into()) };
    // Validation ran: a used [kvm] has a bastion with an address.
    let Some((bastion, bh)) = inv.bastion() else { return Err(KvmError::NotConfigured.into()) };
    let Some(baddr) = bh.address else { return Err(KvmError::NotConfigured.into()) };
    let root = cx.root();
    let file = root.join("hosts").join(bastion).join("hearth.nix");
    let want = crate::render::host_nix(inv, &crate::topology::secrets(inv), &crate::policy::allowlist(inv), bastion);
    if std::fs::read_to_string(&file).ok().as_deref() != Some(want.as_str()) {
        return Err(PushError::Stale(bastion.into()).into());
    }
    let yaml = crate::preview::preview(&root, bastion, "override")?;
    let args = ssh_args(baddr, inv.bastion.port, a.user.as_deref(), pikvm, &a.pikvm_user);
    if a.dry_run {
        let quoted: Vec<String> = std::iter::once(a.ssh.display().to_string()).chain(args.iter().cloned()).map(|s| shell_quote(&s)).collect();
        println!("# would run, with the file below on stdin:\n{}\n# {OVERRIDE_PATH}:\n{yaml}", quoted.join(" "));
        return Ok(0);
    }
    let mut child = Command::new(&a.ssh).args(&args).stdin(Stdio::piped()).spawn().map_err(|e| PushError::Spawn(a.ssh.display().to_string(), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(yaml.as_bytes())?;
    }
    let st = child.wait()?;
    if !st.success() {
        return Err(PushError::Failed(st).into());
    }
    println!("pushed {OVERRIDE_PATH} to the PiKVM at {pikvm} (through {bastion}) and restarted kvmd");
    Ok(0)
}

/// Quotes for a POSIX shell, for --dry-run output.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&c)) {
        s.into()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_jumps_through_the_bastion_and_runs_rw_write_ro_restart() {
        let a = ssh_args("10.69.13.20".parse().unwrap(), 22, Some("torjus"), "10.69.13.30".parse().unwrap(), "root");
        assert_eq!(&a[..3], ["-o", "ProxyJump=torjus@10.69.13.20:22", "root@10.69.13.30"]);
        assert_eq!(
            a[3],
            "set -e; rw; trap ro EXIT; cat > /etc/kvmd/override.yaml.hearth-new; mv -f /etc/kvmd/override.yaml.hearth-new /etc/kvmd/override.yaml; ro; trap - EXIT; systemctl restart kvmd"
        );
        let b = ssh_args("10.0.0.2".parse().unwrap(), 2222, None, "10.0.0.30".parse().unwrap(), "admin");
        assert_eq!(&b[..3], ["-o", "ProxyJump=10.0.0.2:2222", "admin@10.0.0.30"]);
    }

    /// The script's order on a stand-in PiKVM: `rw`, `ro` and `systemctl`
    /// are shell functions that log, the path is redirected into a temp dir.
    #[test]
    fn the_remote_script_writes_between_rw_and_ro_and_stays_ro_on_failure() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().display().to_string();
        let script = remote_script().replace("/etc/kvmd", &format!("{root}/kvmd"));
        let stub = format!("log() {{ echo \"$*\" >> {root}/log; }}; rw() {{ log rw; }}; ro() {{ log ro; }}; systemctl() {{ log systemctl \"$@\"; }}; ");
        let run = |mkdir: bool| {
            std::fs::remove_file(d.path().join("log")).ok();
            if mkdir {
                std::fs::create_dir_all(d.path().join("kvmd")).unwrap();
            }
            let mut c = Command::new("sh").arg("-c").arg(format!("{stub}{script}")).stdin(Stdio::piped()).spawn().unwrap();
            // A failing script may exit before reading: a broken pipe is fine.
            let _ = c.stdin.take().unwrap().write_all(b"kvmd: {}\n");
            let ok = c.wait().unwrap().success();
            (ok, std::fs::read_to_string(d.path().join("log")).unwrap_or_default())
        };
        let (ok, log) = run(false);
        assert!(!ok);
        assert_eq!(log, "rw\nro\n", "a failed write still remounts ro and does not restart kvmd");
        let (ok, log) = run(true);
        assert!(ok);
        assert_eq!(log, "rw\nro\nsystemctl restart kvmd\n");
        assert_eq!(std::fs::read_to_string(d.path().join("kvmd/override.yaml")).unwrap(), "kvmd: {}\n");
    }

    #[test]
    fn dry_run_output_is_shell_quoted() {
        assert_eq!(shell_quote("root@10.0.0.1"), "root@10.0.0.1");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
    }
}

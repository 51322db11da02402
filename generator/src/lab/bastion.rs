//! The bastion's live checks: a real OpenSSH sshd in the bastion's network
//! namespace, inside a private mount namespace (`unshare -m`) where the PAM
//! stack rendered by `pam.sshdStack` is bind-mounted over /etc/pam.d/sshd, with
//! the settings rendered by `sshd.configText`. Debian's
//! pam_google_authenticator checks the codes; `oathtool` computes them; the
//! ssh client answers keyboard-interactive through SSH_ASKPASS.
//!
//! Lab users: the checks log in as users that exist only for the run
//! (`useradd` with the lab's prefix, e.g. `hl1a2ba`, recorded in the state
//! file before creation and removed with `userdel` at teardown). Three users,
//! one per group of checks, so that the TOTP module's rate limit and reuse
//! state of one check cannot decide another. They get the seed of the
//! inventory's first TOTP user, decrypted from its hearth secret.
//!
//! Files: everything lives in the lab's directory under /run/hearth-lab
//! (tmpfs). The TOTP seed files are the one unavoidable plaintext: they are
//! pam_google_authenticator's own state format (seed + options + used
//! codes), mode 0600 in a 0700 directory, and deleted at teardown. The user
//! keys, host key and certificates are throwaway lab keys.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::{Context, LabError, Result};
use serde::Serialize;
use zeroize::Zeroizing;

use super::exec::{in_ns, run, run_input, Lab};
use super::plan::{BastionPlan, LabPlan, Secret};
use super::probe;

/// One bastion check and what it saw.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub from: String,
    pub expected: String,
    pub seen: String,
    pub ok: bool,
}

/// What a skipped check shows as `seen`: `SKIPPED: reason`.
const SKIPPED: &str = "SKIPPED: ";

impl Check {
    /// A check that could not run here (a tool is not installed). It is not
    /// a pass: `ok` is false, and the report lists it as skipped, neither
    /// passed nor failed.
    pub fn skipped(name: &str, from: &str, reason: &str) -> Check {
        Check { name: name.into(), from: from.into(), expected: "-".into(), seen: format!("{SKIPPED}{reason}"), ok: false }
    }

    /// Made by [`Check::skipped`].
    pub fn is_skipped(&self) -> bool {
        !self.ok && self.expected == "-" && self.seen.starts_with(SKIPPED)
    }
}

pub fn remove_user(u: &str) -> Result<()> {
    let exists = Command::new("id").arg("-u").arg(u).stdout(Stdio::null()).stderr(Stdio::null()).status().context("cannot run id")?.success();
    if exists {
        run(Command::new("userdel").arg(u))?;
    }
    Ok(())
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new().mode(mode).create(p).with_context(|| format!("creating {}", p.display()))?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {mode:o} {}", p.display()))?;
    Ok(())
}

fn write_file(p: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = fs::OpenOptions::new().create_new(true).write(true).mode(mode).open(p).with_context(|| format!("creating {}", p.display()))?;
    f.write_all(data).with_context(|| format!("writing {}", p.display()))?;
    Ok(())
}

/// The current TOTP code for a base32 seed (oathtool reads the seed from
/// stdin, so it never appears on a command line).
pub fn totp_now(seed: &str) -> Result<String> {
    let out = run_input(Command::new("oathtool").args(["--totp", "-b", "-"]), Some(format!("{seed}\n").as_bytes()))?;
    let code = out.trim().to_string();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LabError::Unreadable { what: "a TOTP code (oathtool --totp)", output: out });
    }
    Ok(code)
}

/// A code that differs from `code` in every digit.
pub fn wrong_code(code: &str) -> String {
    code.bytes().map(|b| char::from(b'0' + (b - b'0' + 5) % 10)).collect()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn sign_cert(ca: &str, user_pub: &Path, user: &str, after: u64, before: u64) -> Result<String> {
    use ssh_key::certificate::{Builder, CertType};
    let ca = ssh_key::PrivateKey::from_openssh(ca.trim()).context("the SSH user CA secret is not an OpenSSH private key")?;
    let text = fs::read_to_string(user_pub).with_context(|| format!("reading {}", user_pub.display()))?;
    let pk = ssh_key::PublicKey::from_openssh(text.trim()).with_context(|| format!("{} is not an OpenSSH public key", user_pub.display()))?;
    let cert = (|| {
        let mut b = Builder::new_with_random_nonce(&mut rand::rngs::OsRng, pk.key_data().clone(), after, before)?;
        b.serial(1)?;
        b.key_id(format!("hearth-lab-{user}"))?;
        b.cert_type(CertType::User)?;
        b.valid_principal(user)?;
        b.sign(&ca)?.to_openssh()
    })()
    .with_context(|| format!("signing the lab certificate of {user}"))?;
    Ok(cert)
}

struct Ssh<'a> {
    lab: &'a Lab,
    b: &'a BastionPlan,
    ssh: PathBuf,
}

const SHELL_OK: &str = "hearth-lab-shell-ok";

impl Ssh<'_> {
    /// Runs the ssh client in namespace `ns`; returns whether it got a shell
    /// (the command ran) and a short description.
    fn login(&self, ns: &str, user: &str, key: Option<(&Path, Option<&Path>)>, code: &str, target: Ipv4Addr) -> Result<(bool, String)> {
        self.login_with(ns, user, key, code, target, &[])
    }

    /// As `login`, with extra ssh options (`-o ControlMaster=...`).
    fn login_with(&self, ns: &str, user: &str, key: Option<(&Path, Option<&Path>)>, code: &str, target: Ipv4Addr, extra: &[String]) -> Result<(bool, String)> {
        let mut c = in_ns(ns, "ssh");
        c.args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null"]);
        c.args(extra);
        c.args(["-o", "ConnectTimeout=5", "-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=no"]);
        match key {
            Some((k, cert)) => {
                c.arg("-i").arg(k);
                if let Some(cert) = cert {
                    c.arg("-o").arg(format!("CertificateFile={}", cert.display()));
                }
                c.args(["-o", "PreferredAuthentications=publickey,keyboard-interactive"]);
            }
            None => {
                c.args(["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive,password"]);
            }
        }
        c.args(["-p", &self.b.port.to_string(), &format!("{user}@{target}"), "echo", SHELL_OK]);
        c.env("SSH_ASKPASS", self.ssh.join("askpass")).env("SSH_ASKPASS_REQUIRE", "force").env("HEARTH_LAB_CODE", code).env_remove("SSH_AUTH_SOCK").env("DISPLAY", ":0");
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = c.spawn().context("cannot run ssh (apt install openssh-client)")?;
        let waiting = || format!("waiting for ssh {user}@{target} from {ns}");
        let t0 = Instant::now();
        loop {
            if child.try_wait().with_context(waiting)?.is_some() {
                break;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().with_context(waiting)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shell = out.status.success() && stdout.contains(SHELL_OK);
        let why = if shell { "shell".to_string() } else { format!("denied ({})", stderr.lines().last().unwrap_or("").trim()) };
        let _ = self.lab;
        Ok((shell, why))
    }
}

/// A running lab sshd and what logging in to it takes.
pub struct Started {
    pub ssh: PathBuf,
    pub key: PathBuf,
    seed_line: Zeroizing<String>,
    certs: Option<(PathBuf, PathBuf)>,
    pub users: Vec<String>,
    pub addr: Ipv4Addr,
    pub port: u16,
    pub host: String,
}

impl Started {
    /// What `hearth lab up` prints: how to log in to the lab's bastion.
    pub fn how_to_login(&self) -> String {
        format!(
            "bastion {host}: sshd listens on {addr}:{port} with the rendered settings and PAM stack; its users are lab users ({users}), with the TOTP seed of the inventory's first TOTP user\n  log in:  hearth lab exec laptop -- ssh -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {u}@{addr}\n  code:    hearth secret show totp-USER --host {host} | head -n 1 | oathtool --totp -b -",
            host = self.host,
            addr = self.addr,
            port = self.port,
            users = self.users.join(", "),
            key = self.key.display(),
            u = self.users[0],
        )
    }
}

/// Sets up sshd for the plan's bastion, runs every check, returns them.
pub fn run_checks(lab: &Lab, plan: &LabPlan, decrypt: &dyn Fn(&Secret) -> Result<Zeroizing<String>>) -> Result<Vec<Check>> {
    let st = start(lab, plan, decrypt)?;
    checks(lab, plan, &st)
}

/// Starts the bastion's sshd in the lab (lab users, keys, TOTP files, the
/// rendered sshd settings and PAM stack). `hearth lab up` leaves it running.
pub fn start(lab: &Lab, plan: &LabPlan, decrypt: &dyn Fn(&Secret) -> Result<Zeroizing<String>>) -> Result<Started> {
    let b = plan.bastion.as_ref().ok_or(LabError::NoBastion)?;
    let gw_ns = lab.ns(&plan.nodes[b.node].name)?;
    // Users need to traverse the lab dir to read their authorized keys.
    fs::set_permissions(&lab.dir, fs::Permissions::from_mode(0o711)).with_context(|| format!("chmod 711 {}", lab.dir.display()))?;
    let ssh = lab.dir.join("ssh");
    mkdir(&ssh, 0o755)?;
    mkdir(&ssh.join("authorized_keys"), 0o755)?;
    // 0700 directory, 0600 files: the PAM module's own state format.
    mkdir(&b.totp_dir, 0o700)?;

    for u in &b.users {
        lab.add_user_record(u)?;
        run(Command::new("useradd").args(["-M", "-N", "-d", "/nonexistent", "-s", "/bin/sh", "-c", "hearth lab (temporary)", u]))
            .with_context(|| format!("creating lab user {u}"))?;
    }
    let keygen = |path: &Path, comment: &str| run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path));
    keygen(&ssh.join("host_ed25519"), "hearth-lab-host")?;
    let key = ssh.join("user_ed25519");
    keygen(&key, "hearth-lab-user")?;
    let pubkey = fs::read_to_string(key.with_extension("pub")).with_context(|| format!("reading {}", key.with_extension("pub").display()))?;
    for u in &b.users {
        write_file(&ssh.join("authorized_keys").join(u), pubkey.as_bytes(), 0o644)?;
    }
    write_file(&ssh.join("askpass"), b"#!/bin/sh\nprintf '%s\\n' \"$HEARTH_LAB_CODE\"\n", 0o755)?;

    // TOTP seed files: seed + the rendered header (pam.totpHeader).
    let seed = decrypt(&b.totp_seed).context("the TOTP seed")?;
    let seed_line = seed.lines().next().unwrap_or("").trim().to_string();
    let seed_line = Zeroizing::new(seed_line);
    let root_owned = b.pam_stack.contains("user=root");
    for u in &b.users {
        let p = b.totp_dir.join(u);
        let body = Zeroizing::new(format!("{}\n{}", seed_line.as_str(), b.totp_header));
        write_file(&p, body.as_bytes(), 0o600)?;
        if !root_owned {
            run(Command::new("chown").arg(u).arg(&p))?;
        }
    }

    // Certificates (CA mode), signed in memory with the CA secret.
    let mut certs = None;
    if let Some(ca_pub) = &b.user_ca {
        write_file(&ssh.join("user-ca.pub"), format!("{}\n", ca_pub.trim()).as_bytes(), 0o644)?;
        let ca = decrypt(b.ca_key.as_ref().ok_or(LabError::NoCaSecret)?).context("the SSH user CA")?;
        let ck = ssh.join("cert_ed25519");
        let ek = ssh.join("expired_ed25519");
        keygen(&ck, "hearth-lab-cert")?;
        keygen(&ek, "hearth-lab-expired")?;
        let u = &b.users[2];
        let t = now();
        write_file(&ssh.join("cert_ed25519-cert.pub"), sign_cert(&ca, &ck.with_extension("pub"), u, t - 60, t + 600)?.as_bytes(), 0o644)?;
        write_file(&ssh.join("expired_ed25519-cert.pub"), sign_cert(&ca, &ek.with_extension("pub"), u, t - 7200, t - 3600)?.as_bytes(), 0o644)?;
        certs = Some((ck, ek));
    }

    // sshd: lab-only lines first (sshd keeps the first value of a keyword),
    // then exactly what sshd.configText rendered.
    let cfg = format!(
        "# hearth lab: lab-only lines\nPort {}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}/%u\n# rendered by modules/lib/sshd.nix (configText)\n{}",
        b.port,
        ssh.join("host_ed25519").display(),
        ssh.join("sshd.pid").display(),
        ssh.join("authorized_keys").display(),
        b.sshd_config
    );
    let cfg_path = ssh.join("sshd_config");
    write_file(&cfg_path, cfg.as_bytes(), 0o644)?;
    let pam_path = ssh.join("pam-sshd");
    write_file(&pam_path, b.pam_stack.as_bytes(), 0o644)?;
    // sshd insists on its privilege separation directory, which only the
    // service's start script creates (absent where no sshd ever ran).
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create("/run/sshd").context("creating /run/sshd")?;
    run(Command::new("/usr/sbin/sshd").arg("-t").arg("-f").arg(&cfg_path)).context("sshd -t rejected the rendered configuration")?;
    if !Path::new("/run/sshd").exists() {
        // sshd's privilege separation directory (systemd creates it for the real service).
        mkdir(Path::new("/run/sshd"), 0o755)?;
    }
    let mut cmd = in_ns(&gw_ns, "unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", "mount --bind \"$1\" /etc/pam.d/sshd && exec /usr/sbin/sshd -D -e -f \"$2\"", "sh"]).arg(&pam_path).arg(&cfg_path);
    let pid = lab.spawn("sshd", cmd)?;
    // Wait for it to listen (connect from the bastion's own LAN address).
    let target = SocketAddrV4::new(b.addr, b.port);
    let t0 = Instant::now();
    loop {
        let open = probe::in_netns(&gw_ns, move || probe::tcp_scan(&[target], probe::ScanOpts { window: 1, timeout: Duration::from_millis(200) }))?;
        if open.contains(&target) {
            break;
        }
        if !Lab::alive(pid) || t0.elapsed() > Duration::from_secs(10) {
            return Err(LabError::DidNotStart { daemon: "sshd".into(), log: lab.dir.join("sshd.log") });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Started { ssh, key, seed_line, certs, users: b.users.clone(), addr: b.addr, port: b.port, host: b.host.clone() })
}

/// Every bastion check against a started sshd.
fn checks(lab: &Lab, plan: &LabPlan, st: &Started) -> Result<Vec<Check>> {
    let b = plan.bastion.as_ref().ok_or(LabError::NoBastion)?;
    let (ssh, key, seed_line, certs) = (&st.ssh, &st.key, &st.seed_line, &st.certs);
    // Sources: VPN clients first, a LAN host when there is only one client
    // (the ruleset rate-limits new SSH connections per source).
    let mut sources: Vec<(String, String)> = vec![];
    for c in plan.clients.iter().filter(|c| c.connects) {
        sources.push((c.name.clone(), lab.ns(&c.name)?));
    }
    if let Some(t) = plan.targets.first() {
        sources.push((t.name.clone(), lab.ns(&t.name)?));
    }
    if sources.is_empty() {
        return Err(LabError::NoLoginSource);
    }
    let src = |i: usize| &sources[i % sources.len()];
    let s = Ssh { lab, b, ssh: ssh.clone() };
    let mut checks = vec![];
    let mut push = |name: &str, from: &str, expected: &str, shell: bool, want_shell: bool, seen: String| {
        checks.push(Check { name: name.into(), from: from.into(), expected: expected.into(), seen, ok: shell == want_shell });
    };
    let [ua, ub, uc] = [&b.users[0], &b.users[1], &b.users[2]];
    let code = totp_now(seed_line)?;
    let (n0, ns0) = src(0);
    let (ok, why) = s.login(ns0, ua, Some((key, None)), &code, b.addr)?;
    push("key + current code", n0, "shell", ok, true, why);
    let (ok, why) = s.login(ns0, ua, Some((key, None)), &code, b.addr)?;
    push("the same code again", n0, "denied", ok, false, why);
    let (n1, ns1) = src(1);
    let (ok, why) = s.login(ns1, ub, Some((key, None)), &wrong_code(&code), b.addr)?;
    push("key + wrong code", n1, "denied", ok, false, why);
    let (ok, why) = s.login(ns1, ub, None, &totp_now(seed_line)?, b.addr)?;
    push("code without key", n1, "denied", ok, false, why);
    if let Some((ck, ek)) = &certs {
        let (n2, ns2) = src(2);
        let code = totp_now(seed_line)?;
        let (ok, why) = s.login(ns2, uc, Some((ck, Some(&ssh.join("cert_ed25519-cert.pub")))), &code, b.addr)?;
        push("CA certificate + code", n2, "shell", ok, true, why);
        let (ok, why) = s.login(ns2, uc, Some((ek, Some(&ssh.join("expired_ed25519-cert.pub")))), &code, b.addr)?;
        push("expired certificate + code", n2, "denied", ok, false, why);
    }
    // The deploy path (issue 18): one code for a session of connections.
    // `hearth ssh-config` emits ControlMaster/ControlPersist; a deploy
    // (nixos-rebuild, nix copy) opens several connections in a row, and
    // DISALLOW_REUSE refuses the same code twice. Through the master, the
    // second connection needs no code; without it, a code-less one is denied.
    if b.users.len() > 3 {
        let ud = &b.users[3];
        let (n3, ns3) = src(3);
        let ctl = ssh.join("ctl-%C");
        let master = ["-o", "ControlMaster=auto", "-o", "ControlPersist=15"];
        let mut with_master: Vec<String> = master.iter().map(|s| s.to_string()).collect();
        with_master.extend(["-o".to_string(), format!("ControlPath={}", ctl.display())]);
        let code = totp_now(seed_line)?;
        let (ok, why) = s.login_with(ns3, ud, Some((key, None)), &code, b.addr, &with_master)?;
        push("deploy: first connection (code), opens the master", n3, "shell", ok, true, why);
        let (ok, why) = s.login_with(ns3, ud, Some((key, None)), "", b.addr, &with_master)?;
        push("deploy: second connection through the master, no code", n3, "shell", ok, true, why);
        let (ok, why) = s.login_with(ns3, ud, Some((key, None)), "", b.addr, &[])?;
        push("deploy: second connection without the master, no code", n3, "denied", ok, false, why);
        // Close the master (ControlPersist keeps it otherwise; 15 s at most
        // when a failed check skips this).
        let mut exit = in_ns(ns3, "ssh");
        exit.args(["-F", "/dev/null", "-o"]).arg(format!("ControlPath={}", ctl.display())).args(["-O", "exit", "-p", &b.port.to_string(), &format!("{ud}@{}", b.addr)]);
        let _ = exit.stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
    // From outside the VPN and the LAN: the home router's side of the uplink.
    let out_ns = lab.ns(&plan.nodes[b.outsider].name)?;
    let t = SocketAddrV4::new(b.outsider_target, b.port);
    let open = probe::in_netns(&out_ns, move || probe::tcp_scan(&[t], probe::ScanOpts { window: 1, timeout: Duration::from_secs(2) }))?;
    push(
        "source outside VPN and LAN",
        &plan.nodes[b.outsider].name,
        "no connection",
        open.contains(&t),
        false,
        if open.contains(&t) { format!("connected to {t}") } else { format!("no connection to {t}") },
    );
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_code_differs_in_every_digit() {
        let w = wrong_code("123456");
        assert_eq!(w, "678901");
        assert!(w.bytes().zip("123456".bytes()).all(|(a, b)| a != b));
    }
}

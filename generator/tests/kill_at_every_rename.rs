//! Crash consistency, exhaustively (issue 19): every mutating command is
//! killed (SIGKILL) at each of its renames and unlinks in turn, and after
//! each kill the repository must be consistent: the inventory valid, every
//! WireGuard private key matching the public key the inventory names or the
//! mismatch reported by `render --check`, and `render` bringing everything
//! back to a state `render --check` passes, with no temp file left.
//!
//! The kill comes from an LD_PRELOAD shim this test builds from C source
//! with `cc`: it wraps rename/renameat/renameat2/unlink/unlinkat/rmdir,
//! counts them (logging each to `HEARTH_COUNT_FILE`) and raises SIGKILL
//! just before the operation numbered `HEARTH_KILL_AT`. hearth itself has no
//! fault-injection code.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long count;
static long kill_at = -1;
static const char *log_file;

__attribute__((constructor)) static void init(void) {
    const char *k = getenv("HEARTH_KILL_AT");
    if (k) kill_at = atol(k);
    log_file = getenv("HEARTH_COUNT_FILE");
}

static void step(const char *op, const char *path) {
    long i = atomic_fetch_add(&count, 1) + 1;
    if (log_file) {
        int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (fd >= 0) {
            char b[4200];
            int l = snprintf(b, sizeof b, "%ld %s %s\n", i, op, path);
            if (l > 0) { ssize_t r = write(fd, b, (size_t)l); (void)r; }
            close(fd);
        }
    }
    if (i == kill_at) raise(SIGKILL);
}

#define REAL(name, ret, ...) static ret (*real)(__VA_ARGS__); if (!real) real = dlsym(RTLD_NEXT, name)

int rename(const char *a, const char *b) { REAL("rename", int, const char *, const char *); step("rename", b); return real(a, b); }
int renameat(int d1, const char *a, int d2, const char *b) { REAL("renameat", int, int, const char *, int, const char *); step("renameat", b); return real(d1, a, d2, b); }
int renameat2(int d1, const char *a, int d2, const char *b, unsigned f) { REAL("renameat2", int, int, const char *, int, const char *, unsigned); step("renameat2", b); return real(d1, a, d2, b, f); }
int unlink(const char *p) { REAL("unlink", int, const char *); step("unlink", p); return real(p); }
int unlinkat(int d, const char *p, int f) { REAL("unlinkat", int, int, const char *, int); step("unlinkat", p); return real(d, p, f); }
int rmdir(const char *p) { REAL("rmdir", int, const char *); step("rmdir", p); return real(p); }
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hearth"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn example(dir: &Path) {
    let root = repo_root();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root.join("inventory.toml"), dir.join("inventory.toml")).unwrap();
    copy_dir(&root.join("hosts"), &dir.join("hosts"));
    copy_dir(&root.join("secrets"), &dir.join("secrets"));
}

fn hearth(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir).env_remove("HEARTH_INVENTORY").env("HEARTH_IDENTITY", repo_root().join("test-keys/admin-TEST-ONLY.agekey")).env("HOME", dir).args(args);
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Runs a command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = hearth(dir, args).output().unwrap();
    assert!(o.status.success(), "hearth {args:?}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn build_shim(dir: &Path) -> PathBuf {
    let ok = Command::new("sh").args(["-c", "command -v cc"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "cc is not installed: apt-get install gcc libc6-dev (checks/run installs them)");
    let src = dir.join("shim.c");
    let so = dir.join("shim.so");
    std::fs::write(&src, SHIM).unwrap();
    let out = Command::new("cc").args(["-shared", "-fPIC", "-O1", "-o"]).arg(&so).arg(&src).arg("-ldl").output().unwrap();
    assert!(out.status.success(), "building the shim: {}", String::from_utf8_lossy(&out.stderr));
    so
}

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGh5JbK8u73td+iQRE9PjuaLRALzA/ZtwcUxIUlJpFzz";
const ADMIN2: &str = "age1g0eul9ht2ywsp9kva2rcjkalh6e69m7xxz520ddr4ty33cnaesdsv922gs";
const SSH_ADMIN: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGt226BmWKXJp3wh4KzD35v3L6SAuS3ddIib2+BfM0p";

/// (what, setup commands, the command killed, its stdin)
type Case = (&'static str, Vec<Vec<&'static str>>, Vec<&'static str>, &'static str);

fn cases() -> Vec<Case> {
    vec![
        ("peer add", vec![], vec!["peer", "add", "tab", "--group", "mobile"], ""),
        ("peer remove", vec![vec!["peer", "add", "tab", "--group", "mobile"]], vec!["peer", "remove", "tab"], ""),
        ("peer rotate", vec![], vec!["peer", "rotate", "phone"], ""),
        ("secret rotate", vec![], vec!["secret", "rotate", "wireguard-key", "--host", "vps"], ""),
        ("host add", vec![], vec!["host", "add", "roam", "--role", "wireguard-client", "--ssh-key", KEY], ""),
        ("host remove", vec![vec!["host", "add", "roam", "--role", "wireguard-client", "--ssh-key", KEY]], vec!["host", "remove", "roam"], ""),
        ("user add", vec![], vec!["user", "add", "alice", "--ssh-key", SSH_ADMIN, "--totp"], ""),
        ("user remove", vec![], vec!["user", "remove", "torjus"], ""),
        ("admin add", vec![], vec!["admin", "add", ADMIN2], ""),
        ("admin remove", vec![], vec!["admin", "remove", SSH_ADMIN], ""),
        ("secrets rekey", vec![vec!["admin", "add", ADMIN2]], vec!["secrets", "rekey"], ""),
        ("render", vec![vec!["admin", "add", ADMIN2], vec!["peer", "add", "tab", "--group", "mobile"]], vec!["render"], ""),
        ("secret set", vec![], vec!["secret", "set", "api-token", "--host", "extgw01"], "pw"),
        ("service add", vec![], vec!["service", "add", "x", "--host", "jelly01", "--port", "1234", "--allow", "admins"], ""),
    ]
}

/// Private keys whose public key is not the inventory's, as (file, node).
fn mismatched_pairs(dir: &Path) -> Vec<String> {
    let inv = hearth::inventory::Loaded::read(&dir.join("inventory.toml")).unwrap().inv;
    let store = hearth::secrets::SecretStore::open(dir.join("secrets")).unwrap();
    let ids = hearth::secrets::load_identities(Some(&repo_root().join("test-keys/admin-TEST-ONLY.agekey"))).unwrap();
    let mut bad = vec![];
    let nodes = inv
        .hosts
        .iter()
        .map(|(n, h)| (format!("{n}/wireguard-key.age"), h.public_key.clone()))
        .chain(inv.peers.iter().map(|(n, p)| (format!("peers/{n}/wireguard-key.age"), p.public_key.clone())));
    for (rel, public) in nodes {
        let (Some(public), true) = (public, store.path_of(&rel).is_file()) else { continue };
        let Ok(key) = store.decrypt(&rel, &ids) else { continue }; // damaged files are render --check's to report
        if hearth::keys::public_from_private(std::str::from_utf8(key.expose()).unwrap().trim()).ok().as_deref() != Some(public.as_str()) {
            bad.push(rel);
        }
    }
    bad
}

fn temps(dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap().to_string_lossy().contains(".hearth-tmp.") {
                v.push(p);
            }
        }
    }
    v
}

#[test]
fn a_kill_at_every_rename_and_unlink_of_every_mutating_command_is_recovered() {
    let work = tempfile::TempDir::new().unwrap();
    let shim = build_shim(work.path());
    let mut total = 0;
    let mut reported = 0;
    for (what, setup, cmd, stdin) in cases() {
        let fresh = |name: &str| {
            let dir = work.path().join(name);
            let _ = std::fs::remove_dir_all(&dir);
            example(&dir);
            for s in &setup {
                ok(&dir, s);
            }
            dir
        };
        let run = |dir: &Path, env: (&str, String)| {
            let mut c = hearth(dir, &cmd);
            c.env("LD_PRELOAD", &shim).env(env.0, env.1).stdin(Stdio::piped());
            let mut child = c.spawn().unwrap();
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
            child.wait_with_output().unwrap()
        };
        // How many renames and unlinks the command makes.
        let dir = fresh("count");
        let log = work.path().join("ops.log");
        let _ = std::fs::remove_file(&log);
        let o = run(&dir, ("HEARTH_COUNT_FILE", log.display().to_string()));
        assert!(o.status.success(), "{what} under the shim: {}", String::from_utf8_lossy(&o.stderr));
        let ops: Vec<String> = std::fs::read_to_string(&log).unwrap_or_default().lines().map(String::from).collect();
        assert!(!ops.is_empty(), "{what}: the shim saw no rename or unlink (is LD_PRELOAD working?)");
        for k in 1..=ops.len() {
            total += 1;
            let dir = fresh("kill");
            let o = run(&dir, ("HEARTH_KILL_AT", k.to_string()));
            let at = &ops[k - 1];
            assert_eq!(o.status.signal(), Some(9), "{what}: not killed at op {k} ({at}): {:?}", o.status);
            // The inventory is whole and valid.
            let loaded = hearth::inventory::Loaded::read(&dir.join("inventory.toml")).unwrap_or_else(|e| panic!("{what}, kill at {at}: {e}"));
            hearth::validate::check(&loaded).unwrap_or_else(|e| panic!("{what}, kill at {at}: {e}"));
            // A key pair is old or new, or --check reports the mismatch.
            let check = hearth(&dir, &["render", "--check"]).output().unwrap();
            let check_out = String::from_utf8_lossy(&check.stdout).into_owned();
            for rel in mismatched_pairs(&dir) {
                reported += 1;
                assert!(
                    check_out.contains(&format!("secrets/{rel}: holds the private key of public key")),
                    "{what}, kill at {at}: {rel} mismatched and not reported:\n{check_out}"
                );
            }
            for t in temps(&dir) {
                assert!(check_out.contains("temp file left by a killed hearth"), "{what}, kill at {at}: {} not reported:\n{check_out}", t.display());
            }
            // render repairs; then everything is current and clean.
            let r = hearth(&dir, &["render"]).output().unwrap();
            assert!(r.status.success(), "{what}, kill at {at}: render after the kill failed: {}{}", String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
            let c = hearth(&dir, &["render", "--check"]).output().unwrap();
            assert!(c.status.success(), "{what}, kill at {at}: render --check after render:\n{}", String::from_utf8_lossy(&c.stdout));
            assert_eq!(mismatched_pairs(&dir), Vec::<String>::new(), "{what}, kill at {at}");
            assert_eq!(temps(&dir), Vec::<PathBuf>::new(), "{what}, kill at {at}: temps left after render");
        }
    }
    eprintln!("{total} kills over {} commands; {reported} key-pair mismatches reported and repaired", cases().len());
    assert!(total >= cases().len() * 2, "too few operations seen ({total})");
}

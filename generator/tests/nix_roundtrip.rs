//! Whatever string an inventory holds, it reaches Nix as exactly that value:
//! the emitted file parses with rnix and `nix-instantiate --eval --strict`
//! reads back the original. Also: every `.nix` file in the repo parses.

use std::path::{Path, PathBuf};
use std::process::Command;

use hearth::nix::{self, Attrs, Value};
use proptest::prelude::*;

fn have_nix() -> bool {
    Command::new("nix-instantiate").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Evaluates many emitted strings in one nix-instantiate call.
fn eval_strings(values: &[String]) -> Vec<String> {
    let list = Value::List(values.iter().map(|s| Value::from(Attrs::new().set("v", s.clone()))).collect());
    let src = nix::print(&list);
    assert_eq!(nix::parse_errors(&src), None, "rnix rejects emitted Nix:\n{src}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("values.nix");
    std::fs::write(&f, &src).unwrap();
    let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json"]).arg(&f).output().unwrap();
    assert!(out.status.success(), "nix-instantiate failed: {}\n{src}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter().map(|x| x["v"].as_str().unwrap().to_owned()).collect()
}

fn hostile() -> impl Strategy<Value = String> {
    // Bias towards the characters that matter to Nix's lexer.
    let pieces = prop::sample::select(vec!["${", "$", "{", "}", "\"", "\\", "\n", "\r", "\t", "''", "'", ";", "#", "/*", "*/", "${x}", "\\${", "é", "🔥", " ", "a"]);
    prop::collection::vec(prop_oneof![pieces.prop_map(String::from), "[ -~]{0,4}", "\\PC{0,3}"], 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_string_round_trips_through_emitted_nix(batch in prop::collection::vec(hostile(), 1..40)) {
        // Nix strings cannot hold NUL; the inventory's TOML cannot either.
        let batch: Vec<String> = batch.into_iter().map(|s| s.replace('\0', "")).collect();
        if !have_nix() {
            // rnix still checks the syntax.
            let src = nix::print(&Value::strs(batch.clone()));
            prop_assert_eq!(nix::parse_errors(&src), None);
            return Ok(());
        }
        prop_assert_eq!(eval_strings(&batch), batch);
    }
}

#[test]
fn description_with_injection_attempt_stays_a_string_in_hearth_nix() {
    // A full pipeline case: a host description is not emitted, but names
    // and keys are; a user key comment carries arbitrary text.
    let evil = "x\"; }; users.users.root.password = \"pwned\"; x = { y = \"${builtins.currentTime}";
    let got = if have_nix() { eval_strings(&[evil.to_owned()]) } else { vec![evil.to_owned()] };
    assert_eq!(got, [evil]);
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if p.is_dir() {
            nix_files(&p, out);
        } else if name.ends_with(".nix") {
            out.push(p);
        }
    }
}

#[test]
fn every_nix_file_in_the_repo_parses_with_rnix() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    nix_files(root, &mut files);
    assert!(files.len() >= 12, "expected the repo's modules, hosts and checks, found {}", files.len());
    let bad: Vec<String> = files
        .iter()
        .filter_map(|f| nix::parse_errors(&std::fs::read_to_string(f).unwrap()).map(|e| format!("{}: {e}", f.display())))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

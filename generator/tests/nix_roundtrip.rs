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
    let bad: Vec<String> = files.iter().filter_map(|f| nix::parse_errors(&std::fs::read_to_string(f).unwrap()).map(|e| format!("{}: {e}", f.display()))).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// --- Alloy: hostile inventory strings through modules/lib/logs.nix --------

/// An Alloy token, with string literals decoded.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// A small lexer for Alloy syntax (Go-style strings; `//` and `/* */`
/// comments), strict where Alloy is: a raw newline or an unknown escape in a
/// string is an error.
fn alloy_lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = vec![];
    let mut it = src.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            c if c.is_whitespace() => {}
            '/' if it.peek() == Some(&'/') => {
                for c in it.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if it.peek() == Some(&'*') => {
                it.next();
                let mut prev = ' ';
                loop {
                    let c = it.next().ok_or("unterminated block comment")?;
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match it.next().ok_or("unterminated string")? {
                        '"' => break,
                        '\n' => return Err("raw newline in a string".into()),
                        '\\' => {
                            let e = it.next().ok_or("unterminated escape")?;
                            let hex = |it: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Result<char, String> {
                                let h: String = (0..n).filter_map(|_| it.next()).collect();
                                u32::from_str_radix(&h, 16).ok().and_then(char::from_u32).ok_or(format!("bad escape \\{e}{h}"))
                            };
                            s.push(match e {
                                '\\' => '\\',
                                '"' => '"',
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                'a' => '\u{7}',
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                'v' => '\u{b}',
                                'x' => hex(&mut it, 2)?,
                                'u' => hex(&mut it, 4)?,
                                'U' => hex(&mut it, 8)?,
                                other => return Err(format!("unknown escape \\{other}")),
                            });
                        }
                        c => s.push(c),
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut s = String::from(c);
                while let Some(&n) = it.peek() {
                    if n.is_alphanumeric() || n == '_' {
                        s.push(n);
                        it.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Ident(s));
            }
            c if "{}[]=,.()".contains(c) => out.push(Tok::Punct(c)),
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// The Alloy config of an external-Loki shipper whose label values,
/// basic-auth user and tenant are `values` (label `l<i>` = `values[i]`,
/// username = `values[0]`, tenant = the last).
fn render_alloy(values: &[String]) -> String {
    let labels: Vec<(String, Value)> = values.iter().enumerate().map(|(i, v)| (format!("l{i}"), Value::Str(v.clone()))).collect();
    let cfg: Value = Attrs::new()
        .set("enable", true)
        .set("host", "gw")
        .set("ship", true)
        .set("agent", "alloy")
        .set(
            "push",
            Attrs::new()
                .set("url", "https://logs.example.net/loki/api/v1/push")
                .set("username", values[0].clone())
                .set("passwordSecret", "loki-password")
                .set("tenant", values[values.len() - 1].clone()),
        )
        .set("labels", Value::Attrs(labels))
        .set("journalMaxAge", "12h")
        .set("loki", Value::Null)
        .into();
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/lib");
    let expr = format!("(import {}).logs.alloyConfig ({})", lib.canonicalize().unwrap().display(), nix::print(&cfg));
    let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &expr]).env("NIX_REMOTE", "").output().unwrap();
    assert!(out.status.success(), "nix-instantiate failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<String>(&out.stdout).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Whatever the label values, user and tenant hold, the Alloy text has
    /// exactly the structure of a harmless render (same blocks, attributes
    /// and punctuation), and each string literal decodes to the original.
    #[test]
    fn any_string_stays_one_alloy_string(batch in prop::collection::vec(prop_oneof![hostile(), Just("\u{1}\u{1b}\u{7f}\"}\n".to_string())], 1..8)) {
        assert!(have_nix(), "nix-instantiate is needed (Debian: apt-get install nix-bin)");
        let batch: Vec<String> = batch.into_iter().map(|s| s.replace('\0', "")).collect();
        let placeholders: Vec<String> = (0..batch.len()).map(|i| format!("PLACEHOLDER{i}")).collect();
        let want: Vec<Tok> = alloy_lex(&render_alloy(&placeholders))
            .unwrap()
            .into_iter()
            .map(|t| match t {
                Tok::Str(s) if s.starts_with("PLACEHOLDER") => Tok::Str(batch[s["PLACEHOLDER".len()..].parse::<usize>().unwrap()].clone()),
                t => t,
            })
            .collect();
        let text = render_alloy(&batch);
        let got = alloy_lex(&text);
        prop_assert_eq!(got, Ok(want), "rendered:\n{}", text);
    }
}

#[test]
fn alloy_lexer_sees_an_injection_when_there_is_one() {
    // The property above can fail: a value pasted without escaping changes
    // the token structure.
    let ok = alloy_lex("a = { l0 = \"x\" }").unwrap();
    let injected = alloy_lex("a = { l0 = \"x\", y = \"pwned\" }").unwrap();
    assert_ne!(ok.len(), injected.len());
    assert!(alloy_lex("a = \"x\ny\"").is_err(), "raw newline");
    assert_eq!(alloy_lex(r#""\u0001\\\"""#).unwrap(), vec![Tok::Str("\u{1}\\\"".into())]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// `alloy.key` (object keys) and `alloy.str` give exactly one token that
    /// means the original string, whatever it holds.
    #[test]
    fn alloy_key_and_str_are_one_token(batch in prop::collection::vec(prop_oneof![hostile(), "[A-Za-z_][A-Za-z0-9_]{0,6}", Just("true".to_string())], 1..20)) {
        assert!(have_nix(), "nix-instantiate is needed (Debian: apt-get install nix-bin)");
        let batch: Vec<String> = batch.into_iter().map(|s| s.replace('\0', "")).collect();
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/lib").canonicalize().unwrap();
        let expr = format!("let a = (import {}).logs.alloy; in map (s: [ (a.key s) (a.str s) ]) {}", lib.display(), nix::print(&Value::strs(batch.clone())));
        let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &expr]).env("NIX_REMOTE", "").output().unwrap();
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<[String; 2]> = serde_json::from_slice(&out.stdout).unwrap();
        for (s, [key, string]) in batch.iter().zip(got) {
            let k = alloy_lex(&key);
            prop_assert!(k == Ok(vec![Tok::Ident(s.clone())]) || k == Ok(vec![Tok::Str(s.clone())]), "key {:?} -> {:?}", s, k);
            prop_assert_eq!(alloy_lex(&string), Ok(vec![Tok::Str(s.clone())]));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// The generator's label-name and retention rules and the renderer's
    /// throws agree: whatever `hearth check` accepts, the renderer renders
    /// (and a label name it rejects, the renderer rejects too).
    #[test]
    fn generator_and_renderer_agree_on_labels_and_durations(
        names in prop::collection::vec(prop_oneof!["[a-z_]{1,4}", "[A-Za-z0-9_:-]{1,4}", "__[a-z]{1,3}", Just("host".to_string()), Just("src".to_string())], 1..30),
        durations in prop::collection::vec(prop_oneof!["[0-9]{1,3}(y|w|d|h|m|s|ms)", "[0-9]{1,2}d[0-9]{1,2}h", "[0-9]{1,2}h[0-9]{1,2}d", "[0-9dhms ]{1,5}"], 1..30),
    ) {
        assert!(have_nix(), "nix-instantiate is needed (Debian: apt-get install nix-bin)");
        use hearth::area::logs::{duration_secs, is_label_name, RESERVED_LABELS};
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/lib").canonicalize().unwrap();
        let expr = format!(
            "let l = (import {}).logs; ok = v: (builtins.tryEval (builtins.deepSeq v v)).success; in {{ names = map (n: ok (l.checkLabels {{ ${{n}} = \"v\"; }})) {}; durations = map (d: ok (l.checkDuration \"d\" d)) {}; }}",
            lib.display(),
            nix::print(&Value::strs(names.clone())),
            nix::print(&Value::strs(durations.clone()))
        );
        let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &expr]).env("NIX_REMOTE", "").output().unwrap();
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (n, nix_ok) in names.iter().zip(got["names"].as_array().unwrap()) {
            let rust_ok = is_label_name(n) && !n.starts_with("__") && !RESERVED_LABELS.contains(&n.as_str());
            prop_assert_eq!(rust_ok, nix_ok.as_bool().unwrap(), "label name {:?}", n);
        }
        for (d, nix_ok) in durations.iter().zip(got["durations"].as_array().unwrap()) {
            if duration_secs(d).is_ok() {
                prop_assert!(nix_ok.as_bool().unwrap(), "hearth accepts duration {:?} but the renderer throws", d);
            }
        }
    }
}

// ---- the ingress: hostile strings never reach Caddy's config or Traefik's
// configuration unchecked. The Rust validator and the renderer's checks are
// the same character classes: on any string, both accept or both refuse.

fn ingress_cfg(uri: &str, upstream: &str, host: &str, email: &str) -> String {
    let site = Attrs::new()
        .set("name", "grafana")
        .set("host", host.to_string())
        .set("cert", "home.example.net")
        .set("upstream", upstream.to_string())
        .set("allow", Value::strs(["10.1.0.5"]))
        .set("auth", Attrs::new().set("type", "forward").set("basicSecret", Value::Null).set("users", Value::List(vec![])));
    let cfg = Attrs::new()
        .set("enable", true)
        .set("backend", "caddy")
        .set("address", "10.0.0.10")
        .set("httpPort", 80u16)
        .set("httpsPort", 443u16)
        .set("tls", Attrs::new().set("mode", "acme").set("minVersion", "1.2").set("hsts", 0u16))
        .set("certificates", Value::List(vec![Attrs::new().set("name", "home.example.net").set("domain", "*.home.example.net").set("extraDomains", Value::List(vec![])).into()]))
        .set(
            "acme",
            Attrs::new()
                .set("server", "https://acme.example.net/dir")
                .set("email", email.to_string())
                .set("dnsProvider", "exec")
                .set("propagationCheck", true)
                .set("credentialsSecret", Value::Null)
                .set("caRoot", Value::Null),
        )
        .set("forwardAuth", Attrs::new().set("upstream", "http://10.0.0.30:9091").set("uri", uri.to_string()).set("copyHeaders", Value::strs(["Remote-User"])))
        .set("routeBack", Value::Null)
        .set("sites", Value::List(vec![site.into()]));
    nix::print(&Value::from(cfg))
}

/// For each cfg: does the renderer accept it (Caddy's config, traefik and lego args all evaluate)?
fn renderer_accepts(cfgs: &[String]) -> Vec<bool> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("modules/lib/ingress.nix");
    let items: Vec<String> = cfgs
        .iter()
        .map(|c| {
            format!(
                "(let cfg = {c}; a = {{ inherit cfg; secretPath = n: \"/run/agenix/\" + n; certDir = n: \"/var/lib/acme/\" + n; }}; in (builtins.tryEval (builtins.deepSeq [ (r.caddyConfig {{ inherit cfg; inherit (a) certDir; }}) (r.traefik a) (r.legoArgs cfg \"home.example.net\") ] true)).success)"
            )
        })
        .collect();
    eval_list(&lib, &items)
}

fn url_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "/",
        "/api",
        "?rd=",
        "https://",
        "{",
        "}",
        "{$HOME}",
        "{env.X}",
        "\"",
        "\\",
        "\n",
        " ",
        "\t",
        "`",
        "#",
        "import",
        "'",
        ";",
        "%20",
        "é",
        "a",
        ":",
        "@",
        "&",
        ".",
        "-",
        "x.example.net",
        "10.0.0.1",
        ":80",
        ":0",
        "A",
    ]);
    prop::collection::vec(prop_oneof![pieces.prop_map(String::from), "[ -~]{0,3}"], 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn ingress_validator_and_renderer_agree_on_hostile_strings(batch in prop::collection::vec(url_like(), 1..16)) {
        use hearth::area::ingress::{is_email, is_hostname, is_upstream, is_uri};
        if !have_nix() {
            return Ok(());
        }
        // One field hostile at a time, the others valid: each verdict is that field's.
        let (u0, up0, h0, e0) = ("/verify", "http://10.0.0.30:9091", "grafana.home.example.net", "a@example.net");
        let mut cases: Vec<(String, String, String, String, bool)> = vec![];
        for x in batch.iter().map(|x| x.replace('\0', "")) {
            let up = format!("http://{x}");
            cases.push((x.clone(), up0.into(), h0.into(), e0.into(), is_uri(&x)));
            cases.push((u0.into(), up.clone(), h0.into(), e0.into(), is_upstream(&up)));
            // A site's name is one label under its certificate's base, as
            // Rust builds it (`<subdomain>.<domain>`); the renderer checks both.
            let one_label_under_base = x.strip_suffix(".home.example.net").is_some_and(|l| !l.is_empty() && !l.contains('.'));
            cases.push((u0.into(), up0.into(), x.clone(), e0.into(), is_hostname(&x) && one_label_under_base));
            cases.push((u0.into(), up0.into(), h0.into(), x.clone(), is_email(&x)));
        }
        let cfgs: Vec<String> = cases.iter().map(|(u, up, h, e, _)| ingress_cfg(u, up, h, e)).collect();
        let got = renderer_accepts(&cfgs);
        for ((u, up, h, e, rust), ok) in cases.iter().zip(got) {
            prop_assert_eq!(*rust, ok, "uri {:?} upstream {:?} host {:?} email {:?}", u, up, h, e);
        }
    }
}

#[test]
fn ingress_strings_that_pass_reach_caddy_exactly() {
    // Accepted but unusual URIs become exactly that string in the JSON
    // Caddy loads (`caddy validate` provisions it: tls internal, so no
    // certificate files are needed); nothing else appears.
    if !have_nix() || Command::new("caddy").arg("version").output().is_err() {
        println!("SKIPPED: nix-instantiate or caddy missing");
        return;
    }
    let uris = ["/api/verify?rd=https://auth.home.example.net/", "/a;b#c", "/x'y'%20$z", "/o/(p)*+,=!@&~"];
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("modules/lib/ingress.nix");
    for u in uris {
        let cfg = ingress_cfg(u, "http://10.0.0.11:3000", "grafana.home.example.net", "a@example.net");
        let expr = format!(
            "(import {}).caddyJson {{ cfg = let c = {cfg}; in c // {{ tls = c.tls // {{ mode = \"internal\"; }}; }}; certDir = n: \"/var/lib/acme/\" + n; }}",
            lib.display()
        );
        let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &expr]).output().unwrap();
        assert!(out.status.success(), "{u}: {}", String::from_utf8_lossy(&out.stderr));
        let text: String = serde_json::from_slice(&out.stdout).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("caddy.json");
        std::fs::write(&file, &text).unwrap();
        let v = Command::new("caddy")
            .args(["validate", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .output()
            .unwrap();
        assert!(v.status.success(), "{u}: {}\n{text}", String::from_utf8_lossy(&v.stderr));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
                _ => {}
            }
        }
        let mut all = vec![];
        strings(&json, &mut all);
        assert!(all.iter().any(|s| s == u), "{u} not in {json}");
    }
}

#[test]
fn caddy_basic_env_script_writes_every_hash_or_nothing() {
    // The script the NixOS module runs before Caddy starts (and the lab
    // runs): each user's bcrypt hash from the secret's `USER HASH` lines
    // into a 0600 environment file, whole; a missing user or a hash with a
    // character bcrypt never uses leaves no file behind.
    if !have_nix() {
        println!("SKIPPED: nix-instantiate missing");
        return;
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("modules/lib/ingress.nix");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("ingress-basic-grafana");
    let out_file = dir.path().join("caddy.env");
    let cfg = ingress_cfg("/x", "http://10.0.0.11:3000", "grafana.home.example.net", "a@example.net");
    let expr = format!(
        "(import {}).caddyBasicEnv {{ cfg = let c = {cfg}; in c // {{ sites = map (s: s // {{ auth = {{ type = \"basic\"; basicSecret = \"ingress-basic-grafana\"; users = [ \"alice\" \"bob\" ]; }}; }}) c.sites; }}; secretPath = n: \"{}/\" + n; out = \"{}\"; }}",
        lib.display(),
        dir.path().display(),
        out_file.display()
    );
    let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &expr]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script: String = serde_json::from_slice(&out.stdout).unwrap();
    let run = || Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let alice = "$2a$14$KJuDFbmpQOWebalTn1wauuPtxgMoBL6.MRLLNS5aheRtLCnxjJkRm";
    let bob = "$2y$10$abcdefghijklmnopqrstuuJ0123456789./ABCDEFGHIJKLMNOPQRS";

    std::fs::write(&secret, format!("bob {bob}\nalice {alice}\n")).unwrap();
    let r = run();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), format!("HEARTH_BASIC_0='{alice}'\nHEARTH_BASIC_1='{bob}'\n"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777, 0o600);

    for (bad, why) in [(format!("alice {alice}\n"), "no line 'bob HASH'"), (format!("alice {alice}\nbob $2a$10$x'y\n"), "has a character bcrypt does not use")] {
        let _ = std::fs::remove_file(&out_file);
        std::fs::write(&secret, bad).unwrap();
        let r = run();
        assert!(!r.status.success());
        assert!(String::from_utf8_lossy(&r.stderr).contains(why), "{}", String::from_utf8_lossy(&r.stderr));
        assert!(!out_file.exists(), "a failed run left {}", out_file.display());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "only the secret remains: {left:?}");
    }
}

// ---- the gateway's resolver: a name space or a site's name that reaches
// unbound.conf's quoted `local-zone` / `local-data` is one the Rust
// validator (`is_hostname`, what `hearth check` applies to vpn_domain,
// lan_domain and `<subdomain>.<domain>`) accepts, and only such.

fn resolver_accepts(names: &[String]) -> Vec<bool> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("modules/lib/ingress.nix");
    let items: Vec<String> = names
        .iter()
        .map(|n| {
            let z = nix::print(&Value::str(n.clone()));
            let rec = nix::print(&Value::str(format!("grafana.{n}")));
            format!(
                "(builtins.tryEval (builtins.deepSeq (r.unboundConf (r.unbound {{ address = \"10.1.0.1\"; port = 53; interface = \"hearth0\"; allow = [ \"10.1.0.0/24\" ]; zones = [ {z} ]; records = [ {{ name = {rec}; address = \"10.0.0.10\"; }} ]; forward = [ ]; }})) true)).success"
            )
        })
        .collect();
    eval_list(&lib, &items)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn resolver_validator_and_renderer_agree_on_hostile_names(batch in prop::collection::vec(url_like(), 1..16)) {
        use hearth::area::ingress::is_hostname;
        if !have_nix() {
            println!("SKIPPED: nix-instantiate missing (Debian: nix-bin)");
            return Ok(());
        }
        let names: Vec<String> = batch.iter().map(|x| x.replace('\0', "")).chain(["home.example.net".to_string(), "x\" static\nlocal-zone: \".".to_string()]).collect();
        let got = resolver_accepts(&names);
        for (n, ok) in names.iter().zip(got) {
            // The site's name `grafana.<n>` must be a hostname too (length).
            prop_assert_eq!(is_hostname(n) && is_hostname(&format!("grafana.{n}")), ok, "name space {:?}", n);
        }
    }
}

/// `[ ITEMS ]` evaluated with `r` = the renderer at `lib`, as JSON.
fn eval_list<T: serde::de::DeserializeOwned>(lib: &Path, items: &[String]) -> T {
    let expr = format!("let r = import {}; in [ {} ]", lib.display(), items.join("\n"));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("e.nix");
    std::fs::write(&f, expr).unwrap();
    let out = Command::new("nix-instantiate").args(["--eval", "--strict", "--json"]).arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

//! Evaluating the pure Nix renderers (`modules/lib/`) with `nix-instantiate`,
//! the same functions the NixOS modules call: `hearth preview` and the lab
//! go through here, so there is no second implementation of any of them.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("cannot run nix-instantiate: {0}\nhint: install Nix (Debian: apt-get install nix-bin)")]
    NoNix(std::io::Error),
    #[error("cannot find hearth's Nix renderers (modules/lib/default.nix)\nhint: set HEARTH_LIB to the modules/lib directory of hearth's source")]
    NoLib,
    #[error("host `{0}` has no generated hosts/{0}/hearth.nix; run `hearth render` first")]
    NotRendered(String),
    #[error("evaluating {what} failed:\n{stderr}")]
    Eval { what: String, stderr: String },
    #[error("unknown part `{0}`; known parts: {1}")]
    UnknownPart(String, String),
    #[error("host `{host}` has no {area} configuration (it needs {needs})")]
    NotApplicable { host: String, area: &'static str, needs: &'static str },
}

/// Where the renderers are: `$HEARTH_LIB`, the repo's own `modules/lib`,
/// `<prefix>/share/hearth/lib` next to an installed binary (the flake's
/// package puts them there), or the source tree hearth was built from.
pub fn lib_dir(root: &Path) -> Result<PathBuf, PreviewError> {
    let installed = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.parent()?.join("share/hearth/lib")));
    let candidates =
        [std::env::var_os("HEARTH_LIB").map(PathBuf::from), Some(root.join("modules/lib")), installed, Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/lib"))];
    candidates.into_iter().flatten().find(|p| p.join("default.nix").is_file()).map(|p| p.canonicalize().unwrap_or(p)).ok_or(PreviewError::NoLib)
}

/// Evaluates the Nix expression `expr` strictly with `nix-instantiate`
/// (`--argstr NAME VALUE` for each of `args`) and returns its JSON. The one
/// way hearth runs Nix: preview and the lab both come through here.
pub fn nix_eval(expr: &str, args: &[(&str, &std::ffi::OsStr)]) -> Result<serde_json::Value, PreviewError> {
    let mut cmd = Command::new("nix-instantiate");
    cmd.args(["--eval", "--strict", "--json", "-E", expr]);
    for (name, value) in args {
        cmd.arg("--argstr").arg(name).arg(value);
    }
    // No daemon, no store writes needed for pure evaluation.
    let out = cmd.env("NIX_REMOTE", "").output().map_err(PreviewError::NoNix)?;
    if !out.status.success() {
        return Err(PreviewError::Eval { what: expr.into(), stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned() });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| PreviewError::Eval { what: expr.into(), stderr: e.to_string() })
}

/// Evaluates `expr` (with `lib` bound to the renderers and `host` to the
/// host's generated data) strictly and returns its JSON. The paths travel as
/// `--argstr` values, never as Nix source text: a repository under a
/// directory whose name holds a space, `''` or a newline evaluates the same
/// files, and nothing of the path can become code (issue 19).
pub fn eval_json(lib: &Path, host_nix: &Path, expr: &str) -> Result<serde_json::Value, PreviewError> {
    let full = format!("{{ libPath, hostPath }}: let lib = import (/. + libPath); host = import (/. + hostPath); in {expr}");
    let lib = abs(lib);
    let host = abs(host_nix);
    nix_eval(&full, &[("libPath", lib.as_os_str()), ("hostPath", host.as_os_str())])
}

/// The absolute form of `p` (what `/. + p` needs).
fn abs(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf()))
}

/// Every part `hearth preview HOST PART` knows: each area's, with its area.
pub fn parts() -> impl Iterator<Item = (&'static str, &'static crate::area::Preview)> {
    crate::area::AREAS.iter().flat_map(|a| a.previews().iter().map(move |p| (a.name(), p)))
}

/// Renders one part of a host as its module will: text parts come back as
/// text, attribute sets as pretty JSON.
pub fn preview(root: &Path, host: &str, part: &str) -> Result<String, PreviewError> {
    let (area, p) = parts().find(|(_, p)| p.part == part).ok_or_else(|| PreviewError::UnknownPart(part.into(), parts().map(|(_, p)| p.part).collect::<Vec<_>>().join(", ")))?;
    let host_nix = root.join("hosts").join(host).join("hearth.nix");
    if !host_nix.is_file() {
        return Err(PreviewError::NotRendered(host.into()));
    }
    let lib = lib_dir(root)?;
    let has = eval_json(&lib, &host_nix, &format!("(host.hearth or {{}}) ? {area} && ({})", p.when))?;
    if has != serde_json::Value::Bool(true) {
        return Err(PreviewError::NotApplicable { host: host.into(), area, needs: p.needs });
    }
    Ok(match eval_json(&lib, &host_nix, p.expr)? {
        serde_json::Value::String(s) => s,
        v => serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
    })
}

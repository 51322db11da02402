//! The ingress lab's forward-auth part (`auth = "forward"`, `[ingress]
//! forward_auth`).
//!
//! No Authelia, oauth2-proxy or Kanidm package exists in Debian, so a
//! STAND-IN answers at the address `[ingress] forward_auth` names: a second
//! Caddy (a real program) on a small Caddyfile this file writes, behaving
//! like Authelia's `/api/authz/forward-auth` endpoint as Caddy's
//! `forward_auth` asks it: a request carrying the lab's session cookie
//! (`authelia_session`, a random value made for this run) gets 200 with
//! `Remote-User` and `Remote-Groups`; any other gets a 302 to the login
//! portal of its name space (Authelia 4.38's `session.cookies[].authelia_url`),
//! with `rd` = the URL asked. Every other path answers like the lab's other
//! backends ("hearth-lab backend HOST:PORT"): it is also the backend of the
//! portal's own web service. What this proves is hearth's half, the
//! rendered Caddyfile on Debian's Caddy: who is asked, in what order (the
//! allow list first), what a client gets without a session, and that the
//! copied headers reach the backend. It says nothing about Authelia itself.

use std::path::Path;

use serde_json::Value as Json;

use super::lab::{s, write_private, Res};
use crate::area::LabCx;
use crate::lab::exec::{in_ns, run_input};

/// The cookie Authelia sets for a logged-in session.
pub(super) const COOKIE: &str = "authelia_session";
/// The response header every lab backend echoes the request's `Remote-User` in.
pub(super) const ECHO: &str = "Hearth-Lab-Remote-User";

/// What the stand-in decides, from the rendered `hearth.ingress`.
pub(super) struct Forward {
    /// `http://HOST:PORT` as rendered (`forwardAuth.upstream`).
    pub upstream: String,
    /// The path part of `forwardAuth.uri` (the stand-in's verify endpoint).
    path: String,
    /// The lab's session: whoever presents it is logged in.
    pub session: String,
    /// Who the session belongs to (`Remote-User`) and its groups.
    pub user: String,
    groups: String,
    /// (name space, portal host): the sites served by the auth service
    /// itself, longest name space first (a `.lan.` name is also under the
    /// VPN one).
    portals: Vec<(String, String)>,
}

impl Forward {
    /// `None` without `[ingress] forward_auth`.
    pub(super) fn of(cx: &LabCx, cfg: &Json, sites: &[Json]) -> Option<Forward> {
        let f = cfg.get("forwardAuth").filter(|v| !v.is_null())?;
        let upstream = s(f, "upstream");
        let uri = s(f, "uri");
        let path = uri.split(['?', '#']).next().unwrap_or("/").to_string();
        let mut portals: Vec<(String, String)> = sites
            .iter()
            .filter(|x| s(x, "upstream") == upstream)
            .filter_map(|x| {
                let host = s(x, "host");
                host.split_once('.').map(|(_, d)| (d.to_string(), host.clone()))
            })
            .collect();
        portals.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
        let user = cx.inv.users.keys().next().cloned().unwrap_or_else(|| "hearth-lab".into());
        let session: String = {
            use rand::Rng;
            let mut r = rand::thread_rng();
            (0..32).map(|_| format!("{:x}", r.gen_range(0..16u8))).collect()
        };
        Some(Forward { upstream, path, session, user, groups: "admins".into(), portals })
    }

    /// Where the stand-in sends a client without a session that asked
    /// `https://HOST/`: its name space's portal, or 401 without one.
    pub(super) fn login(&self, host: &str) -> String {
        match self.portals.iter().find(|(d, _)| host.strip_suffix(d.as_str()).is_some_and(|p| p.ends_with('.'))) {
            Some((_, portal)) => format!("302 https://{portal}/?rd=https://{host}/"),
            None => "401".into(),
        }
    }

    /// The stand-in's Caddyfile, listening on `port` (plain HTTP, as
    /// `forward_auth http://...` asks it).
    fn caddyfile(&self, port: u16, backend: &str) -> String {
        let rd = "{http.request.header.X-Forwarded-Host}{http.request.header.X-Forwarded-Uri}";
        let mut m = String::new();
        let mut redirs = String::new();
        for (i, (dom, portal)) in self.portals.iter().enumerate() {
            m += &format!("\t@portal{i} header X-Forwarded-Host *.{dom}\n");
            redirs += &format!("\t\tredir @portal{i} https://{portal}/?rd=https://{rd} 302\n");
        }
        format!(
            "# hearth lab: a STAND-IN for Authelia's forward-auth endpoint (Caddy, not Authelia).\n{{\n\tadmin off\n\tauto_https off\n}}\nhttp://:{port} {{\n\t@verify path {path}\n\t@session header Cookie *{COOKIE}={session}*\n{m}\troute @verify {{\n\t\theader @session Remote-User {user}\n\t\theader @session Remote-Groups {groups}\n\t\trespond @session 200\n{redirs}\t\trespond 401\n\t}}\n\trespond \"{backend}\"\n}}\n",
            path = self.path,
            session = self.session,
            user = self.user,
            groups = self.groups,
        )
    }

    /// Starts the stand-in in `ns` on `port`; teardown stops it.
    pub(super) fn start(&self, cx: &LabCx, dir: &Path, ns: &str, port: u16, backend: &str) -> Res<()> {
        let file = dir.join("auth-stand-in.Caddyfile");
        // Holds the lab's session value: private, like the secrets.
        write_private(&file, self.caddyfile(port, backend).as_bytes())?;
        let mut c = in_ns(ns, "caddy");
        c.args(["run", "--adapter", "caddyfile", "--config"]).arg(&file);
        c.env("HOME", dir.join("caddy-home")).env("XDG_DATA_HOME", dir.join("caddy-home")).env("XDG_CONFIG_HOME", dir.join("caddy-home"));
        cx.lab.spawn("ingress-auth-stand-in", c)?;
        Ok(())
    }
}

/// One answer as a browser would see it.
pub(super) struct Reply {
    pub code: String,
    pub body: String,
    pub location: String,
    /// What the backend saw in `Remote-User` (its echo header).
    pub remote_user: String,
}

impl Reply {
    /// `"302 URL"`, `"200 BODY (Remote-User X)"`, `"403"`, `"000 (no connection)"`;
    /// a backend body where there should be none is named.
    pub(super) fn show(&self) -> String {
        match self.code.as_str() {
            "000" => "000 (no connection)".into(),
            "200" => format!("200 {} (Remote-User {})", self.body.trim(), if self.remote_user.is_empty() { "-" } else { &self.remote_user }),
            c if self.body.contains("hearth-lab backend") => format!("{c} with the backend's body: {}", self.body.trim()),
            c if c.starts_with('3') => format!("{c} {}", self.location),
            c => c.to_string(),
        }
    }
}

/// `curl https://NAME/` through the tunnel: [`fetch_url`] on port 443.
pub(super) fn fetch(ns: &str, name: &str, ip: std::net::Ipv4Addr, ca: &Path, conf: &str) -> Reply {
    fetch_url(ns, &format!("https://{name}/"), name, 443, ip, ca, conf)
}

/// `curl URL` through the tunnel, `NAME:PORT` resolved to `ip`, TLS verified
/// against `ca`, with extra curl config lines (credentials, cookie, headers)
/// given on stdin, never on a command line. A transport failure (000), which
/// a lost packet can cause, is tried again (three times in all) before it is
/// reported.
pub(super) fn fetch_url(ns: &str, url: &str, name: &str, port: u16, ip: std::net::Ipv4Addr, ca: &Path, conf: &str) -> Reply {
    let mut last = Reply { code: "000".into(), body: String::new(), location: String::new(), remote_user: String::new() };
    for _ in 0..3 {
        let mut c = in_ns(ns, "curl");
        c.args(["-s", "--connect-timeout", "4", "--max-time", "10", "--cacert"]).arg(ca);
        c.args(["--resolve", &format!("{name}:{port}:{ip}"), "-w", &format!("\n%{{http_code}}\t%{{redirect_url}}\t%header{{{ECHO}}}"), "-K", "-"]);
        c.arg(url);
        let out = run_input(&mut c, Some(conf.as_bytes())).unwrap_or_default();
        let (body, tail) = out.rsplit_once('\n').unwrap_or(("", ""));
        let mut f = tail.split('\t');
        let code = f.next().unwrap_or("").trim();
        last = Reply {
            code: if code.is_empty() { "000".into() } else { code.into() },
            body: body.to_string(),
            location: f.next().unwrap_or("").trim().into(),
            remote_user: f.next().unwrap_or("").trim().into(),
        };
        if last.code != "000" {
            break;
        }
    }
    last
}

/// curl config lines that present the lab's session (and, to prove the
/// ingress overwrites it, a client's own `Remote-User`).
pub(super) fn with_session(f: &Forward, spoof: Option<&str>) -> String {
    let mut conf = format!("cookie = \"{COOKIE}={}\"\n", f.session);
    if let Some(u) = spoof {
        conf += &format!("header = \"Remote-User: {u}\"\n");
    }
    conf
}

/// The rendered `hearth.ingress` says this site asks the auth service.
pub(super) fn is_forward(site: &Json) -> bool {
    site.pointer("/auth/type").and_then(Json::as_str) == Some("forward")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd() -> Forward {
        Forward {
            upstream: "http://10.0.0.40:9091".into(),
            path: "/api/authz/forward-auth".into(),
            session: "abc".into(),
            user: "alice".into(),
            groups: "admins".into(),
            portals: vec![("lan.home.example.net".into(), "auth.lan.home.example.net".into()), ("home.example.net".into(), "auth.home.example.net".into())],
        }
    }

    #[test]
    fn login_goes_to_the_portal_of_the_name_space_asked() {
        let f = fwd();
        assert_eq!(f.login("grafana.home.example.net"), "302 https://auth.home.example.net/?rd=https://grafana.home.example.net/");
        assert_eq!(f.login("grafana.lan.home.example.net"), "302 https://auth.lan.home.example.net/?rd=https://grafana.lan.home.example.net/");
        assert_eq!(f.login("grafana.other.net"), "401");
    }

    #[test]
    fn stand_in_caddyfile_checks_the_session_before_redirecting() {
        let c = fwd().caddyfile(18090, "hearth-lab backend nas01:9091");
        let at = |needle: &str| c.find(needle).unwrap_or_else(|| panic!("{needle} missing in\n{c}"));
        assert!(at("respond @session 200") < at("redir @portal0 https://auth.lan.home.example.net/"));
        assert!(at("redir @portal0") < at("redir @portal1 https://auth.home.example.net/"));
        assert!(c.contains("@session header Cookie *authelia_session=abc*") && c.contains("http://:18090 {") && c.contains("STAND-IN for Authelia"));
    }

    #[test]
    fn a_backend_body_where_none_belongs_is_named() {
        let r = Reply { code: "401".into(), body: "hearth-lab backend x:1".into(), location: String::new(), remote_user: String::new() };
        assert_eq!(r.show(), "401 with the backend's body: hearth-lab backend x:1");
        let r = Reply { code: "302".into(), body: "hearth-lab backend x:1".into(), location: "https://auth.x/".into(), remote_user: String::new() };
        assert_eq!(r.show(), "302 with the backend's body: hearth-lab backend x:1");
        let r = Reply { code: "302".into(), body: String::new(), location: "https://auth.x/".into(), remote_user: String::new() };
        assert_eq!(r.show(), "302 https://auth.x/");
        let r = Reply { code: "200".into(), body: "hearth-lab backend x:1\n".into(), location: String::new(), remote_user: "alice".into() };
        assert_eq!(r.show(), "200 hearth-lab backend x:1 (Remote-User alice)");
    }
}

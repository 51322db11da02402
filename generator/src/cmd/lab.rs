//! `hearth lab`: the inventory as network namespaces with real WireGuard,
//! nftables and sshd; the policy proved on real packets.

use std::time::Duration;

use anyhow::Context;
use hearth::lab;

use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// Bring the lab up, prove every ACL test, the full port matrix and the
    /// bastion's 2FA, tear it down. Exit 0 only when everything matched.
    ///
    /// Examples (as root; the example's secrets open with its test key):
    ///   hearth --identity test-keys/admin-TEST-ONLY.agekey lab run
    ///   hearth lab run --json > lab-report.json
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
    /// Bring the lab up and leave it running, the bastion's sshd included
    /// (`hearth lab exec`, `hearth lab down`).
    ///
    /// Examples (as root):
    ///   hearth --identity test-keys/admin-TEST-ONLY.agekey lab up
    ///   hearth lab exec phone -- curl -s http://10.69.13.12:8096/
    ///   hearth lab down
    #[command(verbatim_doc_comment)]
    Up(UpArgs),
    /// Remove a lab: by prefix, or every lab whose run is gone (killed runs, `lab up`).
    Down {
        /// The lab's prefix (e.g. hl1a2b); default: every lab without a live run.
        prefix: Option<String>,
        /// Also remove labs whose run still seems alive.
        #[arg(long)]
        all: bool,
    },
    /// Run a command in a node's network namespace. `wg` there sees only
    /// the node's own interface.
    ///
    /// Examples:
    ///   hearth lab exec phone -- wg show
    ///   hearth lab exec laptop -- ping -c 3 10.69.13.5
    ///   hearth lab exec laptop -- nc -zv 10.69.13.11 3000
    #[command(verbatim_doc_comment)]
    Exec {
        /// Which lab (default: the only one that is up).
        #[arg(long = "lab", value_name = "PREFIX")]
        lab: Option<String>,
        /// A host or peer name from the inventory (or home-router, internet, lan).
        node: String,
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// List the labs that are up.
    List,
    /// (internal) A LAN host's responder: accepts every TCP connection and echoes UDP.
    #[command(hide = true)]
    Responder {
        #[arg(long)]
        port: u16,
        /// The lab it belongs to (shows in the process list).
        #[arg(long)]
        lab: Option<String>,
    },
}

/// `hearth lab up`: no scan, so none of the scan's options.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Progress on stderr.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// A removed peer's old wg-quick config, as NAME=FILE: the lab proves it
    /// gets no handshake and reaches nothing. Repeatable.
    #[arg(long = "revoked", value_name = "NAME=FILE")]
    revoked: Vec<String>,
    /// Starting probe rate, SYNs per second per client (all clients scan at
    /// once; the rate adapts to what reaches the gateway).
    #[arg(long, default_value_t = 12000)]
    rate: u32,
    /// Milliseconds to wait for answers after the last probe.
    #[arg(long, default_value_t = 1500)]
    linger_ms: u64,
    /// Which areas' lab stages run after the core checks: `all`, `none`, or
    /// a comma-separated list such as `storage,ingress`.
    #[arg(long, value_name = "AREAS", default_value = "all")]
    areas: String,
    /// Progress on stderr.
    #[arg(long, short)]
    verbose: bool,
}

/// `--areas`: None for all, else the named areas (each must exist).
fn areas(spec: &str) -> anyhow::Result<Option<Vec<String>>> {
    match spec {
        "all" => Ok(None),
        "none" => Ok(Some(vec![])),
        list => {
            let names: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            for n in &names {
                if hearth::area::find(n).is_none() {
                    let known: Vec<&str> = hearth::area::AREAS.iter().map(|a| a.name()).collect();
                    anyhow::bail!("--areas: no area `{n}`; known: {} (or all, none)", known.join(", "));
                }
            }
            Ok(Some(names))
        }
    }
}

fn opts(a: &RunArgs, g: &Global) -> anyhow::Result<lab::RunOpts> {
    let mut revoked = vec![];
    for r in &a.revoked {
        let (name, file) = r.split_once('=').context("--revoked wants NAME=FILE")?;
        let config = zeroize::Zeroizing::new(std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?);
        revoked.push(lab::build::Revoked { name: name.into(), config });
    }
    Ok(lab::RunOpts {
        inventory: g.inventory.clone(),
        identity: g.identity.clone(),
        revoked,
        exe: None,
        scan: lab::probe::SynOpts { rate: a.rate, linger: Duration::from_millis(a.linger_ms) },
        verbose: a.verbose,
        areas: areas(&a.areas)?,
    })
}

pub fn run(cmd: LabCommand, global: &Global) -> anyhow::Result<i32> {
    match cmd {
        LabCommand::Run(a) => {
            lab::probe::raise_nofile(1 << 20);
            let report = lab::run(&opts(&a, global)?)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
            Ok(if report.ok { 0 } else { 1 })
        }
        LabCommand::Up(a) => {
            let run = RunArgs { json: false, revoked: vec![], rate: 12000, linger_ms: 1500, areas: "none".into(), verbose: a.verbose };
            let (l, plan, decrypt) = lab::bring_up(&opts(&run, global)?)?;
            println!("lab {} is up:", l.prefix);
            for (name, kind, ns) in lab::describe(&plan, &l) {
                println!("  {name:<16} {kind:<10} netns {ns}");
            }
            if plan.bastion.is_some() {
                match lab::bastion::start(&l, &plan, &*decrypt) {
                    Ok(b) => println!("{}", b.how_to_login()),
                    Err(e) => println!("the bastion's sshd did not start: {}", lab::error::chain(&e)),
                }
            }
            println!("run commands in it with `hearth lab exec NODE -- CMD`, remove it with `hearth lab down {}`", l.prefix);
            Ok(0)
        }
        LabCommand::Down { prefix, all } => {
            let mut code = 0;
            let done = lab::down(prefix.as_deref(), all)?;
            if done.is_empty() {
                println!("no lab to remove");
            }
            for (p, problems) in done {
                if problems.is_empty() {
                    println!("removed lab {p}");
                } else {
                    code = 1;
                    println!("lab {p}: {}", problems.join("; "));
                }
            }
            Ok(code)
        }
        LabCommand::Exec { lab: l, node, cmd } => Ok(lab::exec_in(l.as_deref(), &node, &cmd)?),
        LabCommand::List => {
            let labs = lab::exec::Lab::list();
            if labs.is_empty() {
                println!("no lab is up; start one with `hearth lab up` (as root)");
            }
            for p in labs {
                let st = lab::exec::Lab::open(&p)?.state();
                println!("{p}  owner pid {}  nodes: {}", st.owner_pid, st.nodes.keys().cloned().collect::<Vec<_>>().join(", "));
            }
            Ok(0)
        }
        LabCommand::Responder { port, .. } => {
            lab::probe::responder(port)?;
            Ok(0)
        }
    }
}

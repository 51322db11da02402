//! `hearth lab`: the inventory as network namespaces (work in progress).

use super::Global;

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// Bring the lab up, prove the policy, tear it down.
    Run,
}

pub fn run(_cmd: LabCommand, _global: &Global) -> anyhow::Result<i32> {
    anyhow::bail!("hearth lab is not implemented yet")
}

//! The binary's subcommands: one file per area, each with its clap
//! definitions and a `run` that calls into the library.

use std::path::PathBuf;

pub mod core;
pub mod inventory_cmds;
pub mod lab;
pub mod secret;
pub mod user;

/// Options every subcommand sees.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The inventory to read and edit.
    #[arg(long, global = true, value_name = "PATH", env = "HEARTH_INVENTORY", default_value = "inventory.toml")]
    pub inventory: PathBuf,

    /// An age identity file or unencrypted OpenSSH private key used to decrypt
    /// secrets (default: ~/.ssh/id_ed25519, like agenix).
    #[arg(long, global = true, value_name = "FILE", env = "HEARTH_IDENTITY")]
    pub identity: Option<PathBuf>,
}

impl Global {
    /// The repository root: the directory holding the inventory.
    pub fn root(&self) -> PathBuf {
        hearth::fsutil::repo_root(&self.inventory)
    }
}

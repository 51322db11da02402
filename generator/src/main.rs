//! The `hearth` binary: argument parsing and dispatch. All logic lives in the
//! library.

mod cmd;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "One inventory of a homelab, rendered into NixOS modules and age secrets")]
struct Cli {
    #[command(flatten)]
    global: cmd::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Bring the inventory up as network namespaces and prove the policy on real packets.
    #[command(subcommand)]
    Lab(cmd::lab::LabCommand),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lab(c) => cmd::lab::run(c, &cli.global),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

//! hearth: one inventory of a homelab, turned into typed Nix attrsets for
//! hearth's NixOS modules and age-encrypted secrets.
//!
//! The library owns the inventory model, validation, allocation, policy
//! resolution, rendering and secrets; `main.rs` only parses arguments.

pub mod area;
pub mod bastion;
pub mod edit;
pub mod fsutil;
pub mod inventory;
pub mod keys;
pub mod lab;
pub mod nix;
pub mod policy;
pub mod preview;
pub mod qr;
pub mod render;
pub mod rules;
pub mod secrets;
pub mod topology;
pub mod types;
pub mod validate;

/// The inventory's JSON Schema (`hearth schema`, `inventory.schema.json`).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(inventory::Inventory);
    serde_json::to_string_pretty(&schema).expect("schemas serialize") + "\n"
}

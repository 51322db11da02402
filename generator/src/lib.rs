//! hearth: one inventory of a homelab, turned into typed Nix attrsets for
//! hearth's NixOS modules and age-encrypted secrets.
//!
//! The library owns the inventory model, validation, allocation, policy
//! resolution, rendering and secrets; `main.rs` only parses arguments.

pub mod bastion;
pub mod edit;
pub mod fsutil;
pub mod inventory;
pub mod keys;
pub mod lab;
pub mod nix;
pub mod policy;
pub mod render;
pub mod secrets;
pub mod topology;
pub mod validate;

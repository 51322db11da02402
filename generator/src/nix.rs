//! nix (work in progress)

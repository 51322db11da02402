//! secrets (work in progress)

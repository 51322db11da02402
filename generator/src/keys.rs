//! keys (work in progress)

//! lab (work in progress)

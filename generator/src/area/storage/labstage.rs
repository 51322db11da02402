//! The storage lab stage's checks (see [`super::lab`]).

use anyhow::Result;

use crate::area::LabCx;
use crate::lab::bastion::Check;

pub fn run(_cx: &LabCx) -> Result<Vec<Check>> {
    Ok(vec![])
}

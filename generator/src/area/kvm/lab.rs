//! The kvm area's lab stage.
use super::{CmdError, LabCx};
pub fn stage(_cx: &LabCx) -> Result<Vec<crate::lab::bastion::Check>, CmdError> {
    Ok(vec![])
}

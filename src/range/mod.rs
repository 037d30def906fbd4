//! TEMPORARY stub until the range branch lands.
use crate::model::PortRange;
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error("{0}")]
    Bad(String),
}
pub fn resolve(range: Option<&str>, _reserved: Option<&str>) -> Result<PortRange, RangeError> {
    let _ = range;
    Ok(PortRange::linux_default())
}

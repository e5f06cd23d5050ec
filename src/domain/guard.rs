//! The mass-deprovisioning guard's limits, which every identity source configures.

/// When a plan is held back. Defaults: more than 10 people **and** more than 5% of the
/// source's active staff.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardLimits {
    pub max_leavers: usize,
    pub max_share: f64,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_leavers: 10,
            max_share: 0.05,
        }
    }
}

//! The mass-deprovisioning guard: a broken directory must not offboard everyone.
//! Pure: it looks at a plan and a little history, and says whether to apply it.

use serde::{Deserialize, Serialize};

use super::reconcile::Plan;

pub use crate::domain::guard::GuardLimits;

/// What the guard decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "lowercase")]
pub enum Verdict {
    Apply,
    Hold(String),
}

/// What the guard knows besides the plan.
pub struct Context {
    /// A full answer (everyone in scope) rather than a set of changes.
    pub full: bool,
    /// Leavers this source already had applied within the guard's window (persist mode
    /// streams deletions one at a time; a broken directory must not slip through that way).
    pub recent_leavers: usize,
}

pub fn judge(plan: &Plan, limits: GuardLimits, cx: &Context) -> Verdict {
    if plan.leavers.is_empty() {
        return Verdict::Apply;
    }
    if cx.full && plan.entries == 0 {
        return Verdict::Hold(format!(
            "the directory returned no entries; {} people would be offboarded",
            plan.leavers.len()
        ));
    }
    let leaving = plan.leavers.len() + cx.recent_leavers;
    let share = leaving as f64 / plan.active_before.max(1) as f64;
    if leaving > limits.max_leavers && share > limits.max_share {
        return Verdict::Hold(format!(
            "{leaving} leavers ({:.1}% of {} active) exceeds the limit of {} people and {:.1}%",
            share * 100.0,
            plan.active_before,
            limits.max_leavers,
            limits.max_share * 100.0
        ));
    }
    Verdict::Apply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::reconcile::Leaver;

    fn plan(leavers: usize, active: usize, entries: usize) -> Plan {
        Plan {
            leavers: (0..leavers)
                .map(|i| Leaver {
                    username: format!("u{i}"),
                    rule: "gone".into(),
                })
                .collect(),
            active_before: active,
            entries,
            ..Plan::default()
        }
    }

    const FULL: Context = Context {
        full: true,
        recent_leavers: 0,
    };

    #[test]
    fn a_few_leavers_pass() {
        assert_eq!(
            judge(&plan(3, 50, 47), GuardLimits::default(), &FULL),
            Verdict::Apply
        );
    }

    #[test]
    fn many_leavers_in_a_small_company_pass_when_under_the_share() {
        // 11 people is more than 10, but 11 of 1000 is 1.1%: a normal month.
        assert_eq!(
            judge(&plan(11, 1000, 989), GuardLimits::default(), &FULL),
            Verdict::Apply
        );
    }

    #[test]
    fn many_leavers_over_the_share_are_held() {
        let v = judge(&plan(60, 100, 40), GuardLimits::default(), &FULL);
        assert!(
            matches!(v, Verdict::Hold(ref r) if r.contains("60 leavers")),
            "{v:?}"
        );
    }

    #[test]
    fn an_empty_directory_is_held_even_for_one_leaver() {
        let v = judge(&plan(1, 1, 0), GuardLimits::default(), &FULL);
        assert!(
            matches!(v, Verdict::Hold(ref r) if r.contains("no entries")),
            "{v:?}"
        );
    }

    #[test]
    fn streamed_deletions_add_up_within_the_window() {
        let cx = Context {
            full: false,
            recent_leavers: 10,
        };
        assert!(matches!(
            judge(&plan(1, 100, 1), GuardLimits::default(), &cx),
            Verdict::Hold(_)
        ));
        let quiet = Context {
            full: false,
            recent_leavers: 2,
        };
        assert_eq!(
            judge(&plan(1, 100, 1), GuardLimits::default(), &quiet),
            Verdict::Apply
        );
    }
}

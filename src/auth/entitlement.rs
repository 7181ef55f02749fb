//! The entitlement rule (CONTRACT.md section 2), as one pure function: who may watch what.

use crate::store::{Grant, Plan, Tier, Timestamp, User};

/// Why a viewer may not watch; shown to them, so it says what would change the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this movie needs a premium plan or a grant for it")]
    PremiumRequired,
    #[error("your premium plan has expired")]
    PlanExpired,
    #[error("your grant for this movie has expired")]
    GrantExpired,
}

impl Denied {
    pub fn code(self) -> &'static str {
        match self {
            Denied::PremiumRequired => "premium_required",
            Denied::PlanExpired => "plan_expired",
            Denied::GrantExpired => "grant_expired",
        }
    }
}

fn live(until: Option<Timestamp>, now: Timestamp) -> bool {
    until.is_none_or(|t| now < t)
}

/// Free movies: any signed-in user. Premium movies: an unexpired premium plan, or an unexpired
/// grant for that movie. Admins: everything. A revoked grant is simply absent.
pub fn check_entitlement(
    user: &User,
    plan: &Plan,
    movie_tier: Tier,
    grant: Option<&Grant>,
    now: Timestamp,
) -> Result<(), Denied> {
    if user.admin || movie_tier == Tier::Free {
        return Ok(());
    }
    let plan_ok = plan.tier == Tier::Premium && live(plan.until, now);
    let grant_ok = grant.is_some_and(|g| live(g.until, now));
    if plan_ok || grant_ok {
        return Ok(());
    }
    // Say the most specific reason: an expired grant or plan rather than "needs premium".
    if grant.is_some() {
        Err(Denied::GrantExpired)
    } else if plan.tier == Tier::Premium {
        Err(Denied::PlanExpired)
    } else {
        Err(Denied::PremiumRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Username;

    const NOW: Timestamp = Timestamp(1_000_000);
    const PAST: Timestamp = Timestamp(999_999);
    const FUTURE: Timestamp = Timestamp(1_000_001);

    fn user(admin: bool) -> User {
        User {
            name: Username::parse("v").expect("name"),
            password_hash: String::new(),
            admin,
            created_at: Timestamp(0),
            disabled: false,
        }
    }
    fn plan(tier: Tier, until: Option<Timestamp>) -> Plan {
        Plan {
            tier,
            until,
            screens: None,
        }
    }
    fn grant(until: Option<Timestamp>) -> Grant {
        Grant {
            granted_at: Timestamp(0),
            until,
        }
    }
    fn check(u: &User, p: &Plan, t: Tier, g: Option<&Grant>) -> Result<(), Denied> {
        check_entitlement(u, p, t, g, NOW)
    }

    #[test]
    fn free_movie_is_open_to_every_signed_in_user() {
        assert_eq!(
            check(&user(false), &Plan::default(), Tier::Free, None),
            Ok(())
        );
        let lapsed = plan(Tier::Premium, Some(PAST));
        assert_eq!(check(&user(false), &lapsed, Tier::Free, None), Ok(()));
    }

    #[test]
    fn premium_movie_refused_to_free_user() {
        assert_eq!(
            check(&user(false), &Plan::default(), Tier::Premium, None),
            Err(Denied::PremiumRequired)
        );
    }

    #[test]
    fn premium_plan_opens_premium_movies_until_it_expires() {
        let open = plan(Tier::Premium, None);
        assert_eq!(check(&user(false), &open, Tier::Premium, None), Ok(()));
        let running = plan(Tier::Premium, Some(FUTURE));
        assert_eq!(check(&user(false), &running, Tier::Premium, None), Ok(()));
        let lapsed = plan(Tier::Premium, Some(PAST));
        assert_eq!(
            check(&user(false), &lapsed, Tier::Premium, None),
            Err(Denied::PlanExpired)
        );
        // Expiry is exclusive: at the very second it lapses, access ends.
        let at_now = plan(Tier::Premium, Some(NOW));
        assert_eq!(
            check(&user(false), &at_now, Tier::Premium, None),
            Err(Denied::PlanExpired)
        );
    }

    #[test]
    fn grant_lets_a_free_user_in_until_it_expires() {
        let free = Plan::default();
        assert_eq!(
            check(&user(false), &free, Tier::Premium, Some(&grant(None))),
            Ok(())
        );
        assert_eq!(
            check(
                &user(false),
                &free,
                Tier::Premium,
                Some(&grant(Some(FUTURE)))
            ),
            Ok(())
        );
        assert_eq!(
            check(&user(false), &free, Tier::Premium, Some(&grant(Some(PAST)))),
            Err(Denied::GrantExpired)
        );
    }

    #[test]
    fn an_expired_grant_does_not_hide_a_live_plan() {
        let premium = plan(Tier::Premium, None);
        let old = grant(Some(PAST));
        assert_eq!(
            check(&user(false), &premium, Tier::Premium, Some(&old)),
            Ok(())
        );
    }

    #[test]
    fn revoked_grant_is_no_grant() {
        // Revocation deletes the grant record, so the check sees None.
        assert_eq!(
            check(&user(false), &Plan::default(), Tier::Premium, None),
            Err(Denied::PremiumRequired)
        );
    }

    #[test]
    fn admin_sees_everything() {
        let lapsed = plan(Tier::Premium, Some(PAST));
        assert_eq!(
            check(&user(true), &Plan::default(), Tier::Premium, None),
            Ok(())
        );
        assert_eq!(
            check(
                &user(true),
                &lapsed,
                Tier::Premium,
                Some(&grant(Some(PAST)))
            ),
            Ok(())
        );
    }
}

//! Login rate limiting, per client IP and per user name (governor's GCRA), so neither one
//! address trying many names nor many addresses trying one name gets more than N a minute.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimiter {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_user: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(n);
        LoginLimiter {
            by_ip: RateLimiter::keyed(quota),
            by_user: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; `Err(wait)` says how long until the next would be allowed.
    pub fn check(&self, ip: IpAddr, username: &str) -> Result<(), Duration> {
        let user_key = username.to_ascii_lowercase();
        let ip_result = self.by_ip.check_key(&ip);
        let user_result = self.by_user.check_key(&user_key);
        let now = self.clock.now();
        let waits = [ip_result.err(), user_result.err()]
            .into_iter()
            .flatten()
            .map(|not_until| not_until.wait_time_from(now))
            .max();
        match waits {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    /// Forgets keys that are back to full quota, so the maps do not grow without bound.
    pub fn shrink(&self) {
        self.by_ip.retain_recent();
        self.by_user.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_per_user() {
        let limiter = LoginLimiter::new(3);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        for i in 0..3 {
            assert!(limiter.check(ip, &format!("user{i}")).is_ok());
        }
        let wait = limiter.check(ip, "another").expect_err("ip limited");
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60));

        // One name tried from many addresses is limited too, case-insensitively.
        let limiter = LoginLimiter::new(2);
        for i in 0..2u8 {
            assert!(limiter.check(IpAddr::from([10, 0, 1, i]), "Eve").is_ok());
        }
        assert!(limiter.check(IpAddr::from([10, 0, 2, 9]), "eve").is_err());
        assert!(limiter.check(IpAddr::from([10, 0, 2, 10]), "frank").is_ok());
    }
}

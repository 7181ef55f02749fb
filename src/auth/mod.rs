//! Who someone is and what they may watch: passwords (argon2id), sessions, CSRF tokens, login
//! rate limiting and the entitlement rule of CONTRACT.md section 2.

pub mod csrf;
pub mod entitlement;
pub mod login;
pub mod password;
pub mod ratelimit;
pub mod screens;
pub mod session;
pub mod stream_token;

pub use entitlement::{Denied, check_entitlement};

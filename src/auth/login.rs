//! The password check behind both login forms (HTML and JSON), ending in a new session.

use std::time::Duration;

use super::{password, session};
use crate::store::{Session, Store, StoreError, Timestamp, User, Username};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user and wrong password are one error, by design.
    #[error("wrong user name or password")]
    BadCredentials,
    /// Said only to someone who gave the right password: it tells a stranger nothing.
    #[error("this account is disabled; ask the server's owner to enable it")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Busy(#[from] password::PasswordError),
}

/// Checks the credentials and opens a session; returns the cookie token and the user.
/// Blocking (argon2 takes tens of milliseconds): run it on the blocking pool.
/// Who is signing in, as the account page will show the session.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub device: String,
    pub address: String,
}

pub fn login(
    store: &Store,
    username: &str,
    password: &str,
    session_ttl: Duration,
    client: Client,
) -> Result<(String, User), LoginError> {
    let user = match Username::parse(username) {
        Ok(name) => store.user(&name)?,
        Err(_) => None,
    };
    // Always one full argon2 verification, against a fixed hash when there is no such user.
    if !password::check(password, user.as_ref().map(|u| u.password_hash.as_str()))? {
        return Err(LoginError::BadCredentials);
    }
    let user = user.ok_or(LoginError::BadCredentials)?;
    if user.disabled {
        return Err(LoginError::Disabled);
    }
    let (token, hash) = session::new_token();
    let now = Timestamp::now();
    let session = Session {
        device: client.device,
        address: client.address,
        last_seen: Some(now),
        ..Session::new(user.name.clone(), now, now.plus(session_ttl))
    };
    match store.insert_session(&hash, &session) {
        // Removed or disabled while the password was being checked.
        Err(StoreError::UserNotFound(_)) => return Err(LoginError::BadCredentials),
        other => other?,
    }
    Ok((token, user))
}

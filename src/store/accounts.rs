//! Accounts that end: removing a user (with everything that is theirs) and disabling one
//! (sign-in refused, sessions ended, data kept). Neither may leave the server without an
//! admin who can sign in.

use redb::{ReadableTable, WriteTransaction};

use super::{GRANTS, PLANS, POSITIONS, PREFERENCES, SESSIONS, Store, StoreError, USERS};
use super::{decode, encode};
use crate::store::{Session, User, Username};

/// The user, and whether another admin who can sign in would remain without them.
fn user_and_other_admin(
    txn: &WriteTransaction,
    name: &Username,
) -> Result<(User, bool), StoreError> {
    let users = txn.open_table(USERS)?;
    let mut found = None;
    let mut other_admin = false;
    for row in users.iter()? {
        let (key, bytes) = row?;
        let user: User = decode("users", bytes.value())?;
        if key.value() == name.as_str() {
            found = Some(user);
        } else if user.admin && !user.disabled {
            other_admin = true;
        }
    }
    let user = found.ok_or_else(|| StoreError::UserNotFound(name.clone()))?;
    Ok((user, other_admin))
}

fn end_sessions(txn: &WriteTransaction, name: &Username) -> Result<(), StoreError> {
    txn.open_table(SESSIONS)?
        .retain(|_, bytes| decode::<Session>("sessions", bytes).is_ok_and(|s| &s.user != name))?;
    Ok(())
}

impl Store {
    /// Removes a user: their account, plan, sessions (at once), grants, resume positions and
    /// track preferences. The last admin who can sign in is refused.
    pub fn remove_user(&self, name: &Username) -> Result<User, StoreError> {
        let txn = self.begin_write()?;
        let (user, other_admin) = user_and_other_admin(&txn, name)?;
        if user.admin && !user.disabled && !other_admin {
            return Err(StoreError::LastAdmin(name.clone()));
        }
        txn.open_table(USERS)?.remove(name.as_str())?;
        txn.open_table(PLANS)?.remove(name.as_str())?;
        txn.open_table(PREFERENCES)?.remove(name.as_str())?;
        end_sessions(&txn, name)?;
        txn.open_table(GRANTS)?
            .retain(|(owner, _), _| owner != name.as_str())?;
        txn.open_table(POSITIONS)?
            .retain(|(owner, _), _| owner != name.as_str())?;
        txn.open_table(super::playbacks::PLAYBACKS)?
            .retain(|_, bytes| {
                super::decode::<super::playbacks::Playback>("playbacks", bytes)
                    .is_ok_and(|p| &p.user != name)
            })?;
        txn.commit()?;
        Ok(user)
    }

    /// Disables (sign-in refused, sessions ended at once) or enables a user; everything of
    /// theirs is kept. Disabling the last admin who can sign in is refused.
    pub fn set_disabled(&self, name: &Username, disabled: bool) -> Result<User, StoreError> {
        let txn = self.begin_write()?;
        let (mut user, other_admin) = user_and_other_admin(&txn, name)?;
        if disabled && user.admin && !other_admin {
            return Err(StoreError::LastAdmin(name.clone()));
        }
        user.disabled = disabled;
        txn.open_table(USERS)?
            .insert(name.as_str(), encode(&user).as_slice())?;
        if disabled {
            end_sessions(&txn, name)?;
        }
        txn.commit()?;
        Ok(user)
    }
}

//! What a viewer sees in the catalog: the movies they may know about, each with the
//! entitlement answer for them.

use crate::auth::{Denied, check_entitlement};
use crate::store::{Movie, MovieStatus, Plan, Store, StoreError, Timestamp, User};

pub struct CatalogEntry {
    pub movie: Movie,
    pub access: Result<(), Denied>,
}

/// Viewers see every movie that is ready or on its way; failed ingests only concern admins.
pub fn for_viewer(
    store: &Store,
    user: &User,
    plan: &Plan,
    now: Timestamp,
) -> Result<Vec<CatalogEntry>, StoreError> {
    let grants = store.grants_of(&user.name)?;
    Ok(store
        .list_movies()?
        .into_iter()
        .filter(|m| user.admin || m.status != MovieStatus::Failed)
        .map(|movie| {
            let grant = grants
                .iter()
                .find(|(id, _)| *id == movie.id)
                .map(|(_, g)| g);
            let access = check_entitlement(user, plan, movie.tier, grant, now);
            CatalogEntry { movie, access }
        })
        .collect())
}

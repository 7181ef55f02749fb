//! Series (contract section 13): shows whose episodes are movies. A series is found by id or by
//! its title's folded form, so "The Office", "the.office" and "THE OFFICE" are one show. Its
//! title and tier are copied onto its episodes in the same transaction as any change, so every
//! entitlement check and listing keeps reading the movie alone.

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::{GRANTS, MOVIES, Store, StoreError, decode, encode};
use crate::store::{
    Episode, EpisodeClaim, Grant, Movie, MovieEdit, MovieId, MovieStatus, Series, SeriesEdit,
    SeriesId, Tier, Timestamp, Username,
};

/// series id -> series.
pub(super) const SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("series");

/// A grant for a whole series lives in the grants table under this prefix and the series id:
/// never a movie id (`:` is not in one), and it leaves with its user like every grant.
const SERIES_GRANT: &str = "series:";

fn series_grant_key(id: &SeriesId) -> String {
    format!("{SERIES_GRANT}{id}")
}

/// The form titles are matched in.
pub fn series_key(title: &str) -> String {
    crate::catalog::fold(title)
}

fn read_series(txn: &WriteTransaction, id: &str) -> Result<Option<Series>, StoreError> {
    let table = txn.open_table(SERIES)?;
    let found = table.get(id)?;
    found.map(|v| decode("series", v.value())).transpose()
}

fn write_series(txn: &WriteTransaction, series: &Series) -> Result<(), StoreError> {
    txn.open_table(SERIES)?
        .insert(series.id.as_str(), encode(series).as_slice())?;
    Ok(())
}

fn movies_in(txn: &WriteTransaction) -> Result<Vec<Movie>, StoreError> {
    let table = txn.open_table(MOVIES)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, bytes) = row?;
        out.push(decode("movies", bytes.value())?);
    }
    Ok(out)
}

/// The series `named` names (an id, else a title matched by its folded form), or a new one of
/// that title whose tier is `tier` (a show starts with its first episode's tier).
fn find_or_start(
    txn: &WriteTransaction,
    named: &str,
    year: Option<u16>,
    tier: Tier,
) -> Result<Series, StoreError> {
    let named = named.trim();
    if let Some(found) = read_series(txn, named)? {
        return Ok(found);
    }
    let key = series_key(named);
    for row in txn.open_table(SERIES)?.iter()? {
        let (_, bytes) = row?;
        let series: Series = decode("series", bytes.value())?;
        if series_key(&series.title) == key {
            return Ok(series);
        }
    }
    let series = Series {
        id: SeriesId::generate(),
        title: named.to_string(),
        year,
        description: None,
        tier,
        poster: None,
        created_at: Timestamp::now(),
    };
    write_series(txn, &series)?;
    Ok(series)
}

/// Makes `movie` that episode of `series`: the series' title and tier, and flagged if another
/// movie already holds the same season and episode.
fn place(
    txn: &WriteTransaction,
    movie: &mut Movie,
    series: &Series,
    season: u32,
    episode: u32,
    last_episode: Option<u32>,
) -> Result<(), StoreError> {
    let clash = movies_in(txn)?.into_iter().find(|m| {
        m.id != movie.id
            && m.status != MovieStatus::Failed
            && m.episode.as_ref().is_some_and(|e| {
                e.series == series.id && e.season == season && e.episode == episode
            })
    });
    movie.tier = series.tier;
    movie.episode = Some(Episode {
        series: series.id.clone(),
        series_title: series.title.clone(),
        season,
        episode,
        last_episode: last_episode.filter(|last| *last > episode),
        also_claimed_by: clash.map(|m| m.id),
    });
    Ok(())
}

/// Joins `movie` to the series a claim names (starting it if need be), inside `txn`.
pub(super) fn join(
    txn: &WriteTransaction,
    movie: &mut Movie,
    claim: &EpisodeClaim,
) -> Result<(), StoreError> {
    let series = find_or_start(txn, &claim.series, claim.year, movie.tier)?;
    place(
        txn,
        movie,
        &series,
        claim.season,
        claim.episode,
        claim.last_episode,
    )
}

/// The series part of a movie edit, inside `txn` (the rest is [`MovieEdit::apply`]).
pub(super) fn edit_episode(
    txn: &WriteTransaction,
    movie: &mut Movie,
    edit: &MovieEdit,
) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::BadEdit(why.to_string()));
    const SERIES_TIER: &str =
        "an episode has its series' tier: change it with `streamd series edit SERIES_ID --tier`";
    if edit.series.is_none()
        && movie.episode.is_some()
        && edit.tier.is_some_and(|t| t != movie.tier)
    {
        return bad(SERIES_TIER);
    }
    match &edit.series {
        Some(None) => {
            movie.episode = None;
            Ok(())
        }
        Some(Some(named)) => {
            let current = movie.episode.as_ref();
            let season = edit.season.or(current.map(|e| e.season)).unwrap_or(1);
            let Some(episode) = edit.episode.or(current.map(|e| e.episode)) else {
                return bad("give the episode number too (--episode N)");
            };
            let series = find_or_start(txn, named, None, edit.tier.unwrap_or(movie.tier))?;
            if edit.tier.is_some_and(|t| t != series.tier) {
                return bad(SERIES_TIER);
            }
            let last = current
                .and_then(|e| e.last_episode)
                .filter(|_| edit.episode.is_none());
            place(txn, movie, &series, season, episode, last)
        }
        None if edit.season.is_some() || edit.episode.is_some() => {
            let Some(current) = movie.episode.clone() else {
                return bad("it is not an episode yet: give the series too (--series ID|TITLE)");
            };
            let Some(series) = read_series(txn, current.series.as_str())? else {
                return bad("its series is gone: give the series again (--series ID|TITLE)");
            };
            let season = edit.season.unwrap_or(current.season);
            let episode = edit.episode.unwrap_or(current.episode);
            let last = current.last_episode.filter(|_| edit.episode.is_none());
            place(txn, movie, &series, season, episode, last)
        }
        None => Ok(()),
    }
}

/// The grant that lets a viewer watch: the longer-lived of two.
fn longer(a: Option<Grant>, b: Option<Grant>) -> Option<Grant> {
    match (a, b) {
        (Some(a), Some(b)) => match (a.until, b.until) {
            (None, _) => Some(a),
            (_, None) => Some(b),
            (Some(x), Some(y)) => Some(if x >= y { a } else { b }),
        },
        (a, b) => a.or(b),
    }
}

impl Store {
    /// Every series, in no particular order.
    pub fn list_series(&self) -> Result<Vec<Series>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(SERIES)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, bytes) = row?;
            out.push(decode("series", bytes.value())?);
        }
        Ok(out)
    }

    /// Records series as they are (a seeded library; `edit_series` is the way to change one).
    pub fn put_series(&self, all: &[Series]) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        for series in all {
            write_series(&txn, series)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn series(&self, id: &SeriesId) -> Result<Option<Series>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(SERIES)?;
        let found = table.get(id.as_str())?;
        found.map(|v| decode("series", v.value())).transpose()
    }

    /// Changes a series; a new title or tier reaches every episode in the same transaction.
    pub fn edit_series(&self, id: &SeriesId, edit: &SeriesEdit) -> Result<Series, StoreError> {
        let txn = self.begin_write()?;
        let Some(mut series) = read_series(&txn, id.as_str())? else {
            return Err(StoreError::SeriesNotFound(id.clone()));
        };
        edit.apply(&mut series);
        write_series(&txn, &series)?;
        let mut changed = false;
        for mut movie in movies_in(&txn)? {
            let Some(episode) = movie.episode.as_mut() else {
                continue;
            };
            if episode.series != series.id
                || (episode.series_title == series.title && movie.tier == series.tier)
            {
                continue;
            }
            episode.series_title = series.title.clone();
            movie.tier = series.tier;
            super::movies::write_movie(&txn, &movie)?;
            changed = true;
        }
        self.commit_movies(txn, changed)?;
        Ok(series)
    }

    /// Records a series' poster object; returns the series and the object it replaces.
    pub fn set_series_poster(
        &self,
        id: &SeriesId,
        object: &str,
    ) -> Result<(Series, Option<String>), StoreError> {
        let txn = self.begin_write()?;
        let Some(mut series) = read_series(&txn, id.as_str())? else {
            return Err(StoreError::SeriesNotFound(id.clone()));
        };
        let old = series.poster.replace(object.to_string());
        write_series(&txn, &series)?;
        txn.commit()?;
        Ok((series, old))
    }

    pub fn put_series_grant(
        &self,
        user: &Username,
        series: &SeriesId,
        grant: &Grant,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            if txn.open_table(super::USERS)?.get(user.as_str())?.is_none() {
                return Err(StoreError::UserNotFound(user.clone()));
            }
            if read_series(&txn, series.as_str())?.is_none() {
                return Err(StoreError::SeriesNotFound(series.clone()));
            }
            let key = series_grant_key(series);
            txn.open_table(GRANTS)?
                .insert((user.as_str(), key.as_str()), encode(grant).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes a series grant; `false` when there was none.
    pub fn remove_series_grant(
        &self,
        user: &Username,
        series: &SeriesId,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let key = series_grant_key(series);
        let removed = txn
            .open_table(GRANTS)?
            .remove((user.as_str(), key.as_str()))?
            .is_some();
        txn.commit()?;
        Ok(removed)
    }

    /// Every series grant a user holds.
    pub fn series_grants_of(&self, user: &Username) -> Result<Vec<(SeriesId, Grant)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let mut out = Vec::new();
        let start = (user.as_str(), SERIES_GRANT);
        for row in grants.range(start..)? {
            let (key, bytes) = row?;
            let (owner, target) = key.value();
            let Some(id) = target.strip_prefix(SERIES_GRANT) else {
                break;
            };
            if owner != user.as_str() {
                break;
            }
            if let Ok(id) = SeriesId::parse(id) {
                out.push((id, decode("grants", bytes.value())?));
            }
        }
        Ok(out)
    }

    /// The grant that lets `user` watch `movie`: one for the movie, or one for its series
    /// (episodes added after the grant included), whichever lasts longer.
    pub fn grant_for(&self, user: &Username, movie: &Movie) -> Result<Option<Grant>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let read = |target: &str| -> Result<Option<Grant>, StoreError> {
            grants
                .get((user.as_str(), target))?
                .map(|v| decode("grants", v.value()))
                .transpose()
        };
        let own = read(movie.id.as_str())?;
        let of_series = match &movie.episode {
            Some(e) => read(&series_grant_key(&e.series))?,
            None => None,
        };
        Ok(longer(own, of_series))
    }
}

/// The movie id in a grant row, if it is a movie's (not a series').
pub fn grant_movie(target: &str) -> Option<MovieId> {
    if target.starts_with(SERIES_GRANT) {
        return None;
    }
    MovieId::parse(target).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Job, JobState, Plan, User};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        (dir, store)
    }

    fn queue(store: &Store, title: &str, tier: Tier, claim: Option<EpisodeClaim>) -> Movie {
        let movie = Movie::new(MovieId::generate(), title.into(), tier, Timestamp::now());
        let job = Job {
            movie: movie.id.clone(),
            source: "/nowhere".into(),
            remove_source: false,
            state: JobState::Queued,
            attempts: 0,
            queued_at: Timestamp::now(),
            started_at: None,
            finished_at: None,
            sidecars: vec![],
        };
        store
            .enqueue(&movie, &job, claim.as_ref())
            .expect("enqueue")
    }

    fn claim(series: &str, season: u32, episode: u32) -> Option<EpisodeClaim> {
        Some(EpisodeClaim {
            series: series.into(),
            season,
            episode,
            ..EpisodeClaim::default()
        })
    }

    #[test]
    fn episodes_group_by_folded_title_take_the_series_tier_and_flag_a_second_claim() {
        let (_dir, store) = store();
        let pilot = queue(&store, "Pilot", Tier::Premium, claim("The Office", 1, 1));
        let second = queue(
            &store,
            "Diversity Day",
            Tier::Free,
            claim("the.office!", 1, 2),
        );
        let copy = queue(
            &store,
            "Pilot (copy)",
            Tier::Free,
            claim("THE OFFICE", 1, 1),
        );
        let film = queue(&store, "Inception", Tier::Free, None);
        let all = store.list_series().expect("series");
        assert_eq!(all.len(), 1, "{all:?}");
        let series = &all[0];
        assert_eq!(series.title, "The Office");
        assert_eq!(series.tier, Tier::Premium);
        for m in [&pilot, &second, &copy] {
            let e = m.episode.as_ref().expect("episode");
            assert_eq!(e.series, series.id);
            assert_eq!(m.tier, Tier::Premium, "the series' tier");
        }
        assert_eq!(
            copy.episode
                .as_ref()
                .and_then(|e| e.also_claimed_by.clone()),
            Some(pilot.id.clone())
        );
        assert_eq!(second.episode.as_ref().expect("e").also_claimed_by, None);
        assert!(film.episode.is_none());

        // A new tier and title reach every episode.
        let edited = store
            .edit_series(
                &series.id,
                &SeriesEdit {
                    title: Some("The Office (US)".into()),
                    tier: Some(Tier::Free),
                    ..SeriesEdit::default()
                },
            )
            .expect("edit");
        assert_eq!(edited.tier, Tier::Free);
        let again = store.movie(&second.id).expect("read").expect("movie");
        assert_eq!(again.tier, Tier::Free);
        assert_eq!(
            again.episode.expect("episode").series_title,
            "The Office (US)"
        );
    }

    #[test]
    fn a_series_grant_covers_episodes_added_later_and_goes_with_its_user() {
        let (_dir, store) = store();
        let ann = Username::parse("ann").expect("name");
        store
            .create_user(
                &User {
                    name: ann.clone(),
                    password_hash: String::new(),
                    admin: false,
                    created_at: Timestamp(0),
                    disabled: false,
                },
                &Plan {
                    tier: Tier::Free,
                    until: None,
                    screens: None,
                },
            )
            .expect("user");
        let first = queue(&store, "One", Tier::Premium, claim("Dark", 1, 1));
        let series = first.episode.clone().expect("episode").series;
        let grant = Grant {
            granted_at: Timestamp::now(),
            until: None,
        };
        store
            .put_series_grant(&ann, &series, &grant)
            .expect("grant");
        let later = queue(&store, "Two", Tier::Premium, claim(series.as_str(), 1, 2));
        assert_eq!(later.episode.as_ref().expect("e").series, series);
        assert_eq!(store.grant_for(&ann, &later).expect("grant"), Some(grant));
        assert_eq!(store.series_grants_of(&ann).expect("list").len(), 1);
        assert!(store.grants_of(&ann).expect("movie grants").is_empty());
        assert!(store.remove_series_grant(&ann, &series).expect("revoke"));
        assert_eq!(store.grant_for(&ann, &later).expect("grant"), None);
    }

    #[test]
    fn movie_edit_moves_an_episode_and_refuses_what_cannot_be() {
        let (_dir, store) = store();
        let film = queue(&store, "Rose", Tier::Free, None);
        let needs_episode = MovieEdit {
            series: Some(Some("Doctor Who".into())),
            ..MovieEdit::default()
        };
        assert!(matches!(
            store.edit_movie(&film.id, &needs_episode),
            Err(StoreError::BadEdit(_))
        ));
        let only_season = MovieEdit {
            season: Some(2),
            ..MovieEdit::default()
        };
        assert!(matches!(
            store.edit_movie(&film.id, &only_season),
            Err(StoreError::BadEdit(_))
        ));
        let join = MovieEdit {
            series: Some(Some("Doctor Who".into())),
            season: Some(1),
            episode: Some(1),
            ..MovieEdit::default()
        };
        let rose = store
            .edit_movie(&film.id, &join)
            .expect("edit")
            .expect("movie");
        assert_eq!(rose.episode.as_ref().expect("e").label(), "S01E01");
        let moved = store
            .edit_movie(&film.id, &only_season)
            .expect("edit")
            .expect("movie");
        assert_eq!(moved.episode.as_ref().expect("e").label(), "S02E01");
        let tier = MovieEdit {
            tier: Some(Tier::Premium),
            ..MovieEdit::default()
        };
        assert!(matches!(
            store.edit_movie(&film.id, &tier),
            Err(StoreError::BadEdit(_))
        ));
        let leave = MovieEdit {
            series: Some(None),
            ..MovieEdit::default()
        };
        let film_again = store
            .edit_movie(&film.id, &leave)
            .expect("edit")
            .expect("movie");
        assert!(film_again.episode.is_none());
    }
}

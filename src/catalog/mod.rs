//! What a viewer sees in the catalog: the movies they may know about, each with the
//! entitlement answer for them.

pub mod series;

use std::borrow::Borrow;
use std::sync::{Arc, Mutex, Weak};

use crate::auth::{Denied, check_entitlement};
use crate::store::{Movie, MovieStatus, Plan, Store, StoreError, Timestamp, User};

pub struct CatalogEntry {
    /// Shared with the store's snapshot: a catalog of thousands is not copied per view.
    pub movie: Arc<Movie>,
    pub access: Result<(), Denied>,
    /// How it is searched and sorted.
    pub folded: Arc<Folded>,
}

/// A movie's title in the form it is searched and sorted in. An episode is found by its show's
/// title or its own, and sorts under its show's, in episode order.
pub struct Folded {
    /// What the search words are looked for in.
    text: String,
    /// What the title order sorts by.
    key: String,
}

impl Folded {
    pub fn of(m: &Movie) -> Folded {
        let title = fold(&m.title);
        match &m.episode {
            Some(ep) => {
                let show = fold(&ep.series_title);
                Folded {
                    text: format!("{show} {title}"),
                    key: format!("{show} {:05}{:05}", ep.season, ep.episode),
                }
            }
            None => Folded {
                text: title.clone(),
                key: title,
            },
        }
    }
}

/// The folded titles of the store's shared movie list, made once per change of the list (15,000
/// titles take tens of milliseconds to fold: every catalog view paid it).
fn folded_list(list: &Arc<Vec<Arc<Movie>>>) -> Arc<Vec<Arc<Folded>>> {
    type Cached = Option<(Weak<Vec<Arc<Movie>>>, Arc<Vec<Arc<Folded>>>)>;
    static CACHE: Mutex<Cached> = Mutex::new(None);
    // A Weak keeps the list's allocation, so an equal pointer is this very list.
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((seen, folded)) = cache.as_ref()
        && Weak::ptr_eq(seen, &Arc::downgrade(list))
    {
        return folded.clone();
    }
    let folded: Arc<Vec<Arc<Folded>>> =
        Arc::new(list.iter().map(|m| Arc::new(Folded::of(m))).collect());
    *cache = Some((Arc::downgrade(list), folded.clone()));
    folded
}

/// Viewers see every movie that is ready or on its way; failed ingests only concern admins.
pub fn for_viewer(
    store: &Store,
    user: &User,
    plan: &Plan,
    now: Timestamp,
) -> Result<Vec<CatalogEntry>, StoreError> {
    let grants = store.grants_of(&user.name)?;
    let series_grants = store.series_grants_of(&user.name)?;
    let list = store.movies_shared()?;
    let folded = folded_list(&list);
    Ok(list
        .iter()
        .zip(folded.iter())
        .filter(|(m, _)| user.admin || m.status != MovieStatus::Failed)
        .map(|(movie, folded)| {
            let (movie, folded) = (movie.clone(), folded.clone());
            let own = grants.iter().find(|(id, _)| *id == movie.id);
            let of_series = movie
                .episode
                .as_ref()
                .and_then(|e| series_grants.iter().find(|(id, _)| *id == e.series));
            // Either grant lets them watch; a live one wins over an expired one.
            let live = |g: &&crate::store::Grant| g.until.is_none_or(|t| now < t);
            let own = own.map(|(_, g)| g);
            let of_series = of_series.map(|(_, g)| g);
            let grant = own
                .filter(live)
                .or(of_series.filter(live))
                .or(own)
                .or(of_series);
            let access = check_entitlement(user, plan, movie.tier, grant, now);
            CatalogEntry {
                movie,
                access,
                folded,
            }
        })
        .collect())
}

/// How the catalog is ordered (`?sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// A to Z, ignoring case and accents.
    #[default]
    Title,
    /// Newest first.
    Added,
    /// Newest release first; films without a year last.
    Year,
}

impl std::str::FromStr for Sort {
    type Err = String;

    fn from_str(s: &str) -> Result<Sort, String> {
        match s {
            "title" => Ok(Sort::Title),
            "added" => Ok(Sort::Added),
            "year" => Ok(Sort::Year),
            other => Err(format!("sort must be title, added or year, not {other:?}")),
        }
    }
}

/// The form titles are searched and sorted in: ASCII, lower case, words separated by single
/// spaces ("Amélie", "AMELIE!" and "amelie" are all "amelie"; "Léon: The Professional" is
/// "leon the professional").
pub fn fold(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_lowercase();
    ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Keeps the entries whose title holds every word of `query` (folded, anywhere in the title)
/// and orders them.
pub fn search_and_sort<E: Borrow<CatalogEntry>>(
    entries: &mut Vec<E>,
    query: Option<&str>,
    sort: Sort,
) {
    let words: Vec<String> = query
        .map(fold)
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    entries.retain(|e| {
        let text = &e.borrow().folded.text;
        words.iter().all(|w| text.contains(w.as_str()))
    });
    entries.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        let by_title = (a.folded.key.cmp(&b.folded.key))
            .then_with(|| a.movie.id.as_str().cmp(b.movie.id.as_str()));
        let (a, b) = (&a.movie, &b.movie);
        match sort {
            Sort::Title => by_title,
            Sort::Added => b.created_at.cmp(&a.created_at).then(by_title),
            Sort::Year => match (a.year, b.year) {
                (Some(x), Some(y)) => y.cmp(&x).then(by_title),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => by_title,
            },
        }
    });
}

/// A film the viewer has started and not finished: past the first minute (or 5%) and before
/// the last 5%. What "Continue watching" shows.
pub fn in_progress(position_s: f64, duration_s: Option<f64>) -> bool {
    let Some(duration) = duration_s.filter(|d| *d > 0.0) else {
        return false;
    };
    position_s >= (duration * 0.05).min(60.0) && position_s < duration * 0.95
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MovieId, Tier};

    fn entry(id: &str, title: &str, year: Option<u16>, added: i64) -> CatalogEntry {
        let movie = Movie {
            year,
            ..Movie::new(
                MovieId::parse(id).expect("id"),
                title.into(),
                Tier::Free,
                Timestamp(added),
            )
        };
        CatalogEntry {
            folded: Arc::new(Folded::of(&movie)),
            movie: Arc::new(movie),
            access: Ok(()),
        }
    }

    fn titles(entries: &[CatalogEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.movie.title.as_str()).collect()
    }

    #[test]
    fn search_ignores_case_accents_and_punctuation_and_sorts_three_ways() {
        let all = || {
            vec![
                entry("m1", "Amélie", Some(2001), 30),
                entry("m2", "Léon: The Professional", Some(1994), 10),
                entry("m3", "The Matrix", Some(1999), 20),
                entry("m4", "home video", None, 40),
            ]
        };
        let mut e = all();
        search_and_sort(&mut e, Some("amelie"), Sort::Title);
        assert_eq!(titles(&e), ["Amélie"]);
        let mut e = all();
        search_and_sort(&mut e, Some("LEON professional"), Sort::Title);
        assert_eq!(titles(&e), ["Léon: The Professional"]);
        let mut e = all();
        search_and_sort(&mut e, Some("the"), Sort::Title);
        assert_eq!(titles(&e), ["Léon: The Professional", "The Matrix"]);
        let mut e = all();
        search_and_sort(&mut e, Some("nothing like it"), Sort::Title);
        assert!(e.is_empty());
        let mut e = all();
        search_and_sort(&mut e, None, Sort::Title);
        assert_eq!(
            titles(&e),
            [
                "Amélie",
                "home video",
                "Léon: The Professional",
                "The Matrix"
            ]
        );
        let mut e = all();
        search_and_sort(&mut e, Some(""), Sort::Added);
        assert_eq!(
            titles(&e),
            [
                "home video",
                "Amélie",
                "The Matrix",
                "Léon: The Professional"
            ]
        );
        let mut e = all();
        search_and_sort(&mut e, None, Sort::Year);
        assert_eq!(
            titles(&e),
            [
                "Amélie",
                "The Matrix",
                "Léon: The Professional",
                "home video"
            ]
        );
        assert!("rating".parse::<Sort>().is_err());
    }

    #[test]
    fn started_and_unfinished_is_in_progress() {
        assert!(!in_progress(30.0, Some(7200.0)));
        assert!(in_progress(61.0, Some(7200.0)));
        assert!(!in_progress(7000.0, Some(7200.0)));
        assert!(in_progress(5.0, Some(60.0)));
        assert!(!in_progress(100.0, None));
    }
}

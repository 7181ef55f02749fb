//! Series as viewers browse them: episodes in order, how far a viewer has got, what comes next.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::{Movie, MovieStatus, SeriesId};

/// An episode is watched once the viewer's position passed 90% of it (contract section 13):
/// end credits are not watched, and a viewer who stopped there is done with it.
pub fn watched(position_s: f64, duration_s: Option<f64>) -> bool {
    duration_s.is_some_and(|d| d > 0.0 && position_s >= d * 0.9)
}

/// The episodes of a series, in the order they play: season, episode, then title.
pub fn episodes_of(id: &SeriesId, movies: &[Arc<Movie>]) -> Vec<Arc<Movie>> {
    let mut episodes: Vec<Arc<Movie>> = movies
        .iter()
        .filter(|m| m.episode.as_ref().is_some_and(|e| &e.series == id))
        .cloned()
        .collect();
    episodes.sort_by(|a, b| play_order(a, b));
    episodes
}

/// Season, episode, then title (two files of one episode stay in a stable order).
pub fn play_order(a: &Movie, b: &Movie) -> std::cmp::Ordering {
    order(a).cmp(&order(b)).then_with(|| a.title.cmp(&b.title))
}

fn order(movie: &Movie) -> (u32, u32) {
    movie.episode.as_ref().map_or((0, 0), |e| e.order())
}

/// How many seasons the episodes span.
pub fn season_count(episodes: &[Arc<Movie>]) -> usize {
    let mut seasons: Vec<u32> = episodes
        .iter()
        .filter_map(|m| m.episode.as_ref().map(|e| e.season))
        .collect();
    seasons.dedup();
    seasons.len()
}

/// The episode that plays after `current`, skipping a second file of the same episode and
/// episodes that cannot play (failed).
pub fn next_after(episodes: &[Arc<Movie>], current: &Movie) -> Option<Arc<Movie>> {
    let here = order(current);
    // A double episode (1-2) goes on to 3.
    let last = current
        .episode
        .as_ref()
        .and_then(|e| e.last_episode)
        .map_or(here, |last| (here.0, last));
    episodes
        .iter()
        .find(|m| order(m) > last && m.status != MovieStatus::Failed)
        .cloned()
}

/// What "Continue watching" offers of a series the viewer is watching: the furthest episode
/// they have a position in, if they have not finished it, else the one after it. `None` when
/// they have not started the series or have seen all of it.
pub fn continue_with(
    episodes: &[Arc<Movie>],
    positions: &HashMap<String, f64>,
) -> Option<Arc<Movie>> {
    let furthest = episodes
        .iter()
        .rev()
        .find(|m| positions.get(m.id.as_str()).is_some_and(|p| *p > 0.0))?;
    let position = positions.get(furthest.id.as_str()).copied().unwrap_or(0.0);
    if watched(position, furthest.duration_s) {
        next_after(episodes, furthest)
    } else {
        Some(furthest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Episode, MovieId, Tier, Timestamp};

    fn episode(series: &SeriesId, season: u32, number: u32, last: Option<u32>) -> Arc<Movie> {
        Arc::new(Movie {
            duration_s: Some(100.0),
            status: MovieStatus::Ready,
            episode: Some(Episode {
                series: series.clone(),
                series_title: "Show".into(),
                season,
                episode: number,
                last_episode: last,
                also_claimed_by: None,
            }),
            ..Movie::new(
                MovieId::generate(),
                format!("S{season}E{number}"),
                Tier::Free,
                Timestamp(0),
            )
        })
    }

    #[test]
    fn order_seasons_next_and_continue() {
        let show = SeriesId::generate();
        let other = SeriesId::generate();
        let movies = vec![
            episode(&show, 2, 1, None),
            episode(&show, 1, 3, None),
            episode(&other, 1, 1, None),
            episode(&show, 1, 1, Some(2)),
            episode(&show, 0, 1, None),
        ];
        let list = episodes_of(&show, &movies);
        let titles: Vec<&str> = list.iter().map(|m| m.title.as_str()).collect();
        assert_eq!(titles, ["S0E1", "S1E1", "S1E3", "S2E1"]);
        assert_eq!(season_count(&list), 3);
        // The double episode 1-2 is followed by 3; the last has no next.
        assert_eq!(
            next_after(&list, &list[1]).map(|m| m.id.clone()),
            Some(list[2].id.clone())
        );
        assert!(next_after(&list, &list[3]).is_none());

        let mut positions = HashMap::new();
        assert!(continue_with(&list, &positions).is_none(), "not started");
        positions.insert(list[1].id.to_string(), 50.0);
        assert_eq!(
            continue_with(&list, &positions).map(|m| m.id.clone()),
            Some(list[1].id.clone())
        );
        positions.insert(list[1].id.to_string(), 91.0);
        assert!(watched(91.0, Some(100.0)) && !watched(89.0, Some(100.0)));
        assert_eq!(
            continue_with(&list, &positions).map(|m| m.id.clone()),
            Some(list[2].id.clone())
        );
        positions.insert(list[3].id.to_string(), 95.0);
        assert!(continue_with(&list, &positions).is_none(), "all seen");
    }
}

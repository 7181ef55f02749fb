//! Series, season and episode from the paths people keep TV in: scene names
//! (`The.Office.US.S02E01.The.Dundies.720p.WEB-DL.x264.mkv`), Plex and Kodi layouts
//! (`Doctor Who (2005)/Season 01/Doctor Who (2005) - S01E01 - Rose.mkv`,
//! `Friends - 1x02 - The One With the Sonogram at the End.avi`) and season folders holding
//! `01 - Pilot.mkv`. Anything else is a film, whose title `names::parse` reads. No network
//! lookups: what the path says is all there is.
//!
//! Rules a caller relies on:
//! - An episode marker in the file name (`S01E02`, `s1e2`, `S01 E02`, `S01.E02`, `1x02`,
//!   `Season 1 Episode 2`, doubles `S01E01E02`, `S01E01-E02`, `S01E01-02`, `1x02-1x03`,
//!   `1x02x03`) makes an episode wherever the file is.
//! - Only inside a season folder (the file's own folder named `Season 1`, `Season 02`, `S01`,
//!   `Series 1`, `Saison 1`, `Staffel 1`, `Temporada 1`, ... or `Specials`, season 0) do
//!   `E02`, `Ep02`, `Episode 2` and bare 1-3 digit numbers (`02 - Pilot`, `02. Pilot`,
//!   `Show - 12`, `Show Name 02`) count, and then the season is the folder's. A marker with
//!   its own season (`S02E01`) wins over the folder's.
//! - The series is the stem's words before the marker. When the show folder (the folder
//!   above the season folder, or the file's folder when there is none) folds to the same
//!   [`series_key`], the folder's spelling and year are used instead (`The Office (US)` for
//!   `The.Office.US.S02E01`); a stem with no words before the marker takes the folder's.
//! - `1x02` needs a season of 1-2 digits and an episode of 2-3 digits: `1920x1080` and the
//!   film `4x4` are not episodes.

use std::ops::RangeInclusive;
use std::path::{Component, Path};

use super::names::{self, NameInfo};

/// What a path says about an episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeName {
    /// The show's title as people write it ("The Office", "Doctor Who").
    pub series: String,
    /// From "(2019)" in the show folder or after the show name in the file name
    /// ("Doctor.Who.2005.S01E01").
    pub year: Option<u16>,
    /// Season 0 holds the specials.
    pub season: u32,
    pub episode: u32,
    /// The last episode of a double (or longer) one: `S01E01E02` is episodes 1 to 2.
    pub last_episode: Option<u32>,
    /// The episode's title if the name has one ("Pilot"), release junk removed.
    pub title: Option<String>,
}

/// What a path says: an episode, a film, or a problem with a clear reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Episode(EpisodeName),
    /// Not an episode: import it as a film (`names::parse` gives its title).
    Film,
    /// Looks like an episode but cannot be one; imported as a film, and the reason goes into
    /// the import summary.
    FilmBecause(String),
}

/// The most episodes a season has: long anime runs and daily shows go past 100, a bigger
/// number is something else (a catalogue number, a runtime, a typo).
const MAX_EPISODE: u32 = 500;

/// The most seasons a show has: long-running soaps reach the 70s, `S2019` is a year.
const MAX_SEASON: u32 = 100;

/// Words that name a season, in the languages people name folders in.
const SEASON_WORDS: &[&str] = &[
    "season",
    "series",
    "saison",
    "staffel",
    "temporada",
    "stagione",
    "seizoen",
    "sezon",
];

/// What an episode number is written after (`Episode 2`, `Ep02`, `E02`); the longest first,
/// so `episode2` is not read as `e` and `pisode2`.
const EPISODE_WORDS: &[&str] = &["episode", "ep", "e"];

/// Tags TV releases put just before their technical words (`PROPER.720p`, `WEB.h264`,
/// `German.DL.1080p`): release junk only there, so an episode called "Charlotte's Web"
/// keeps its last word unless a technical word follows it.
const TV_TAGS: &[&str] = &[
    "web", "proper", "repack", "rerip", "internal", "amzn", "nf", "dsnp", "hmax", "atvp", "hulu",
    "pcok", "uhd", "sdr", "dv", "multi", "dual", "dl", "subbed", "dubbed", "german", "french",
    "spanish", "italian", "english", "japanese", "ita", "eng", "ger", "fre", "spa", "vf", "vff",
    "vfq",
];

/// What a path says about an episode; `root` is the folder the import started from: only
/// folders strictly below it are read (a path outside `root` is read by its name alone).
pub fn parse(path: &Path, root: &Path) -> Named {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folders = folders_below(path, root);
    let season_folder = folders
        .last()
        .and_then(|name| Some((name.as_str(), season_of_folder(name)?)));
    let Some((words, found)) = find_episode(&stem, season_folder.map(|(_, season)| season)) else {
        return match season_folder {
            Some((name, _)) => Named::FilmBecause(format!(
                "in the season folder \"{name}\" but its name has no episode number"
            )),
            None => Named::Film,
        };
    };
    if let Some(reason) = out_of_range(&found) {
        return Named::FilmBecause(reason);
    }
    let above = if season_folder.is_some() { 2 } else { 1 };
    let show_folder = (folders.len().checked_sub(above))
        .and_then(|i| folders.get(i))
        .map(String::as_str);
    let Some((series, year)) = series(&words.list[..found.start], show_folder) else {
        return Named::FilmBecause(
            "an episode number but no show name in its name or folders".into(),
        );
    };
    let title_end = words.tail.max(found.end);
    Named::Episode(EpisodeName {
        series,
        year,
        season: found.season,
        episode: found.episode,
        last_episode: (found.last != found.episode).then_some(found.last),
        title: episode_title(&words.list[found.end..title_end]),
    })
}

/// The form by which a series title is matched to an existing series: "The Office",
/// "the.office" and "THE OFFICE!" are one show.
pub fn series_key(title: &str) -> String {
    crate::catalog::fold(title)
}

/// One word of a name: as written, and bare (lower case, no punctuation around it) to match.
struct Word {
    raw: String,
    bare: String,
}

impl Word {
    fn of(raw: &str) -> Word {
        Word {
            raw: raw.to_string(),
            bare: raw
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase(),
        }
    }
}

/// A name's words and where its technical tail starts (`1080p.WEB-DL.x264-GROUP`).
struct Words {
    list: Vec<Word>,
    tail: usize,
}

impl Words {
    fn of(text: &str) -> Words {
        let list = words_of(text);
        let tail = tail_start(&list);
        Words { list, tail }
    }
}

/// Where an episode marker sits among a name's words (`start..end`) and what it says.
struct Found {
    start: usize,
    end: usize,
    season: u32,
    episode: u32,
    last: u32,
}

impl Found {
    fn new(start: usize, len: usize, season: u32, (episode, last): (u32, u32)) -> Found {
        Found {
            start,
            end: start + len,
            season,
            episode,
            last,
        }
    }
}

/// The names of the folders between `root` and the file, top first.
fn folders_below(path: &Path, root: &Path) -> Vec<String> {
    let Some(folder) = path.strip_prefix(root).ok().and_then(Path::parent) else {
        return Vec::new();
    };
    folder
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// The season a folder is for, if it is a season folder: `Season 1`, `Season.02`, `S01`,
/// `Series 2`, `Staffel 1`, or `Specials` (season 0). The whole name must say it: a season
/// pack (`Fargo.S02.1080p.BluRay`) names the show and is read as the show folder.
fn season_of_folder(name: &str) -> Option<u32> {
    let lower = name.to_lowercase().replace(['.', '_', '-'], " ");
    let lower = lower.trim();
    if matches!(lower, "specials" | "special") {
        return Some(0);
    }
    (SEASON_WORDS.iter().chain(&["s"]))
        .find_map(|word| plain_number(lower.strip_prefix(word)?.trim_start(), 4))
}

/// Words as names.rs reads them: release names separate words with dots or underscores; a
/// name with spaces keeps its dots (`Dr. Who`).
fn spaced(cleaned: &str) -> String {
    if cleaned.trim().contains(' ') {
        cleaned.replace('_', " ")
    } else {
        cleaned.replace(['.', '_'], " ")
    }
}

fn words_of(text: &str) -> Vec<Word> {
    text.split_whitespace().map(Word::of).collect()
}

/// The ways to read a stem's words: as names.rs does, then, for a name with both spaces and
/// dots, with every dot a space too (`Better Call Saul.S01E01.Uno`).
fn readings(stem: &str) -> Vec<Words> {
    let cleaned = names::without_brackets(stem);
    let mut readings = vec![Words::of(&spaced(&cleaned))];
    if cleaned.trim().contains(' ') && cleaned.contains('.') {
        readings.push(Words::of(&cleaned.replace(['.', '_'], " ")));
    }
    readings
}

/// The stem's words and its episode marker: one that says its season (in any reading)
/// first, then, in a season folder, a bare episode number.
fn find_episode(stem: &str, folder_season: Option<u32>) -> Option<(Words, Found)> {
    let mut readings = readings(stem);
    let marked =
        (readings.iter().enumerate()).find_map(|(i, words)| Some((i, marked(&words.list)?)));
    let (i, found) = marked.or_else(|| {
        let season = folder_season?;
        (readings.iter().enumerate()).find_map(|(i, words)| Some((i, numbered(words, season)?)))
    })?;
    Some((readings.swap_remove(i), found))
}

/// The first marker that says both season and episode.
fn marked(words: &[Word]) -> Option<Found> {
    (0..words.len()).find_map(|i| marked_at(words, i))
}

fn marked_at(words: &[Word], i: usize) -> Option<Found> {
    let word = words.get(i)?.bare.as_str();
    let next = |k: usize| words.get(i + k).map(|w| w.bare.as_str());
    // S01E02, S01E01E02, S01E01-E02, S01E01-02
    if let Some((season, run)) = season_episode(word) {
        return Some(Found::new(i, 1, season, run));
    }
    // 1x02, 1x02-1x03, 1x02x03
    if let Some((season, run)) = kodi(word) {
        return Some(Found::new(i, 1, season, run));
    }
    // S01 E02, S01.E02
    let split = season_alone(word).zip(next(1).and_then(glued_episode));
    if let Some((season, run)) = split {
        return Some(Found::new(i, 2, season, run));
    }
    // Season 1 Episode 2
    let spelled_out =
        SEASON_WORDS.contains(&word) && next(2).is_some_and(|w| matches!(w, "episode" | "ep"));
    if !spelled_out {
        return None;
    }
    let season = next(1).and_then(|w| plain_number(w, 4))?;
    let episode = next(3).and_then(|w| plain_number(w, 4))?;
    Some(Found::new(i, 4, season, (episode, episode)))
}

/// A bare episode number in a season folder, before the technical tail: `E02`, `Ep02`,
/// `Episode 2`; then `02 - Title` or `02. Title`; then `Show - 12` (the number after a lone
/// dash: `2 Broke Girls - 05`); then a leading `02 Title`; then the last number
/// (`Show Name 02`).
fn numbered(words: &Words, season: u32) -> Option<Found> {
    let head = words.list.get(..words.tail)?;
    let at = |i: usize, len: usize, run: (u32, u32)| Some(Found::new(i, len, season, run));
    let number = |i: usize| head.get(i).and_then(|w| plain_number(&w.bare, 3));
    for (i, word) in head.iter().enumerate() {
        if let Some(run) = glued_episode(&word.bare) {
            return at(i, 1, run);
        }
        let after_word = number(i + 1).filter(|_| matches!(word.bare.as_str(), "ep" | "episode"));
        if let Some(n) = after_word {
            return at(i, 2, (n, n));
        }
    }
    let leading = number(0);
    let titled = head.len() == 1
        || head.get(1).is_some_and(|w| is_dash(&w.raw))
        || head.first().is_some_and(|w| w.raw.ends_with('.'));
    if let Some(n) = leading.filter(|_| titled) {
        return at(0, 1, (n, n));
    }
    let after_dash = (1..head.len()).find_map(|i| {
        let n = number(i)?;
        is_dash(&head[i - 1].raw).then_some((i, n))
    });
    if let Some((i, n)) = after_dash {
        return at(i, 1, (n, n));
    }
    if let Some(n) = leading {
        return at(0, 1, (n, n));
    }
    let (i, n) = (1..head.len()).rev().find_map(|i| Some((i, number(i)?)))?;
    at(i, 1, (n, n))
}

/// Why a marker cannot be an episode, if it cannot.
fn out_of_range(found: &Found) -> Option<String> {
    if found.season > MAX_SEASON {
        return Some(format!(
            "season {} is not a season number (0-{MAX_SEASON})",
            found.season
        ));
    }
    let wrong = [found.episode, found.last]
        .into_iter()
        .find(|n| !(1..=MAX_EPISODE).contains(n));
    if let Some(n) = wrong {
        return Some(format!(
            "episode {n} is not an episode number (1-{MAX_EPISODE})"
        ));
    }
    (found.last < found.episode)
        .then(|| format!("episodes {}-{} run backwards", found.episode, found.last))
}

/// The show's title and year: the stem's words before the marker; the show folder's title
/// and year when they name the same show (the owner's spelling: `The Office (US)` for
/// `The.Office.US.S02E01`, and its `(2005)`); the show folder's when the stem has none.
fn series(before: &[Word], show_folder: Option<&str>) -> Option<(String, Option<u16>)> {
    let named = title_of(before);
    let folder = show_folder.and_then(folder_title);
    match (named, folder) {
        (Some(named), Some(folder)) if series_key(&named.title) == series_key(&folder.title) => {
            Some((folder.title, folder.year.or(named.year)))
        }
        (Some(named), _) => Some((named.title, named.year)),
        (None, folder) => folder.map(|f| (f.title, f.year)),
    }
}

/// Title and year of words that name a show (`Doctor Who (2005) -`), if they have a title.
fn title_of(words: &[Word]) -> Option<NameInfo> {
    let text = join(words);
    if !text.chars().any(char::is_alphanumeric) {
        return None;
    }
    let named = names::parse(&text);
    named
        .title
        .chars()
        .any(char::is_alphanumeric)
        .then_some(named)
}

/// The show a folder names, without what a season pack adds (`The.Office.US.S02.720p`).
fn folder_title(name: &str) -> Option<NameInfo> {
    let words = words_of(&spaced(&names::without_brackets(name)));
    let end = (0..words.len())
        .find(|&i| starts_season(&words, i))
        .unwrap_or(words.len());
    title_of(&words[..end])
}

/// Whether a season marker starts at word `i`: `S02`, `S02E01`, `Season 2`.
fn starts_season(words: &[Word], i: usize) -> bool {
    let Some(word) = words.get(i).map(|w| w.bare.as_str()) else {
        return false;
    };
    let numbered_next = || {
        words
            .get(i + 1)
            .is_some_and(|w| plain_number(&w.bare, 4).is_some())
    };
    season_alone(word).is_some()
        || season_episode(word).is_some()
        || (SEASON_WORDS.contains(&word) && numbered_next())
}

/// What follows the marker, without release junk: `The.Dundies.720p.WEB-DL` → "The Dundies".
fn episode_title(words: &[Word]) -> Option<String> {
    let text = join(words);
    let title = text
        .trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':' | ',' | '.')
        })
        .trim_end_matches(|c: char| {
            c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':' | ',' | '(')
        });
    title
        .chars()
        .any(char::is_alphanumeric)
        .then(|| title.to_string())
}

fn join(words: &[Word]) -> String {
    let raw: Vec<&str> = words.iter().map(|w| w.raw.as_str()).collect();
    raw.join(" ")
}

/// Where the technical tail starts: at the first technical word (`1080p`, `x264-GROUP`),
/// or at the TV tags right before it (`PROPER`, `WEB`, `German.DL`).
fn tail_start(words: &[Word]) -> usize {
    let technical = words
        .iter()
        .position(|w| names::is_one_of(&w.raw, names::TECHNICAL));
    let Some(technical) = technical else {
        return words.len();
    };
    let tags = (words[..technical].iter().rev())
        .take_while(|w| TV_TAGS.contains(&w.bare.as_str()))
        .count();
    technical - tags
}

/// A lone dash between words (`Show - 12`).
fn is_dash(raw: &str) -> bool {
    !raw.is_empty() && raw.chars().all(|c| matches!(c, '-' | '–' | '—'))
}

/// `s01e02` and its doubles: the season and the first and last episode.
fn season_episode(word: &str) -> Option<(u32, (u32, u32))> {
    let (season, rest) = leading(word.strip_prefix('s')?, &(1..=4))?;
    let run = episode_run(rest.strip_prefix('e')?, 1..=4, after_e)?;
    Some((season, run))
}

/// `1x02` and its doubles (`1x02-1x03`, `1x02x03`, `1x02-03`).
fn kodi(word: &str) -> Option<(u32, (u32, u32))> {
    let (season, rest) = leading(word, &(1..=2))?;
    let run = episode_run(rest.strip_prefix('x')?, 2..=3, after_x)?;
    Some((season, run))
}

/// `s01` alone: the season of an `S01 E02`.
fn season_alone(word: &str) -> Option<u32> {
    plain_number(word.strip_prefix('s')?, 4)
}

/// `e02`, `ep02`, `episode2` and their doubles (`e01e02`, `e01-e02`, `e01-02`).
fn glued_episode(word: &str) -> Option<(u32, u32)> {
    (EPISODE_WORDS.iter())
        .find_map(|prefix| episode_run(word.strip_prefix(prefix)?, 1..=4, after_e))
}

/// The first and last episode of `02`, `02e03`, `02-03`...: numbers of `digits` digits up to
/// the end of `text`, each after what `separator` strips.
fn episode_run(
    text: &str,
    digits: RangeInclusive<usize>,
    separator: fn(&str) -> Option<&str>,
) -> Option<(u32, u32)> {
    let (first, mut rest) = leading(text, &digits)?;
    let mut last = first;
    while !rest.is_empty() {
        (last, rest) = leading(separator(rest)?, &digits)?;
    }
    Some((first, last))
}

/// What separates doubles in `S01E01E02`, `S01E01-E02`, `S01E01-02`.
fn after_e(rest: &str) -> Option<&str> {
    match rest.strip_prefix('-') {
        Some(after) => Some(after.strip_prefix('e').unwrap_or(after)),
        None => rest.strip_prefix('e'),
    }
}

/// What separates doubles in `1x02-1x03`, `1x02x03`, `1x02-03`.
fn after_x(rest: &str) -> Option<&str> {
    match rest.strip_prefix('-') {
        Some(after) => {
            let season_x = after.trim_start_matches(|c: char| c.is_ascii_digit());
            Some(season_x.strip_prefix('x').unwrap_or(after))
        }
        None => rest.strip_prefix('x'),
    }
}

/// The number `word` is, if it is only ASCII digits, at most `max_digits` of them.
fn plain_number(word: &str, max_digits: usize) -> Option<u32> {
    let (n, rest) = leading(word, &(1..=max_digits))?;
    rest.is_empty().then_some(n)
}

/// The number `text` starts with, if it has a count of digits in `digits`, and what follows.
fn leading<'a>(text: &'a str, digits: &RangeInclusive<usize>) -> Option<(u32, &'a str)> {
    let len = text.bytes().take_while(u8::is_ascii_digit).count();
    if !digits.contains(&len) {
        return None;
    }
    let (number, rest) = text.split_at(len);
    Some((number.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(relative: &str) -> Named {
        let root = Path::new("/media/tv");
        parse(&root.join(relative), root)
    }

    type Case = (
        &'static str,
        &'static str,
        Option<u16>,
        u32,
        u32,
        Option<u32>,
        Option<&'static str>,
    );

    #[test]
    fn real_world_episodes() {
        let table: &[Case] = &[
            (
                "The.Office.US.S02E01.The.Dundies.720p.WEB-DL.x264.mkv",
                "The Office US",
                None,
                2,
                1,
                None,
                Some("The Dundies"),
            ),
            (
                "game.of.thrones.s08e03.1080p.web.h264-memento.mkv",
                "game of thrones",
                None,
                8,
                3,
                None,
                None,
            ),
            (
                "Breaking.Bad.S05E14.Ozymandias.1080p.BluRay.x264-ROVERS.mkv",
                "Breaking Bad",
                None,
                5,
                14,
                None,
                Some("Ozymandias"),
            ),
            (
                "Doctor Who (2005)/Season 01/Doctor Who (2005) - S01E01 - Rose.mkv",
                "Doctor Who",
                Some(2005),
                1,
                1,
                None,
                Some("Rose"),
            ),
            (
                "Friends - 1x02 - The One With the Sonogram at the End.avi",
                "Friends",
                None,
                1,
                2,
                None,
                Some("The One With the Sonogram at the End"),
            ),
            (
                "Lost.S01E01E02.Pilot.mkv",
                "Lost",
                None,
                1,
                1,
                Some(2),
                Some("Pilot"),
            ),
            (
                "Stargate SG-1 - S01E01-E02 - Children of the Gods.mkv",
                "Stargate SG-1",
                None,
                1,
                1,
                Some(2),
                Some("Children of the Gods"),
            ),
            (
                "Star Trek The Next Generation - S01E01-02 - Encounter at Farpoint.mkv",
                "Star Trek The Next Generation",
                None,
                1,
                1,
                Some(2),
                Some("Encounter at Farpoint"),
            ),
            (
                "Frieren/Season 1/[SubsPlease] Frieren - 12 (1080p) [ABCD1234].mkv",
                "Frieren",
                None,
                1,
                12,
                None,
                None,
            ),
            (
                "Doctor Who (2005)/Season 00/Doctor Who (2005) - S00E01 - The Christmas Invasion.mkv",
                "Doctor Who",
                Some(2005),
                0,
                1,
                None,
                Some("The Christmas Invasion"),
            ),
            (
                "Sherlock/Specials/01 - The Abominable Bride.mkv",
                "Sherlock",
                None,
                0,
                1,
                None,
                Some("The Abominable Bride"),
            ),
            (
                "Doctor Who/Series 2/Doctor.Who.2005.S02E04.The.Girl.in.the.Fireplace.mkv",
                "Doctor Who",
                Some(2005),
                2,
                4,
                None,
                Some("The Girl in the Fireplace"),
            ),
            ("Élite.S01E03.mkv", "Élite", None, 1, 3, None, None),
            (
                "Doctor.Who.2005.S01E01.Rose.mkv",
                "Doctor Who",
                Some(2005),
                1,
                1,
                None,
                Some("Rose"),
            ),
            (
                "9-1-1.S01E01.Pilot.720p.HDTV.x264.mkv",
                "9-1-1",
                None,
                1,
                1,
                None,
                Some("Pilot"),
            ),
            (
                "24.S01E01.720p.BluRay.x264.mkv",
                "24",
                None,
                1,
                1,
                None,
                None,
            ),
            (
                "Marvel's.Agents.of.S.H.I.E.L.D.S01E01.Pilot.mkv",
                "Marvel's Agents of S H I E L D",
                None,
                1,
                1,
                None,
                Some("Pilot"),
            ),
            (
                "La.Casa.de.Papel.S01E01.1080p.NF.WEB-DL.mkv",
                "La Casa de Papel",
                None,
                1,
                1,
                None,
                None,
            ),
            (
                "進撃の巨人/Season 1/進撃の巨人 - S01E01 - 二千年後の君へ.mkv",
                "進撃の巨人",
                None,
                1,
                1,
                None,
                Some("二千年後の君へ"),
            ),
            (
                "the.mandalorian.s02e01.web.h264-glhf.mkv",
                "the mandalorian",
                None,
                2,
                1,
                None,
                None,
            ),
            (
                "Seinfeld/Season 5/seinfeld.s05e01.the.mango.dvdrip.xvid.avi",
                "Seinfeld",
                None,
                5,
                1,
                None,
                Some("the mango"),
            ),
            (
                "The Office (US)/Season 2/The.Office.US.S02E01.The.Dundies.mkv",
                "The Office (US)",
                None,
                2,
                1,
                None,
                Some("The Dundies"),
            ),
            (
                "Friends/Season 1/1x01 - The One Where Monica Gets a Roommate.avi",
                "Friends",
                None,
                1,
                1,
                None,
                Some("The One Where Monica Gets a Roommate"),
            ),
            (
                "Breaking Bad/Season 1/S01E01 - Pilot.mkv",
                "Breaking Bad",
                None,
                1,
                1,
                None,
                Some("Pilot"),
            ),
            (
                "Breaking Bad (2008)/Season 2/E03.mkv",
                "Breaking Bad",
                Some(2008),
                2,
                3,
                None,
                None,
            ),
            (
                "The Wire/Season 1/Ep02 - The Detail.mkv",
                "The Wire",
                None,
                1,
                2,
                None,
                Some("The Detail"),
            ),
            (
                "The Wire/Season 1/Episode 3 - The Buys.mkv",
                "The Wire",
                None,
                1,
                3,
                None,
                Some("The Buys"),
            ),
            (
                "Twin Peaks/Season 2/02 - Coma.mkv",
                "Twin Peaks",
                None,
                2,
                2,
                None,
                Some("Coma"),
            ),
            (
                "Twin Peaks/Season 2/03. The Man Behind Glass.mkv",
                "Twin Peaks",
                None,
                2,
                3,
                None,
                Some("The Man Behind Glass"),
            ),
            (
                "Fawlty Towers/Series 1/Fawlty Towers 04.avi",
                "Fawlty Towers",
                None,
                1,
                4,
                None,
                None,
            ),
            (
                "Mad Men/Season 01/Mad.Men.S01E01.Smoke.Gets.in.Your.Eyes.720p.BluRay.mkv",
                "Mad Men",
                None,
                1,
                1,
                None,
                Some("Smoke Gets in Your Eyes"),
            ),
            (
                "Dark/Staffel 1/Dark.S01E01.Geheimnisse.German.DL.1080p.WEB.x264.mkv",
                "Dark",
                None,
                1,
                1,
                None,
                Some("Geheimnisse"),
            ),
            (
                "Le Bureau des Légendes/Saison 1/Le.Bureau.des.Légendes.S01E01.FRENCH.720p.mkv",
                "Le Bureau des Légendes",
                None,
                1,
                1,
                None,
                None,
            ),
            (
                "La Casa de Papel/Temporada 2/La Casa de Papel - 2x03.mkv",
                "La Casa de Papel",
                None,
                2,
                3,
                None,
                None,
            ),
            (
                "Grey's Anatomy - 10x12 - Get Up, Stand Up.mkv",
                "Grey's Anatomy",
                None,
                10,
                12,
                None,
                Some("Get Up, Stand Up"),
            ),
            (
                "Friends - 1x16-1x17 - The One With Two Parts.avi",
                "Friends",
                None,
                1,
                16,
                Some(17),
                Some("The One With Two Parts"),
            ),
            (
                "Friends.2x12x13.The.One.After.the.Superbowl.avi",
                "Friends",
                None,
                2,
                12,
                Some(13),
                Some("The One After the Superbowl"),
            ),
            (
                "The.Simpsons.S10E05.mkv",
                "The Simpsons",
                None,
                10,
                5,
                None,
                None,
            ),
            (
                "THE.EXPANSE.S03E06.1080P.WEB.H264-GRP.mkv",
                "THE EXPANSE",
                None,
                3,
                6,
                None,
                None,
            ),
            (
                "Westworld.S01.E02.Chestnut.mkv",
                "Westworld",
                None,
                1,
                2,
                None,
                Some("Chestnut"),
            ),
            (
                "Fargo S01 E03 A Muddy Road.mkv",
                "Fargo",
                None,
                1,
                3,
                None,
                Some("A Muddy Road"),
            ),
            (
                "the_wire_s01e04_old_cases.avi",
                "the wire",
                None,
                1,
                4,
                None,
                Some("old cases"),
            ),
            (
                "Better Call Saul.S01E01.Uno.mkv",
                "Better Call Saul",
                None,
                1,
                1,
                None,
                Some("Uno"),
            ),
            (
                "House.of.the.Dragon.S01E01.The.Heirs.of.the.Dragon.2160p.HMAX.WEB-DL.DDP5.1.Atmos.DV.HEVC-CMRG.mkv",
                "House of the Dragon",
                None,
                1,
                1,
                None,
                Some("The Heirs of the Dragon"),
            ),
            (
                "Sherlock/Series 2/Sherlock - 2x01 - A Scandal in Belgravia.mkv",
                "Sherlock",
                None,
                2,
                1,
                None,
                Some("A Scandal in Belgravia"),
            ),
            (
                "Chernobyl.S01E05.Vichnaya.Pamyat.1080p.AMZN.WEB-DL.mkv",
                "Chernobyl",
                None,
                1,
                5,
                None,
                Some("Vichnaya Pamyat"),
            ),
            (
                "Stranger Things/Season 4/Stranger.Things.S04E09.Chapter.Nine.The.Piggyback.mkv",
                "Stranger Things",
                None,
                4,
                9,
                None,
                Some("Chapter Nine The Piggyback"),
            ),
            (
                "One Piece/Season 1/One Piece - 005 (1080p).mkv",
                "One Piece",
                None,
                1,
                5,
                None,
                None,
            ),
            (
                "Cowboy Bebop/Season 1/[Group] Cowboy Bebop - 05 [BD 1080p].mkv",
                "Cowboy Bebop",
                None,
                1,
                5,
                None,
                None,
            ),
            (
                "2 Broke Girls/Season 1/2 Broke Girls - 05.mkv",
                "2 Broke Girls",
                None,
                1,
                5,
                None,
                None,
            ),
            (
                "Black Mirror/Season 3/Black Mirror S03E01 Nosedive.mkv",
                "Black Mirror",
                None,
                3,
                1,
                None,
                Some("Nosedive"),
            ),
            ("Fringe.s1e2.mkv", "Fringe", None, 1, 2, None, None),
            (
                "Band of Brothers Season 1 Episode 2 Day of Days.mkv",
                "Band of Brothers",
                None,
                1,
                2,
                None,
                Some("Day of Days"),
            ),
            (
                "Archer (2009)/Season 1/Archer (2009) - S01E01 - Mole Hunt.mkv",
                "Archer",
                Some(2009),
                1,
                1,
                None,
                Some("Mole Hunt"),
            ),
            (
                "Succession/Season 4/Succession.S04E03.720p.HEVC.x265-MeGusta.mkv",
                "Succession",
                None,
                4,
                3,
                None,
                None,
            ),
            (
                "The Crown/Season 1/The.Crown.S01E01.Wolferton.Splash.REPACK.1080p.mkv",
                "The Crown",
                None,
                1,
                1,
                None,
                Some("Wolferton Splash"),
            ),
            // The folder names another show ("The Office" is not "The Office US"): the
            // name's own.
            (
                "The Office (2005)/Season 1/The.Office.US.S01E01.Pilot.mkv",
                "The Office US",
                None,
                1,
                1,
                None,
                Some("Pilot"),
            ),
            (
                "Lost (2004)/Season 1/Lost.S01E01.mkv",
                "Lost",
                Some(2004),
                1,
                1,
                None,
                None,
            ),
            (
                "Rick and Morty/Season 3/rick.and.morty.s03e01.720p.mkv",
                "Rick and Morty",
                None,
                3,
                1,
                None,
                None,
            ),
            (
                "Doctor.Who.2005.S00E01.The.Christmas.Invasion.mkv",
                "Doctor Who",
                Some(2005),
                0,
                1,
                None,
                Some("The Christmas Invasion"),
            ),
            (
                "TV Shows/Breaking Bad/Season 5/05 - Fifty-One.mkv",
                "Breaking Bad",
                None,
                5,
                5,
                None,
                Some("Fifty-One"),
            ),
            (
                "The.Office.US.S02.720p.WEB-DL.x264/The.Office.US.S02E03.Office.Olympics.mkv",
                "The Office US",
                None,
                2,
                3,
                None,
                Some("Office Olympics"),
            ),
            (
                "Fargo.S02.1080p.BluRay/S02E01.Waiting.for.Dutch.mkv",
                "Fargo",
                None,
                2,
                1,
                None,
                Some("Waiting for Dutch"),
            ),
            (
                "Breaking Bad Season 2/Breaking.Bad.S02E01.Seven.Thirty-Seven.mkv",
                "Breaking Bad",
                None,
                2,
                1,
                None,
                Some("Seven Thirty-Seven"),
            ),
            // A marker with its own season wins over the folder's.
            (
                "Lost/Season 1/Lost.S02E01.Man.of.Science.mkv",
                "Lost",
                None,
                2,
                1,
                None,
                Some("Man of Science"),
            ),
        ];
        let mut wrong = Vec::new();
        for &(path, series, year, season, episode, last_episode, title) in table {
            let expected = Named::Episode(EpisodeName {
                series: series.into(),
                year,
                season,
                episode,
                last_episode,
                title: title.map(String::from),
            });
            let got = named(path);
            if got != expected {
                wrong.push(format!("{path}: {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(table.len() >= 45);
    }

    #[test]
    fn films_stay_films() {
        let films = [
            "Inception.2010.1080p.mkv",
            "2001.A.Space.Odyssey.1968.mkv",
            "1917.2019.1080p.mkv",
            "Blade Runner 2049.mkv",
            "Se7en (1995).mkv",
            "Ocean's.Eleven.2001.720p.mkv",
            "Apollo 13 (1995).mkv",
            "Fantastic 4.mkv",
            "Star.Wars.Episode.IV.A.New.Hope.1977.mkv",
            "The.Matrix.1999.1920x1080.mkv",
            "Show Name (2019)/Some.Film.2010.mkv",
            "Doctor Who (2005)/Doctor.Who.The.Day.of.the.Doctor.2013.mkv",
            "4x4 (2019).mkv",
            "S1m0ne (2002).mkv",
            "E.T. the Extra-Terrestrial (1982).mkv",
            "Movies/Avengers.Endgame.2019.2160p.UHD.BluRay.x265.10bit.HDR.TrueHD.7.1.Atmos-GROUP.mkv",
            "Alien.1979.Directors.Cut.1080p.BluRay.DTS-HD.MA.5.1.mkv",
            "Terminator 2 Judgment Day 1991.mkv",
            "2 Fast 2 Furious (2003).mkv",
            // A bare number counts only in a season folder.
            "Frieren/[SubsPlease] Frieren - 12 (1080p).mkv",
            "Breaking Bad/E03.mkv",
        ];
        let wrong: Vec<String> = (films.iter())
            .map(|path| (path, named(path)))
            .filter(|(_, got)| *got != Named::Film)
            .map(|(path, got)| format!("{path}: {got:?}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn episode_like_names_that_cannot_be_episodes_say_why() {
        let table = [
            (
                "Lost.S01E00.mkv",
                "episode 0 is not an episode number (1-500)",
            ),
            (
                "Lost.S01E999.mkv",
                "episode 999 is not an episode number (1-500)",
            ),
            (
                "Lost/Season 1/00 - Recap.mkv",
                "episode 0 is not an episode number (1-500)",
            ),
            (
                "Lost.S01E01-E999.mkv",
                "episode 999 is not an episode number (1-500)",
            ),
            (
                "Lost.S101E01.mkv",
                "season 101 is not a season number (0-100)",
            ),
            (
                "Show.Name.S2019E01.mkv",
                "season 2019 is not a season number (0-100)",
            ),
            ("Lost.S01E05-E03.mkv", "episodes 5-3 run backwards"),
            (
                "Lost/Season 1/Behind the Scenes.mkv",
                "in the season folder \"Season 1\" but its name has no episode number",
            ),
            (
                "Lost/Specials/Inception.2010.1080p.mkv",
                "in the season folder \"Specials\" but its name has no episode number",
            ),
            (
                "S01E02 - Pilot.mkv",
                "an episode number but no show name in its name or folders",
            ),
            (
                "Season 1/E02.mkv",
                "an episode number but no show name in its name or folders",
            ),
        ];
        let wrong: Vec<String> = (table.iter())
            .map(|(path, reason)| (path, named(path), reason))
            .filter(|(_, got, reason)| *got != Named::FilmBecause(reason.to_string()))
            .map(|(path, got, _)| format!("{path}: {got:?}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn folders_at_or_above_the_root_say_nothing() {
        let root = Path::new("/media/tv/Frieren/Season 1");
        assert_eq!(parse(&root.join("01.mkv"), root), Named::Film);
        let Named::Episode(episode) = parse(&root.join("Frieren - S01E01.mkv"), root) else {
            panic!("an episode by its name");
        };
        assert_eq!(episode.series, "Frieren");
        // Not under the root: the name alone.
        let elsewhere = Path::new("/other/Season 1/01.mkv");
        assert_eq!(parse(elsewhere, root), Named::Film);
    }

    #[test]
    fn series_keys_match_however_the_title_is_written() {
        let key = series_key("The Office");
        assert_eq!(key, "the office");
        assert_eq!(series_key("the.office"), key);
        assert_eq!(series_key("THE OFFICE!"), key);
        assert_eq!(series_key("  The   Office "), key);
        assert_eq!(series_key("Élite"), "elite");
        assert_eq!(
            series_key("Marvel's Agents of S.H.I.E.L.D."),
            series_key("Marvel's.Agents.of.S.H.I.E.L.D")
        );
        assert_ne!(series_key("The Office US"), key);
    }
}

//! Title and year from the names people give their files: release-style
//! (`Inception.2010.1080p.BluRay.x264-GROUP.mkv`), tidy (`The Matrix (1999).mkv`) or plain
//! (`home_video.mp4`). No network lookups: what the name says is all there is.

/// What a file name says about its movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInfo {
    pub title: String,
    pub year: Option<u16>,
}

/// Words that start the technical tail of a release name: never a title's words.
pub(crate) const TECHNICAL: &[&str] = &[
    "480p",
    "576p",
    "720p",
    "1080p",
    "1080i",
    "2160p",
    "4k",
    "bluray",
    "blu-ray",
    "bdrip",
    "brrip",
    "bdremux",
    "remux",
    "web-dl",
    "webdl",
    "webrip",
    "hdtv",
    "dvdrip",
    "dvdscr",
    "hdrip",
    "x264",
    "x265",
    "h264",
    "h265",
    "h.264",
    "h.265",
    "hevc",
    "avc",
    "xvid",
    "divx",
    "av1",
    "10bit",
    "8bit",
    "hdr",
    "hdr10",
    "aac",
    "ac3",
    "dts",
    "dts-hd",
    "truehd",
    "atmos",
    "ddp",
    "dd5",
    "flac",
    "vostfr",
    "truefrench",
];

/// Words that end a title only after its year: `The English Patient (1996)` keeps "English",
/// `Amélie.2001.FRENCH` drops it.
const AFTER_YEAR: &[&str] = &[
    "web",
    "uhd",
    "hd",
    "dv",
    "sdr",
    "dvd",
    "proper",
    "repack",
    "extended",
    "unrated",
    "uncut",
    "remastered",
    "imax",
    "limited",
    "internal",
    "french",
    "multi",
    "german",
    "spanish",
    "italian",
    "japanese",
    "korean",
    "english",
    "subbed",
    "dubbed",
    "vff",
    "vfq",
    "nf",
    "amzn",
    "dsnp",
    "hmax",
    "criterion",
    "directors",
    "director's",
];

/// The latest year a film can be from: next year (festival releases are dated ahead).
fn latest_year() -> u16 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // 365.2425 days a year from 1970; a day's error at New Year does not matter here.
    1970 + (now / 31_556_952) as u16 + 1
}

fn as_year(token: &str) -> Option<u16> {
    let inner = token.trim_matches(|c| matches!(c, '(' | ')' | '[' | ']' | '{' | '}'));
    if inner.len() != 4 || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: u16 = inner.parse().ok()?;
    (1888..=latest_year()).contains(&year).then_some(year)
}

/// Whether `token` is one of `words`, ignoring case and brackets; `x264-GROUP` and
/// `DTS-HD.MA` count by the part before the dash.
pub(crate) fn is_one_of(token: &str, words: &[&str]) -> bool {
    let word = token
        .trim_matches(|c| matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | ','))
        .to_lowercase();
    let head = word.split('-').next().unwrap_or(&word);
    words.contains(&word.as_str()) || words.contains(&head)
}

/// Removes `[...]` groups (`[YTS.MX]`, `[1080p]`): tags, never title.
pub(crate) fn without_brackets(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Title and year from a file name without its extension.
pub fn parse(stem: &str) -> NameInfo {
    let cleaned = without_brackets(stem);
    // Release names separate words with dots or underscores; a name with spaces keeps its
    // dots (`Dr. Strangelove`).
    let spaced = if cleaned.trim().contains(' ') {
        cleaned.replace('_', " ")
    } else {
        cleaned.replace(['.', '_'], " ")
    };
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let first_year = (1..tokens.len()).find(|&i| as_year(tokens[i]).is_some());
    let tail_at = (0..tokens.len())
        .find(|&i| {
            is_one_of(tokens[i], TECHNICAL)
                || (first_year.is_some_and(|y| y < i) && is_one_of(tokens[i], AFTER_YEAR))
        })
        .unwrap_or(tokens.len());
    // The year is the last year-like word before the tail, never the first word (`1917`,
    // `2001 A Space Odyssey`): `Wonder.Woman.1984.2020` is from 2020.
    let year_at = (1..tail_at).rev().find(|&i| as_year(tokens[i]).is_some());
    let title_end = year_at.unwrap_or(tail_at);
    let title = tokens[..title_end]
        .join(" ")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '(' | ',' | '–'))
        .to_string();
    let title = if title.is_empty() {
        stem.trim().to_string()
    } else {
        title
    };
    NameInfo {
        title,
        year: year_at.and_then(|i| as_year(tokens[i])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_world_names() {
        let table: &[(&str, &str, Option<u16>)] = &[
            ("Inception.2010.1080p.BluRay.x264", "Inception", Some(2010)),
            ("The Matrix (1999)", "The Matrix", Some(1999)),
            ("Amélie.2001.FRENCH", "Amélie", Some(2001)),
            ("Se7en (1995) [1080p]", "Se7en", Some(1995)),
            (
                "Léon.The.Professional.1994.Extended",
                "Léon The Professional",
                Some(1994),
            ),
            ("movie_name_2005_DVDRip", "movie name", Some(2005)),
            (
                "Spider-Man.No.Way.Home.2021.2160p.WEB-DL",
                "Spider-Man No Way Home",
                Some(2021),
            ),
            ("WALL·E (2008)", "WALL·E", Some(2008)),
            ("12.Angry.Men.1957.1080p", "12 Angry Men", Some(1957)),
            ("Ocean's.Eleven.2001.720p", "Ocean's Eleven", Some(2001)),
            (
                "Mission.Impossible.-.Fallout.2018",
                "Mission Impossible - Fallout",
                Some(2018),
            ),
            (
                "Avengers.Endgame.2019.2160p.UHD.BluRay.x265.10bit.HDR.TrueHD.7.1.Atmos-GROUP",
                "Avengers Endgame",
                Some(2019),
            ),
            (
                "Crouching Tiger, Hidden Dragon (2000)",
                "Crouching Tiger, Hidden Dragon",
                Some(2000),
            ),
            ("千と千尋の神隠し (2001)", "千と千尋の神隠し", Some(2001)),
            (
                "Ghost.in.the.Shell.1995.JAPANESE.1080p",
                "Ghost in the Shell",
                Some(1995),
            ),
            ("Dr. Strangelove (1964)", "Dr. Strangelove", Some(1964)),
            (
                "Terminator 2 Judgment Day 1991",
                "Terminator 2 Judgment Day",
                Some(1991),
            ),
            ("The Godfather Part II", "The Godfather Part II", None),
            ("home_video", "home video", None),
            ("Blade Runner 2049", "Blade Runner 2049", None),
            (
                "Blade.Runner.2049.2017.1080p",
                "Blade Runner 2049",
                Some(2017),
            ),
            (
                "2001.A.Space.Odyssey.1968.1080p",
                "2001 A Space Odyssey",
                Some(1968),
            ),
            (
                "Wonder.Woman.1984.2020.1080p",
                "Wonder Woman 1984",
                Some(2020),
            ),
            ("1917.2019.1080p.WEBRip", "1917", Some(2019)),
            ("1984.1984.720p", "1984", Some(1984)),
            ("[YTS.MX] Parasite (2019)", "Parasite", Some(2019)),
            (
                "The.Lord.of.the.Rings.The.Return.of.the.King.2003.EXTENDED.1080p",
                "The Lord of the Rings The Return of the King",
                Some(2003),
            ),
            (
                "Star.Wars.Episode.IV.A.New.Hope.1977",
                "Star Wars Episode IV A New Hope",
                Some(1977),
            ),
            (
                "La.Haine.1995.FRENCH.1080p.BluRay.x264-LOST",
                "La Haine",
                Some(1995),
            ),
            ("Das Boot (1981) Director's Cut", "Das Boot", Some(1981)),
            ("holiday 2019", "holiday", Some(2019)),
            ("VID_20230714_183000", "VID 20230714 183000", None),
            ("Metropolis.1927.Remastered", "Metropolis", Some(1927)),
            (
                "Alien.1979.Directors.Cut.1080p.BluRay.DTS-HD.MA.5.1",
                "Alien",
                Some(1979),
            ),
            ("Nosferatu (1922)", "Nosferatu", Some(1922)),
            ("Roma.2018.NF.WEB-DL", "Roma", Some(2018)),
            ("Oldboy.2003.KOREAN.1080p", "Oldboy", Some(2003)),
            (
                "Back.to.the.Future.Part.III.1990",
                "Back to the Future Part III",
                Some(1990),
            ),
            ("x264", "x264", None),
            ("Город.2010.1080p", "Город", Some(2010)),
            (
                "The English Patient (1996)",
                "The English Patient",
                Some(1996),
            ),
            ("Charlotte's Web (1973)", "Charlotte's Web", Some(1973)),
            ("The.Web.2012.MULTI.1080p", "The Web", Some(2012)),
        ];
        let mut wrong = Vec::new();
        for (name, title, year) in table {
            let got = parse(name);
            if got.title != *title || got.year != *year {
                wrong.push(format!("{name}: {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        assert!(table.len() >= 30);
    }
}

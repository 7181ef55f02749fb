//! A library of N ready movies written straight into a data dir's database, for
//! `benches/catalog.sh`: titles, years, descriptions, two audio languages, three subtitle
//! languages, a four-rung ladder and thumbnails each, as a real library's records would hold.
//! Nothing is published (the catalog and the API read only the records). With USERS, that many
//! viewers too (`viewer0`..., password `viewer-password`, one hash shared to save time), a third
//! of them premium: what `benches/backup.sh` backs up.
//!
//! With SHOWS and EPISODES, that many series of that many episodes each (five seasons), as a
//! folder import would record them.
//!
//! Usage: seed_library DATA_DIR COUNT [USERS [SHOWS EPISODES]]

use streamd::store::{
    AudioRendition, Episode, Movie, MovieId, MovieStatus, Plan, RenditionInfo, Series, Store,
    SubtitleRendition, Thumbnails, Tier, Timestamp, User, Username,
};

const WORDS: &[&str] = &[
    "Night", "River", "Amélie", "Matrix", "Winter", "Garden", "Stranger", "Return", "Silent",
    "City", "Lost", "Highway", "Crimson", "Paper", "Moon", "Harbour", "Empire", "Last", "Golden",
    "Shadow", "Léon", "Island", "Storm", "Secret", "Northern", "Glass", "Iron", "Blue", "Wild",
    "Summer",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: seed_library DATA_DIR COUNT");
        std::process::exit(2);
    };
    let count: u64 = count.parse()?;
    let users: u64 = args.next().map(|u| u.parse()).transpose()?.unwrap_or(0);
    let shows: u64 = args.next().map(|u| u.parse()).transpose()?.unwrap_or(0);
    let per_show: u64 = args.next().map(|u| u.parse()).transpose()?.unwrap_or(0);
    let store = Store::open(std::path::Path::new(&dir))?;
    let hash = streamd::auth::password::hash("viewer-password")?;
    for n in 0..users {
        let user = User {
            name: Username::parse(&format!("viewer{n}"))?,
            password_hash: hash.clone(),
            admin: false,
            created_at: Timestamp(1_700_000_000 + n as i64 * 60),
            disabled: false,
        };
        let tier = if n % 3 == 0 {
            Tier::Premium
        } else {
            Tier::Free
        };
        store.create_user(
            &user,
            &Plan {
                tier,
                until: None,
                screens: None,
            },
        )?;
    }
    let mut movies = Vec::new();
    let rung = |name: &str, width, height, kbps: u64| RenditionInfo {
        name: name.into(),
        width,
        height,
        bandwidth: kbps * 1100,
        average_bandwidth: kbps * 1000,
        codecs: "avc1.640028".into(),
        frame_rate: 23.976,
        video_range: None,
    };
    let audio = |n: u32, lang: &str, label: &str| AudioRendition {
        name: format!("audio_{n}"),
        lang: lang.into(),
        label: label.into(),
        channels: 2,
        source_channels: 6,
        default: n == 1,
        bandwidth: 134_400,
        average_bandwidth: 128_000,
    };
    let subs = |lang: &str, label: &str| SubtitleRendition {
        name: format!("subs_{lang}"),
        lang: lang.into(),
        label: label.into(),
        forced: false,
    };
    for n in 0..count {
        // A pseudo-random but repeatable mix of words, years and lengths.
        let pick = |k: u64| WORDS[((n * 7919 + k * 104_729) % WORDS.len() as u64) as usize];
        let title = format!("{} {} {}", pick(1), pick(2), n);
        let duration = 5400.0 + (n % 60) as f64 * 60.0;
        let movie = Movie {
            status: MovieStatus::Ready,
            playable: true,
            duration_s: Some(duration),
            year: Some(1950 + (n % 75) as u16),
            description: Some(format!(
                "{title}: a story of {} and {} told over one long {} night, \
                 with a score that stays in the head long after the credits.",
                pick(3).to_lowercase(),
                pick(4).to_lowercase(),
                pick(5).to_lowercase()
            )),
            renditions: vec![
                rung("480p", 854, 480, 1_400),
                rung("720p", 1280, 720, 2_800),
                rung("1080p", 1920, 1080, 5_000),
                rung("2160p", 3840, 2160, 16_000),
            ],
            audio: vec![audio(1, "en", "English"), audio(2, "fr", "Français")],
            subtitles: vec![
                subs("en", "English"),
                subs("fr", "Français"),
                subs("de", "Deutsch"),
            ],
            thumbnails: Some(Thumbnails {
                interval_s: 10,
                width: 320,
                height: 180,
                columns: 10,
                rows: 10,
                count: (duration / 10.0).ceil() as u32,
            }),
            fingerprint: Some(format!("v1:{n:064x}")),
            ..Movie::new(
                MovieId::generate(),
                title,
                if n % 3 == 0 {
                    Tier::Premium
                } else {
                    Tier::Free
                },
                Timestamp(1_700_000_000 + n as i64 * 3600),
            )
        };
        movies.push(movie);
    }
    let mut all_series = Vec::new();
    for s in 0..shows {
        let pick = |k: u64| WORDS[((s * 6007 + k * 7919) % WORDS.len() as u64) as usize];
        let series = Series {
            id: MovieId::generate(),
            title: format!("The {} {} Show {s}", pick(1), pick(2)),
            year: Some(1990 + (s % 35) as u16),
            description: Some(format!("A show about {} and {}.", pick(3), pick(4))),
            tier: if s % 2 == 0 {
                Tier::Premium
            } else {
                Tier::Free
            },
            poster: None,
            created_at: Timestamp(1_700_000_000),
        };
        for e in 0..per_show {
            let mut episode = movies[(e % count.max(1)) as usize].clone();
            episode.id = MovieId::generate();
            episode.title = format!("{} {}", pick(e + 5), pick(e + 6));
            episode.tier = series.tier;
            episode.duration_s = Some(2700.0);
            episode.fingerprint = Some(format!("v1:{s:032x}{e:032x}"));
            episode.episode = Some(Episode {
                series: series.id.clone(),
                series_title: series.title.clone(),
                season: (e * 5 / per_show.max(1)) as u32 + 1,
                episode: (e % per_show.div_ceil(5).max(1)) as u32 + 1,
                last_episode: None,
                also_claimed_by: None,
            });
            movies.push(episode);
        }
        all_series.push(series);
    }
    store.put_series(&all_series)?;
    store.put_movies(&movies)?;
    println!("{count} movies, {shows} series of {per_show} episodes and {users} users in {dir}");
    Ok(())
}

//! The command line (CONTRACT.md section 1): arguments, and running each command against the
//! database directly or, while `serve` holds it, through the running server.

mod backup;
mod doctor;
mod folder;
mod ingest;
mod remote;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::manage::{self, Command, Outcome};
use crate::runtime::prepare_data_dir;
use crate::store::{Sidecar, Store, StoreError, Tier};

#[derive(Parser, Debug)]
#[command(
    name = "streamd",
    version,
    about = "Self-hosted video-on-demand server"
)]
pub struct Cli {
    /// TOML config file (every key is documented in example.toml).
    #[arg(long, env = "STREAMD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory: the database, the object store and generated secrets.
    #[arg(long, env = "STREAMD_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:80.
        #[arg(long, env = "STREAMD_LISTEN")]
        listen: Option<String>,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Let a user watch one movie, or every episode of a series (--series), regardless of plan.
    Grant {
        name: String,
        #[arg(allow_hyphen_values = true, required_unless_present = "series")]
        movie_id: Option<String>,
        /// A series id instead of a movie: every episode, those added later included.
        #[arg(long, conflicts_with = "movie_id", allow_hyphen_values = true)]
        series: Option<String>,
        /// End of the grant (RFC 3339, e.g. 2027-01-31T00:00:00Z); open-ended without it.
        #[arg(long)]
        until: Option<String>,
    },
    /// Take back a grant (of a movie, or of a series with --series).
    Revoke {
        name: String,
        #[arg(allow_hyphen_values = true, required_unless_present = "series")]
        movie_id: Option<String>,
        #[arg(long, conflicts_with = "movie_id", allow_hyphen_values = true)]
        series: Option<String>,
    },
    /// List series, or change one (title, year, description, tier of all its episodes, poster).
    Series {
        #[command(subcommand)]
        command: SeriesCmd,
    },
    /// Turn a movie file, or every video in a folder (recursive), into HLS ladders (a file:
    /// waits and shows progress unless --no-wait). Title and year come from the file name
    /// (`Inception.2010.1080p.mkv`) unless --title is given; subtitle files beside it
    /// (`Inception.2010.1080p.fr.forced.srt`) come along; in a folder, a file whose content is
    /// already in the library is skipped.
    Ingest {
        #[arg(value_name = "PATH")]
        file: PathBuf,
        /// Say what would be imported; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        title: Option<String>,
        #[arg(long, default_value = "free")]
        tier: Tier,
        /// Queue it and return at once.
        #[arg(long)]
        no_wait: bool,
        #[arg(long)]
        json: bool,
        /// A subtitle file to import with it (.srt, .vtt, .ass), optionally with its language:
        /// `--subtitle movie.fr.srt:fr`. Repeat for more.
        #[arg(long = "subtitle", value_name = "PATH[:LANG]")]
        subtitles: Vec<String>,
    },
    /// Add or remove a ready movie's subtitles (nothing is re-encoded).
    Subtitle {
        #[command(subcommand)]
        command: SubtitleCmd,
    },
    /// Change or delete a movie.
    Movie {
        #[command(subcommand)]
        command: MovieCmd,
    },
    /// List movies with their status.
    Movies {
        #[arg(long)]
        json: bool,
    },
    /// Check ffmpeg, the data dir, the config and the port.
    Doctor,
    /// Write a backup of the database (one consistent snapshot, taken while `serve` runs) and
    /// the data dir's secrets to FILE (mode 0600). Media objects are not in it: copy the
    /// objects folder with rsync, or keep them in S3. `--list` shows the scheduled backups in
    /// the object store instead.
    Backup {
        #[arg(required_unless_present = "list")]
        file: Option<PathBuf>,
        /// Encrypt the file with the secret in KEYFILE (AES-256-GCM; see `[backup] key`).
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        /// List the backups in the object store (`backups/`), oldest first.
        #[arg(long, conflicts_with = "file")]
        list: bool,
        #[arg(long)]
        json: bool,
    },
    /// Fill an empty data dir from a backup file, or from the newest backup in the object store
    /// with `latest` (`serve` stopped).
    Restore {
        /// A backup file, or `latest` (write ./latest for a file of that name).
        file: String,
        /// The key of an encrypted backup (else STREAMD_BACKUP_KEY, else `[backup] key`).
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        /// Restore over an existing database and secrets, keeping them aside as
        /// `*.before-restore-<time>`.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check that every ready movie's objects are in the object store and of the size they were
    /// published with; names what is missing or cut short and exits non-zero. Changes nothing.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Encrypt movies that were published clear (no re-encode): each segment is written
    /// encrypted under a new name, the keys go into the database, then the clear objects are
    /// removed. A movie stays playable throughout; run it again after an interruption.
    Encrypt {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        movie_id: Option<String>,
        /// Every ready movie not encrypted yet.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SubtitleCmd {
    /// Add a subtitle file (.srt, .vtt, .ass) to a ready movie.
    Add {
        #[arg(allow_hyphen_values = true)]
        movie_id: String,
        path: PathBuf,
        /// Its language (BCP 47 or ISO 639: en, fr, pt-BR, fre).
        #[arg(long)]
        lang: String,
        /// The name players show (default: the language's own name).
        #[arg(long)]
        name: Option<String>,
        /// Shown when the movie is heard in its language even with subtitles off (signs,
        /// foreign dialogue).
        #[arg(long)]
        forced: bool,
    },
    /// Remove a movie's subtitles in a language.
    Remove {
        #[arg(allow_hyphen_values = true)]
        movie_id: String,
        lang: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MovieCmd {
    /// Change a movie's title, year, description, tier or poster (what is not given stays).
    Edit {
        #[arg(allow_hyphen_values = true)]
        movie_id: String,
        #[arg(long)]
        title: Option<String>,
        /// A JPEG or PNG picture to show as its poster.
        #[arg(long)]
        poster: Option<PathBuf>,
        /// The year of release, or `none` to clear it.
        #[arg(long)]
        year: Option<String>,
        /// A few lines about the film (an empty one clears it).
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        tier: Option<Tier>,
        /// Make it an episode of a series: a series id, or a title (joins the series of that
        /// title, case and punctuation aside, or starts one); `none` makes it a film again.
        #[arg(long, allow_hyphen_values = true)]
        series: Option<String>,
        /// Its season (0 for specials).
        #[arg(long)]
        season: Option<u32>,
        /// Its episode number.
        #[arg(long)]
        episode: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a movie: stops its encode if one runs, removes its records, grants and objects.
    Delete {
        #[arg(allow_hyphen_values = true)]
        movie_id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SeriesCmd {
    /// List every series with its seasons and episodes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a series (what is not given stays); its tier is every episode's tier.
    Edit {
        #[arg(allow_hyphen_values = true)]
        series_id: String,
        #[arg(long)]
        title: Option<String>,
        /// The year it began, or `none` to clear it.
        #[arg(long)]
        year: Option<String>,
        /// A few lines about the show (an empty one clears it).
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        tier: Option<Tier>,
        /// A JPEG or PNG picture to show on its card.
        #[arg(long)]
        poster: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

/// `streamd series list|edit`.
fn series_command(config: &Config, command: SeriesCmd) -> anyhow::Result<()> {
    match command {
        SeriesCmd::List { json } => print_outcome(&execute(config, Command::SeriesList)?, json),
        SeriesCmd::Edit {
            series_id,
            title,
            year,
            description,
            tier,
            poster,
            json,
        } => {
            let edit = crate::store::SeriesEdit {
                title,
                year: year.as_deref().map(year_arg).transpose()?,
                description: description.map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                tier,
            };
            let edit =
                (edit != crate::store::SeriesEdit::default() || poster.is_none()).then(|| {
                    Command::SeriesEdit {
                        id: series_id.clone(),
                        edit,
                    }
                });
            let poster = (poster.map(absolute).transpose()?).map(|path| Command::SeriesPoster {
                id: series_id,
                path,
            });
            edit_then_poster(config, edit, poster, json)
        }
    }
}

/// `movie edit` and `series edit`: the metadata change (run even when only a poster is missing
/// too, so an empty edit is refused with its reason), then the poster; prints the last outcome.
fn edit_then_poster(
    config: &Config,
    edit: Option<Command>,
    poster: Option<Command>,
    json: bool,
) -> anyhow::Result<()> {
    let mut outcome = None;
    for command in [edit, poster].into_iter().flatten() {
        outcome = Some(execute(config, command)?);
    }
    match outcome {
        Some(outcome) => print_outcome(&outcome, json),
        None => Ok(()),
    }
}

/// `--year 2010` or `--year none`.
fn year_arg(text: &str) -> anyhow::Result<Option<u16>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("--year takes a year (e.g. 1999) or none, not {text:?}"))
}

/// `PATH[:LANG]`: the language after the last colon when it looks like one.
fn sidecar_arg(text: &str) -> Sidecar {
    let looks_like_lang = |l: &str| {
        (2..=8).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
    };
    match text.rsplit_once(':') {
        Some((path, lang)) if !path.is_empty() && looks_like_lang(lang) => Sidecar {
            path: PathBuf::from(path),
            lang: Some(lang.to_string()),
            name: None,
            forced: false,
            found_beside: false,
        },
        _ => Sidecar {
            path: PathBuf::from(text),
            lang: None,
            name: None,
            forced: false,
            found_beside: false,
        },
    }
}

/// Paths the server will open must not depend on this shell's working directory.
fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(&path)?)
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user (the password is asked for without echo, or read with --password-stdin).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long, default_value = "free")]
        plan: Tier,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's plan.
    Plan {
        name: String,
        tier: Tier,
        /// When the plan lapses (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Screens (playbacks at once) for this user instead of the plan's; 0 is unlimited.
        #[arg(long, value_name = "N")]
        screens: Option<u32>,
    },
    /// Change a user's password (ends their sessions).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a user: their sessions end at once; their grants, resume positions and
    /// preferences go. The last admin cannot be removed.
    Remove { name: String },
    /// Refuse a user's sign-in and end their sessions; their data is kept.
    Disable { name: String },
    /// Let a disabled user sign in again.
    Enable { name: String },
}

impl Cli {
    fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            listen: match &self.command {
                Cmd::Serve { listen } => listen.clone(),
                _ => None,
            },
        }
    }
}

/// Runs the parsed command; the caller prints the error and sets the exit status.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.overrides())?;
    match cli.command {
        Cmd::Serve { .. } => {
            let system = actix_web::rt::System::new();
            Ok(system.block_on(crate::server::run(config))?)
        }
        Cmd::Doctor => doctor::run(&config, cli.config.as_deref()),
        Cmd::Backup {
            file,
            key,
            list,
            json,
        } => match file {
            Some(file) if !list => {
                let command = Command::Backup {
                    path: absolute(file)?,
                    key: key.map(absolute).transpose()?,
                };
                print_outcome(&execute(&config, command)?, json)
            }
            _ => backup::list(&config, json),
        },
        Cmd::Restore {
            file,
            key,
            force,
            json,
        } => {
            let summary = backup::restore(&config, &file, key.as_deref(), force)?;
            print_outcome(&Outcome::Backup(summary), json)
        }
        Cmd::Check { json } => backup::check(execute(&config, Command::Check)?, json),
        Cmd::Encrypt {
            movie_id,
            all: _,
            json,
        } => print_outcome(&execute(&config, Command::Encrypt { id: movie_id })?, json),
        Cmd::User { command } => {
            let (command, json) = user_command(command)?;
            print_outcome(&execute(&config, command)?, json)
        }
        Cmd::Grant {
            name,
            movie_id,
            series,
            until,
        } => {
            let command = match (series, movie_id) {
                (Some(series), _) => Command::GrantSeries {
                    name,
                    series,
                    until,
                },
                (None, movie) => Command::Grant {
                    name,
                    movie: movie.unwrap_or_default(),
                    until,
                },
            };
            print_outcome(&execute(&config, command)?, false)
        }
        Cmd::Revoke {
            name,
            movie_id,
            series,
        } => {
            let command = match (series, movie_id) {
                (Some(series), _) => Command::RevokeSeries { name, series },
                (None, movie) => Command::Revoke {
                    name,
                    movie: movie.unwrap_or_default(),
                },
            };
            print_outcome(&execute(&config, command)?, false)
        }
        Cmd::Series { command } => series_command(&config, command),
        Cmd::Movies { json } => print_outcome(&execute(&config, Command::Movies)?, json),
        Cmd::Ingest {
            file,
            title,
            tier,
            no_wait,
            json,
            subtitles,
            dry_run,
        } => {
            if file.is_dir() {
                return folder::run(
                    &config,
                    &file,
                    folder::Options {
                        tier,
                        no_wait,
                        dry_run,
                        json,
                    },
                );
            }
            let mut subtitles = subtitles
                .iter()
                .map(|s| {
                    let mut sidecar = sidecar_arg(s);
                    sidecar.path = absolute(sidecar.path)?;
                    Ok(sidecar)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            subtitles.extend(ingest::sidecars_beside(&file, &subtitles));
            // A single file's show and season folders count too (`Show/Season 1/E02.mkv`).
            let file_abs = absolute(file.clone())?;
            let root = file_abs.ancestors().nth(3).unwrap_or(Path::new("/"));
            let named = crate::library::new_movie(&file_abs, root, tier).movie;
            let movie = crate::ingest::NewMovie {
                title: title.unwrap_or(named.title),
                year: named.year,
                tier,
                sidecars: subtitles,
                dry_run,
                episode: named.episode,
                ..Default::default()
            };
            if dry_run {
                let subtitle_files = movie.sidecars.len();
                let queue = ingest::Queue::open(&config.server.data_dir)?;
                let view = queue.add(&config.server.data_dir, &absolute(file)?, movie)?;
                return folder::print_dry_run(&view, subtitle_files, json);
            }
            ingest::run(
                &config,
                ingest::Request {
                    file: &file,
                    movie,
                    no_wait,
                    json,
                },
            )
        }
        Cmd::Movie {
            command:
                MovieCmd::Edit {
                    movie_id,
                    title,
                    poster,
                    year,
                    description,
                    tier,
                    series,
                    season,
                    episode,
                    json,
                },
        } => {
            let edit = crate::store::MovieEdit {
                title,
                year: year.as_deref().map(year_arg).transpose()?,
                description: description.map(|d| Some(d).filter(|d| !d.trim().is_empty())),
                tier,
                series: series.map(|s| Some(s).filter(|s| !s.eq_ignore_ascii_case("none"))),
                season,
                episode,
            };
            let edit =
                (edit != crate::store::MovieEdit::default() || poster.is_none()).then(|| {
                    Command::MovieEdit {
                        id: movie_id.clone(),
                        edit,
                    }
                });
            let poster = (poster.map(absolute).transpose()?)
                .map(|path| Command::MoviePoster { id: movie_id, path });
            edit_then_poster(&config, edit, poster, json)
        }
        Cmd::Movie {
            command: MovieCmd::Delete { movie_id },
        } => print_outcome(
            &execute(&config, Command::MovieDelete { id: movie_id })?,
            false,
        ),
        Cmd::Subtitle { command } => {
            let command = match command {
                SubtitleCmd::Add {
                    movie_id,
                    path,
                    lang,
                    name,
                    forced,
                } => Command::SubtitleAdd {
                    movie: movie_id,
                    subtitle: Sidecar {
                        path: absolute(path)?,
                        lang: Some(lang),
                        name,
                        forced,
                        found_beside: false,
                    },
                },
                SubtitleCmd::Remove { movie_id, lang } => Command::SubtitleRemove {
                    movie: movie_id,
                    lang,
                },
            };
            print_outcome(&execute(&config, command)?, false)
        }
    }
}

/// The operator command a `user ...` line asks for, and whether it wants JSON.
fn user_command(command: UserCmd) -> anyhow::Result<(Command, bool)> {
    Ok(match command {
        UserCmd::Add {
            name,
            admin,
            plan,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            let cmd = Command::UserAdd {
                name,
                admin,
                plan,
                password,
            };
            (cmd, false)
        }
        UserCmd::Plan {
            name,
            tier,
            until,
            screens,
        } => (
            Command::UserPlan {
                name,
                tier,
                until,
                screens,
            },
            false,
        ),
        UserCmd::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            (Command::UserPasswd { name, password }, false)
        }
        UserCmd::List { json } => (Command::UserList, json),
        UserCmd::Remove { name } => (Command::UserRemove { name }, false),
        UserCmd::Disable { name } => (
            Command::UserDisable {
                name,
                disabled: true,
            },
            false,
        ),
        UserCmd::Enable { name } => (
            Command::UserDisable {
                name,
                disabled: false,
            },
            false,
        ),
    })
}

/// Through the running server when `serve` has announced itself in the data dir (the CLI then
/// never touches the database file the server holds); the database directly otherwise.
fn execute(config: &Config, command: Command) -> anyhow::Result<Outcome> {
    let data_dir = &config.server.data_dir;
    // The running server first: a command it carries out needs nothing written here, so it
    // still works while the disk is full.
    if let Some(result) = remote::try_running_server(data_dir, &command) {
        return result;
    }
    prepare_data_dir(data_dir).map_err(anyhow::Error::msg)?;
    match Store::open(data_dir) {
        Ok(store) if command.needs_media() => {
            let secrets = crate::secrets::Secrets::load_or_create(config)?;
            let media = std::sync::Arc::new(crate::media::Media::new(config, &secrets)?);
            let ingester =
                crate::ingest::Ingester::new(store, std::sync::Arc::new(config.clone()), media);
            Ok(manage::execute_with(&ingester, command)?)
        }
        Ok(store) => Ok(manage::execute(&store, command)?),
        Err(StoreError::Locked { .. }) => remote::execute(data_dir, &command),
        Err(e) => Err(e.into()),
    }
}

fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password on: pipe it in with --password-stdin");
    }
    let password = rpassword::prompt_password("Password: ").context("reading the password")?;
    if confirm {
        let again = rpassword::prompt_password("Repeat it: ").context("reading the password")?;
        if again != password {
            bail!("the two passwords differ; nothing was changed");
        }
    }
    Ok(password)
}

fn print_outcome(outcome: &Outcome, json: bool) -> anyhow::Result<()> {
    match outcome {
        Outcome::Done { message } if json => {
            println!("{}", serde_json::json!({ "message": message }));
        }
        Outcome::Done { message } => println!("{message}"),
        Outcome::Users(users) if json => println!("{}", serde_json::to_string(users)?),
        Outcome::Users(users) => {
            println!(
                "{:<24} {:<6} {:<8} {:<21} CREATED",
                "NAME", "ROLE", "PLAN", "UNTIL"
            );
            for u in users {
                println!(
                    "{:<24} {:<6} {:<8} {:<21} {}{}",
                    u.name,
                    if u.admin { "admin" } else { "user" },
                    u.plan,
                    u.plan_until.as_deref().unwrap_or("-"),
                    u.created_at,
                    if u.disabled { "  (disabled)" } else { "" }
                );
            }
        }
        Outcome::Check(report) => backup::print_report(report, json)?,
        Outcome::Backup(summary) if json => println!("{}", serde_json::to_string(summary)?),
        Outcome::Backup(b) => println!(
            "{}: {} movies, {} users, {} bytes, taken {}",
            b.path, b.movies, b.users, b.bytes, b.taken_at
        ),
        Outcome::Encrypted(done) if json => println!("{}", serde_json::to_string(done)?),
        Outcome::Encrypted(done) => {
            if done.is_empty() {
                println!("every movie asked for is encrypted already");
            }
            for e in done {
                match (e.already, e.removed) {
                    (true, 0) => println!("{} {}: already encrypted", e.id, e.title),
                    (true, n) => println!(
                        "{} {}: finished an interrupted run, {n} clear objects removed",
                        e.id, e.title
                    ),
                    (false, _) => println!(
                        "{} {}: {} segments encrypted with {} keys, {} clear objects removed",
                        e.id, e.title, e.segments, e.keys, e.removed
                    ),
                }
            }
        }
        Outcome::Series(all) if json => println!("{}", serde_json::to_string(all)?),
        Outcome::Series(all) => {
            if all.is_empty() {
                eprintln!("no series yet: episodes named like `Show.S01E02.mkv` make one");
            }
            for s in all {
                println!(
                    "{} {} {:?}{}: {} season(s), {} episode(s)",
                    s.id,
                    s.tier,
                    s.title,
                    s.year.map(|y| format!(" ({y})")).unwrap_or_default(),
                    s.seasons,
                    s.episodes
                );
            }
        }
        Outcome::Movie(movie) if json => println!("{}", serde_json::to_string(movie)?),
        Outcome::Movie(m) => println!("{} {} {} {}", m.id, m.status, m.tier, m.title),
        Outcome::Movies(movies) if json => println!("{}", serde_json::to_string(movies)?),
        Outcome::Movies(movies) => {
            if movies.is_empty() {
                eprintln!(
                    "no movies yet: add one (or a folder of them) with `streamd ingest PATH`"
                );
            }
            for m in movies {
                let progress = m
                    .progress
                    .as_ref()
                    .filter(|_| m.status == "running")
                    .map(|p| format!(" {:.0}%", p.percent))
                    .unwrap_or_default();
                println!(
                    "{:<13} {:<8} {:<8}{:<5} {}",
                    m.id, m.tier, m.status, progress, m.title
                );
            }
        }
    }
    Ok(())
}

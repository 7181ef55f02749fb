//! `streamd ingest FILE --title T`: queue a movie and, unless `--no-wait`, follow it to the end
//! with a progress bar. Runs the job in this process when no server holds the database, or
//! hands it to the running server's workers and follows it from there.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::remote;
use crate::config::Config;
use crate::ingest::run::Control;
use crate::ingest::{Ingester, NewMovie, enqueue};
use crate::manage::{Command, MovieView, Outcome};
use crate::runtime::prepare_data_dir;
use crate::store::{Progress, Sidecar, Store, StoreError};

pub struct Request<'a> {
    pub file: &'a Path,
    pub movie: NewMovie,
    pub no_wait: bool,
    pub json: bool,
}

/// Subtitle files beside `file` that were not given with `--subtitle`, each checked; one that
/// cannot be used (empty, too large) is left out with a line saying why, not the ingest.
pub fn sidecars_beside(file: &Path, given: &[Sidecar]) -> Vec<Sidecar> {
    let (usable, problems) = crate::library::sidecars::usable_beside(file, given);
    for s in &usable {
        eprintln!(
            "subtitles beside it: {} ({})",
            s.path.display(),
            s.lang.as_deref().unwrap_or("language unknown")
        );
    }
    for p in problems {
        eprintln!("skipping subtitles: {p}");
    }
    usable
}

fn progress_bar() -> ProgressBar {
    // indicatif draws on stderr only when it is a terminal.
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {percent:>3}%  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn show(bar: &ProgressBar, p: &Progress) {
    bar.set_position((p.percent * 10.0).round() as u64);
    let eta = p
        .eta_s
        .map(|s| format!("ETA {}:{:02}", (s as u64) / 60, (s as u64) % 60))
        .unwrap_or_default();
    bar.set_message(format!("{:.1}x  {eta}", p.speed));
}

/// Where queued movies go: into the database here, or through the server that holds it.
pub enum Queue {
    Here(Store),
    Server,
}

impl Queue {
    pub fn open(data_dir: &Path) -> anyhow::Result<Queue> {
        prepare_data_dir(data_dir).map_err(anyhow::Error::msg)?;
        match Store::open(data_dir) {
            Ok(store) => Ok(Queue::Here(store)),
            Err(StoreError::Locked { .. }) => Ok(Queue::Server),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues `file` (or, with `movie.dry_run`, says what would be queued).
    pub fn add(&self, data_dir: &Path, file: &Path, movie: NewMovie) -> anyhow::Result<MovieView> {
        match self {
            Queue::Here(store) => Ok(MovieView::from(&enqueue(store, file, movie)?)),
            Queue::Server => {
                let command = Command::Ingest {
                    path: file.to_path_buf(),
                    movie,
                };
                match remote::execute(data_dir, &command)? {
                    Outcome::Movie(queued) => Ok(*queued),
                    _ => bail!("the server gave an unexpected answer"),
                }
            }
        }
    }

    /// Follows a queued movie to its end: transcoded here, or watched on the server.
    pub fn finish(&self, config: &Config, id: &str) -> anyhow::Result<MovieView> {
        match self {
            Queue::Here(store) => {
                let id = crate::store::MovieId::parse(id).map_err(anyhow::Error::msg)?;
                run_here(config, store, &id)
            }
            Queue::Server => follow_remote(&config.server.data_dir, id),
        }
    }
}

pub fn run(config: &Config, req: Request) -> anyhow::Result<()> {
    let data_dir = &config.server.data_dir;
    let file = std::path::absolute(req.file)?;
    let queue = Queue::open(data_dir)?;
    let queued = queue.add(data_dir, &file, req.movie)?;
    let view = if req.no_wait {
        if matches!(queue, Queue::Here(_)) {
            eprintln!("queued {}: `streamd serve` will transcode it", queued.id);
        }
        queued
    } else {
        queue.finish(config, &queued.id)?
    };
    report(&view, req.json)
}

fn run_here(
    config: &Config,
    store: &Store,
    id: &crate::store::MovieId,
) -> anyhow::Result<MovieView> {
    let secrets = crate::secrets::Secrets::load_or_create(config)?;
    let media = Arc::new(crate::media::Media::new(config, &secrets)?);
    let ingester = Ingester::new(store.clone(), Arc::new(config.clone()), media);
    let (job, movie) = store
        .claim_job(Some(id))?
        .ok_or_else(|| anyhow!("the job for {id} vanished from the queue"))?;
    let bar = progress_bar();
    let control = Control::default();
    ingester.process(&job, &movie, &control, &|| false, &mut |p| show(&bar, p));
    bar.finish_and_clear();
    let movie = store
        .movie(id)?
        .ok_or_else(|| anyhow!("movie {id} was deleted while it transcoded"))?;
    Ok(MovieView::from(&movie))
}

fn follow_remote(data_dir: &Path, id: &str) -> anyhow::Result<MovieView> {
    let bar = progress_bar();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let Outcome::Movie(view) =
            remote::execute(data_dir, &Command::Movie { id: id.to_string() })?
        else {
            bail!("the server gave an unexpected answer");
        };
        if let Some(p) = &view.progress {
            show(&bar, p);
        }
        if view.status == "ready" || view.status == "failed" {
            bar.finish_and_clear();
            return Ok(*view);
        }
    }
}

fn report(view: &MovieView, json: bool) -> anyhow::Result<()> {
    if matches!(view.status.as_str(), "running") {
        // The job ended but its outcome could not be written (a full disk, say).
        bail!(
            "ingest of {:?} stopped without recording an outcome; see the log above, free some \
             disk space and run `streamd serve` to retry it",
            view.title
        );
    }
    if json {
        println!("{}", serde_json::to_string(view)?);
    }
    match view.status.as_str() {
        "failed" => bail!(
            "ingest of {:?} failed: {}",
            view.title,
            view.error.as_deref().unwrap_or("unknown reason")
        ),
        "ready" if !json => {
            println!(
                "ready: {} {:?} ({})",
                view.id,
                view.title,
                view.renditions.join(", ")
            );
            Ok(())
        }
        _ if !json => {
            println!("{} {}", view.id, view.status);
            Ok(())
        }
        _ => Ok(()),
    }
}

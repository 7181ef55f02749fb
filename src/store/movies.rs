//! Movies and their ingest jobs. Every status change of a movie and its job happens in one
//! transaction, so the catalog never disagrees with the queue.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{GRANTS, JOBS, KEYS, MOVIES, POSITIONS, Store, StoreError, decode, encode};
use crate::store::{
    EpisodeClaim, Inventory, Job, JobState, Movie, MovieEdit, MovieId, MovieStatus, Progress,
    Published, SubtitleRendition, Timestamp,
};

fn read_movie(txn: &WriteTransaction, id: &MovieId) -> Result<Option<Movie>, StoreError> {
    let table = txn.open_table(MOVIES)?;
    let found = table.get(id.as_str())?;
    found.map(|v| decode("movies", v.value())).transpose()
}

fn read_job(txn: &WriteTransaction, id: &MovieId) -> Result<Option<Job>, StoreError> {
    let table = txn.open_table(JOBS)?;
    let found = table.get(id.as_str())?;
    found.map(|v| decode("jobs", v.value())).transpose()
}

pub(super) fn write_movie(txn: &WriteTransaction, movie: &Movie) -> Result<(), StoreError> {
    txn.open_table(MOVIES)?
        .insert(movie.id.as_str(), encode(movie).as_slice())?;
    Ok(())
}

fn write_job(txn: &WriteTransaction, job: &Job) -> Result<(), StoreError> {
    txn.open_table(JOBS)?
        .insert(job.movie.as_str(), encode(job).as_slice())?;
    Ok(())
}

/// What an ingest measured, onto its movie (playable from then on).
fn take_published(movie: &mut Movie, published: Published) {
    movie.duration_s = Some(published.duration_s);
    movie.renditions = published.renditions;
    movie.audio = published.audio;
    movie.subtitles = published.subtitles;
    movie.video_start_s = published.video_start_s;
    movie.notes = published.notes;
    movie.thumbnails = published.thumbnails;
    movie.playable = true;
}

impl Store {
    pub fn put_movie(&self, movie: &Movie) -> Result<(), StoreError> {
        self.put_movies(std::slice::from_ref(movie))
    }

    /// Writes many movie records in one transaction (seeding a library for a benchmark).
    pub fn put_movies(&self, movies: &[Movie]) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        for movie in movies {
            write_movie(&txn, movie)?;
        }
        self.commit_movies(txn, true)?;
        Ok(())
    }

    pub fn movie(&self, id: &MovieId) -> Result<Option<Movie>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let movies = txn.open_table(MOVIES)?;
        movies
            .get(id.as_str())?
            .map(|v| decode("movies", v.value()))
            .transpose()
    }

    /// Commits a transaction that may have written movies: when it `changed` one, shared
    /// snapshots taken before are stale. (An idle worker's look at the queue writes nothing and
    /// must not throw the snapshot away every few seconds.)
    pub(super) fn commit_movies(
        &self,
        txn: WriteTransaction,
        changed: bool,
    ) -> Result<(), StoreError> {
        let committed = txn.commit();
        if changed {
            self.handle.movies_generation.fetch_add(1, Ordering::SeqCst);
        }
        Ok(committed?)
    }

    /// All movies, newest first, shared: decoded once per change of any movie, not per
    /// request (a catalog of 5,000 movies takes ~30 ms to decode, and the catalog page and API
    /// read it on every view).
    pub fn movies_shared(&self) -> Result<Arc<Vec<Arc<Movie>>>, StoreError> {
        let cache = || {
            self.handle
                .movies_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        };
        // Read before the database: a change committed meanwhile bumps it past this value, so
        // what is decoded here is never kept as current after that change.
        let generation = self.handle.movies_generation.load(Ordering::SeqCst);
        if let Some((seen, list)) = cache().as_ref()
            && *seen == generation
        {
            return Ok(list.clone());
        }
        let list: Arc<Vec<Arc<Movie>>> =
            Arc::new(self.list_movies()?.into_iter().map(Arc::new).collect());
        let mut slot = cache();
        if self.handle.movies_generation.load(Ordering::SeqCst) == generation {
            *slot = Some((generation, list.clone()));
        }
        Ok(list)
    }

    /// All movies, newest first.
    pub fn list_movies(&self) -> Result<Vec<Movie>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let movies = txn.open_table(MOVIES)?;
        let mut out = Vec::new();
        for row in movies.iter()? {
            let (_, bytes) = row?;
            out.push(decode::<Movie>("movies", bytes.value())?);
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.title.cmp(&b.title)));
        Ok(out)
    }

    /// Every file a job still refers to (sources and subtitle sidecars), so start-up clean-up
    /// can tell a queued upload from one a killed process left half-written.
    pub fn job_files(&self) -> Result<std::collections::HashSet<std::path::PathBuf>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let mut files = std::collections::HashSet::new();
        for row in txn.open_table(JOBS)?.iter()? {
            let (_, bytes) = row?;
            let job: Job = decode("jobs", bytes.value())?;
            files.extend(job.sidecars.into_iter().map(|s| s.path));
            files.insert(job.source);
        }
        Ok(files)
    }

    pub fn job(&self, id: &MovieId) -> Result<Option<Job>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let jobs = txn.open_table(JOBS)?;
        jobs.get(id.as_str())?
            .map(|v| decode("jobs", v.value()))
            .transpose()
    }

    /// Adds a queued movie and its job together.
    /// An episode (`claim`) joins its series, found or started, in the same transaction: it is
    /// returned with the series' title and tier.
    pub fn enqueue(
        &self,
        movie: &Movie,
        job: &Job,
        claim: Option<&EpisodeClaim>,
    ) -> Result<Movie, StoreError> {
        let txn = self.begin_write()?;
        let mut movie = movie.clone();
        if let Some(claim) = claim {
            super::series::join(&txn, &mut movie, claim)?;
        }
        write_movie(&txn, &movie)?;
        write_job(&txn, job)?;
        self.commit_movies(txn, true)?;
        Ok(movie)
    }

    /// Takes the oldest queued job (or the named one) and marks it and its movie running.
    pub fn claim_job(&self, only: Option<&MovieId>) -> Result<Option<(Job, Movie)>, StoreError> {
        let txn = self.begin_write()?;
        let claimed = {
            let mut next: Option<Job> = None;
            for row in txn.open_table(JOBS)?.iter()? {
                let (_, bytes) = row?;
                let job: Job = decode("jobs", bytes.value())?;
                let wanted = only.is_none_or(|id| *id == job.movie);
                if job.state == JobState::Queued
                    && wanted
                    && next.as_ref().is_none_or(|n| job.queued_at < n.queued_at)
                {
                    next = Some(job);
                }
            }
            match next {
                None => None,
                Some(mut job) => match read_movie(&txn, &job.movie)? {
                    None => None,
                    Some(mut movie) => {
                        job.state = JobState::Running;
                        job.attempts += 1;
                        job.started_at = Some(Timestamp::now());
                        movie.status = MovieStatus::Running;
                        movie.progress = Some(Progress::default());
                        movie.error = None;
                        write_job(&txn, &job)?;
                        write_movie(&txn, &movie)?;
                        Some((job, movie))
                    }
                },
            }
        };
        self.commit_movies(txn, claimed.is_some())?;
        Ok(claimed)
    }

    /// Changes a movie's metadata in one transaction (a running transcode's own writes are
    /// never undone by it). `None` if there is no such movie.
    pub fn edit_movie(&self, id: &MovieId, edit: &MovieEdit) -> Result<Option<Movie>, StoreError> {
        let txn = self.begin_write()?;
        let edited = match read_movie(&txn, id)? {
            Some(mut movie) => {
                // The series part first: it checks a tier change against the series'.
                super::series::edit_episode(&txn, &mut movie, edit)?;
                edit.apply(&mut movie);
                write_movie(&txn, &movie)?;
                Some(movie)
            }
            None => None,
        };
        self.commit_movies(txn, edited.is_some())?;
        Ok(edited)
    }

    /// Records the encoder settings a running movie's segments are made with.
    pub fn set_encoder(&self, id: &MovieId, encoder: &str) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        let mut written = false;
        if let Some(mut movie) = read_movie(&txn, id)?
            && movie.status == MovieStatus::Running
        {
            movie.encoder = Some(encoder.to_string());
            write_movie(&txn, &movie)?;
            written = true;
        }
        self.commit_movies(txn, written)?;
        Ok(())
    }

    /// Records progress of a running movie; a no-op once it is no longer running (deleted).
    pub fn set_progress(&self, id: &MovieId, progress: &Progress) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        let mut written = false;
        if let Some(mut movie) = read_movie(&txn, id)?
            && movie.status == MovieStatus::Running
        {
            movie.progress = Some(progress.clone());
            write_movie(&txn, &movie)?;
            written = true;
        }
        self.commit_movies(txn, written)?;
        Ok(())
    }

    /// Flips a movie to ready with what the ingest measured. `false` if the movie was deleted
    /// while it was transcoding (the caller then removes what it published).
    pub fn complete_job(
        &self,
        id: &MovieId,
        published: Published,
        inventory: Option<Inventory>,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let done = match (read_movie(&txn, id)?, read_job(&txn, id)?) {
            (Some(mut movie), Some(mut job)) => {
                movie.status = MovieStatus::Ready;
                take_published(&mut movie, published);
                movie.inventory = inventory;
                movie.progress = None;
                movie.error = None;
                job.state = JobState::Done;
                job.finished_at = Some(Timestamp::now());
                write_movie(&txn, &movie)?;
                write_job(&txn, &job)?;
                true
            }
            _ => false,
        };
        self.commit_movies(txn, done)?;
        Ok(done)
    }

    /// The first segments of every rendition are out: the movie becomes playable while it goes
    /// on transcoding, with the ladder it will end with. A no-op for a movie that is gone or no
    /// longer transcoding.
    pub fn set_playable(&self, id: &MovieId, published: Published) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let done = match read_movie(&txn, id)? {
            Some(mut movie) if movie.status == MovieStatus::Running => {
                take_published(&mut movie, published);
                write_movie(&txn, &movie)?;
                true
            }
            _ => false,
        };
        self.commit_movies(txn, done)?;
        Ok(done)
    }

    /// Sets (or with `None` forgets) a movie's hand-picked poster object; answers the movie and
    /// the poster object it had before, or `None` when the movie is gone.
    pub fn set_poster(
        &self,
        id: &MovieId,
        poster: Option<String>,
    ) -> Result<Option<(Movie, Option<String>)>, StoreError> {
        let txn = self.begin_write()?;
        let updated = match read_movie(&txn, id)? {
            Some(mut movie) => {
                let old = std::mem::replace(&mut movie.poster, poster);
                write_movie(&txn, &movie)?;
                Some((movie, old))
            }
            None => None,
        };
        self.commit_movies(txn, updated.is_some())?;
        Ok(updated)
    }

    /// Replaces a movie's subtitle renditions (added or removed after the ingest); `None` when
    /// the movie is gone.
    pub fn set_subtitles(
        &self,
        id: &MovieId,
        subtitles: Vec<SubtitleRendition>,
    ) -> Result<Option<Movie>, StoreError> {
        let txn = self.begin_write()?;
        let updated = match read_movie(&txn, id)? {
            Some(mut movie) => {
                movie.subtitles = subtitles;
                write_movie(&txn, &movie)?;
                Some(movie)
            }
            None => None,
        };
        self.commit_movies(txn, updated.is_some())?;
        Ok(updated)
    }

    /// Records what a published movie's objects are (see [`Inventory`]); `false` when the movie
    /// is gone.
    pub fn set_inventory(&self, id: &MovieId, inventory: Inventory) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let found = match read_movie(&txn, id)? {
            Some(mut movie) => {
                movie.inventory = Some(inventory);
                write_movie(&txn, &movie)?;
                true
            }
            None => false,
        };
        self.commit_movies(txn, found)?;
        Ok(found)
    }

    pub fn fail_job(&self, id: &MovieId, reason: &str) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        if let Some(mut movie) = read_movie(&txn, id)? {
            movie.status = MovieStatus::Failed;
            movie.playable = false;
            movie.progress = None;
            movie.error = Some(reason.to_string());
            write_movie(&txn, &movie)?;
        }
        if let Some(mut job) = read_job(&txn, id)? {
            job.state = JobState::Failed;
            job.finished_at = Some(Timestamp::now());
            write_job(&txn, &job)?;
        }
        self.commit_movies(txn, true)?;
        Ok(())
    }

    /// Puts running jobs back in the queue: at start-up (their process died) and for jobs a
    /// shutdown interrupted. Returns the movies concerned.
    pub fn requeue_running(&self, only: Option<&MovieId>) -> Result<Vec<MovieId>, StoreError> {
        let txn = self.begin_write()?;
        let mut requeued = Vec::new();
        {
            let mut running = Vec::new();
            for row in txn.open_table(JOBS)?.iter()? {
                let (_, bytes) = row?;
                let job: Job = decode("jobs", bytes.value())?;
                if job.state == JobState::Running && only.is_none_or(|id| *id == job.movie) {
                    running.push(job);
                }
            }
            for mut job in running {
                job.state = JobState::Queued;
                job.started_at = None;
                if let Some(mut movie) = read_movie(&txn, &job.movie)? {
                    movie.status = MovieStatus::Queued;
                    movie.progress = None;
                    write_movie(&txn, &movie)?;
                }
                write_job(&txn, &job)?;
                requeued.push(job.movie);
            }
        }
        self.commit_movies(txn, !requeued.is_empty())?;
        Ok(requeued)
    }

    /// Removes a movie with its job and every grant for it; returns them if it existed.
    pub fn delete_movie(&self, id: &MovieId) -> Result<Option<(Movie, Option<Job>)>, StoreError> {
        let txn = self.begin_write()?;
        let removed = match read_movie(&txn, id)? {
            None => None,
            Some(movie) => {
                let job = read_job(&txn, id)?;
                txn.open_table(MOVIES)?.remove(id.as_str())?;
                txn.open_table(JOBS)?.remove(id.as_str())?;
                txn.open_table(GRANTS)?
                    .retain(|(_, movie), _| movie != id.as_str())?;
                txn.open_table(POSITIONS)?
                    .retain(|(_, movie), _| movie != id.as_str())?;
                txn.open_table(KEYS)?.remove(id.as_str())?;
                Some((movie, job))
            }
        };
        self.commit_movies(txn, removed.is_some())?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Tier;

    fn queued(store: &Store, id: &str, at: i64) -> MovieId {
        let id = MovieId::parse(id).expect("id");
        let movie = Movie::new(id.clone(), id.to_string(), Tier::Free, Timestamp(at));
        let job = Job {
            movie: id.clone(),
            source: "/src.mp4".into(),
            remove_source: false,
            state: JobState::Queued,
            attempts: 0,
            queued_at: Timestamp(at),
            started_at: None,
            finished_at: None,
            sidecars: vec![],
        };
        store.enqueue(&movie, &job, None).expect("enqueue");
        id
    }

    #[test]
    fn jobs_are_claimed_oldest_first_and_finish_in_one_step() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let b = queued(&store, "b", 20);
        let a = queued(&store, "a", 10);
        let (job, movie) = store.claim_job(None).expect("claim").expect("a job");
        assert_eq!(job.movie, a);
        assert_eq!(job.attempts, 1);
        assert_eq!(movie.status, MovieStatus::Running);
        assert!(
            store.claim_job(Some(&a)).expect("claim").is_none(),
            "already running"
        );
        assert!(
            store
                .complete_job(
                    &a,
                    Published {
                        duration_s: 12.5,
                        ..Default::default()
                    },
                    None
                )
                .expect("complete")
        );
        let a_movie = store.movie(&a).expect("get").expect("movie");
        assert_eq!(a_movie.status, MovieStatus::Ready);
        assert_eq!(a_movie.duration_s, Some(12.5));
        assert_eq!(
            store.job(&a).expect("job").expect("job").state,
            JobState::Done
        );

        store.claim_job(None).expect("claim").expect("b");
        store.fail_job(&b, "ffmpeg said no").expect("fail");
        let b_movie = store.movie(&b).expect("get").expect("movie");
        assert_eq!(b_movie.status, MovieStatus::Failed);
        assert_eq!(b_movie.error.as_deref(), Some("ffmpeg said no"));
    }

    #[test]
    fn interrupted_jobs_are_requeued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = queued(&store, "a", 1);
        store.claim_job(None).expect("claim");
        assert_eq!(
            store.requeue_running(None).expect("requeue"),
            vec![a.clone()]
        );
        assert_eq!(
            store.movie(&a).expect("get").expect("m").status,
            MovieStatus::Queued
        );
        let (job, _) = store.claim_job(None).expect("claim").expect("again");
        assert_eq!(job.attempts, 2);
    }

    #[test]
    fn deleting_a_movie_removes_its_job_and_grants_and_stops_completion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = queued(&store, "a", 1);
        let user = crate::store::User {
            name: crate::store::Username::parse("u").expect("u"),
            password_hash: String::new(),
            admin: false,
            created_at: Timestamp(0),
            disabled: false,
        };
        store.create_user(&user, &Default::default()).expect("user");
        store
            .put_grant(
                &user.name,
                &a,
                &crate::store::Grant {
                    granted_at: Timestamp(0),
                    until: None,
                },
            )
            .expect("grant");
        store.claim_job(None).expect("claim");
        assert!(store.delete_movie(&a).expect("delete").is_some());
        assert!(store.grants_of(&user.name).expect("grants").is_empty());
        assert!(
            !store
                .complete_job(&a, Published::default(), None)
                .expect("complete")
        );
        assert!(store.movie(&a).expect("get").is_none());
    }
}

//! argon2id password hashing with OWASP's parameters (m=19456 KiB, t=2, p=1), on a fixed pool
//! of argon2 memory.
//!
//! Each hash needs 19 MiB. Allocated per call, that memory stays with the allocator after a
//! login storm (20 sign-ins took a fresh server from 10 MB to 186 MB and it never came back),
//! and a storm of parallel logins would run as many 19 MiB hashes at once as it has threads,
//! starving segment serving of CPU. So hashes run on [`pool_size`] threads of their own (half
//! the cores, each with one buffer allocated on first use and kept, each at a lower CPU
//! priority than the server), and a hash waits at most [`MAX_WAIT`] for one.

use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// Longer passwords are refused before hashing: argon2 over a megabyte is a cheap DoS.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// How long a hash waits for a free buffer before the caller is told to come back later.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
const SALT_BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("passwords must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("passwords must be at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("too many password checks at once; try again shortly")]
    Busy,
}

/// Checks the length rules a new password must meet.
pub fn validate_new(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

/// OWASP's argon2id recommendation, which is also the argon2 crate's default.
fn owasp() -> Params {
    Params::default()
}

/// How many hashes may run at once: half the cores (at least one), so a storm queues instead
/// of competing with serving. argon2 is bound by memory bandwidth as much as by CPU, which a
/// lower priority does not yield: on 2 cores, two hashing threads at nice 10 still took segment
/// p99 to 1.7x quiet during a 50-client storm, one thread to 1.4x (benches/login_storm.sh),
/// at 40 logins/s, plenty for a home server.
pub fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 8))
}

/// How much nicer than the server the hashing threads run (Linux `nice`): under a login storm
/// the scheduler gives segment serving the CPU first and argon2 what is left. Measured with
/// benches/login_storm.sh: without it, segment p99 tripled during a 50-client storm (3.1x).
const HASHING_NICENESS: i32 = 10;

/// Buffers the hashing threads have allocated (one each, kept): never more than `pool_size()`.
static BUFFERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One argon2 computation, handed to a hashing thread.
struct Job {
    argon: Argon2<'static>,
    block_count: usize,
    password: Vec<u8>,
    salt: Vec<u8>,
    out_len: usize,
    queued: Instant,
    reply: mpsc::SyncSender<Result<Vec<u8>, PasswordError>>,
}

fn hashing_threads() -> &'static Mutex<mpsc::Sender<Job>> {
    static QUEUE: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..pool_size() {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || hashing_thread(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Mutex::new(tx)
    })
}

fn hashing_thread(queue: &Mutex<mpsc::Receiver<Job>>) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on this thread's own id; failure only leaves the priority as is.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, HASHING_NICENESS);
    }
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let job = {
            let rx = queue.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // Its caller has given up: don't spend the CPU.
        if job.queued.elapsed() > MAX_WAIT {
            let _ = job.reply.send(Err(PasswordError::Busy));
            continue;
        }
        let mut out = vec![0u8; job.out_len];
        let result = if job.block_count <= owasp().block_count() {
            if blocks.is_empty() {
                blocks = vec![Block::new(); owasp().block_count()];
                BUFFERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            job.argon.hash_password_into_with_memory(
                &job.password,
                &job.salt,
                &mut out,
                &mut blocks[..job.block_count],
            )
        } else {
            // A stored hash made with more memory than OWASP's: memory of its own, freed after.
            job.argon.hash_password_into_with_memory(
                &job.password,
                &job.salt,
                &mut out,
                vec![Block::new(); job.block_count],
            )
        };
        let _ = job.reply.send(
            result
                .map(|()| out)
                .map_err(|e| PasswordError::Hash(e.to_string())),
        );
    }
}

/// argon2 of `password` and `salt` on one of the hashing threads; `Busy` when none came free
/// within [`MAX_WAIT`].
fn argon2_hash(
    argon: Argon2<'static>,
    block_count: usize,
    password: &[u8],
    salt: &[u8],
    out_len: usize,
) -> Result<Vec<u8>, PasswordError> {
    let (reply, answer) = mpsc::sync_channel(1);
    let job = Job {
        argon,
        block_count,
        password: password.to_vec(),
        salt: salt.to_vec(),
        out_len,
        queued: Instant::now(),
        reply,
    };
    hashing_threads()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| PasswordError::Hash("the hashing threads are gone".into()))?;
    // The thread answers Busy itself for a job that waited too long; this bound is for a
    // thread that never answers at all.
    answer
        .recv_timeout(MAX_WAIT * 3)
        .unwrap_or(Err(PasswordError::Busy))
}

pub fn hash(password: &str) -> Result<String, PasswordError> {
    validate_new(password)?;
    let params = owasp();
    let salt: [u8; SALT_BYTES] = rand::random();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let out = argon2_hash(
        argon,
        params.block_count(),
        password.as_bytes(),
        &salt,
        Params::DEFAULT_OUTPUT_LEN,
    )?;
    let bad = |e: argon2::password_hash::phc::Error| PasswordError::Hash(e.to_string());
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| PasswordError::Hash(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(bad)?),
        hash: Some(Output::new(&out).map_err(bad)?),
    }
    .to_string())
}

/// Verifies against a stored PHC string. `None` for the hash (unknown user) still runs a full
/// argon2 verification against a fixed hash, so both failures cost the same time. `Busy` when
/// no buffer came free within [`MAX_WAIT`].
pub fn check(password: &str, stored: Option<&str>) -> Result<bool, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let (phc, real) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Some((argon, params, salt, expected)) = parse(phc) else {
        return Ok(false);
    };
    let out = argon2_hash(
        argon,
        params.block_count(),
        password.as_bytes(),
        &salt,
        expected.len(),
    )?;
    let same: bool = out.as_slice().ct_eq(expected.as_slice()).into();
    Ok(same && real)
}

/// `check`, with a busy pool counted as a failure (for callers that cannot answer "later").
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    check(password, stored).unwrap_or(false)
}

/// A stored PHC string's algorithm, parameters, salt and hash.
fn parse(phc: &str) -> Option<(Argon2<'static>, Params, Vec<u8>, Vec<u8>)> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let salt = parsed.salt.as_ref()?.as_ref().to_vec();
    let expected = parsed.hash.as_ref()?.as_bytes().to_vec();
    Some((
        Argon2::new(algorithm, version, params.clone()),
        params,
        salt,
        expected,
    ))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("streamd-no-such-user-placeholder").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("wrong horse!", Some(&h)));
        assert_ne!(h, hash("correct horse").expect("hash"), "salted");
    }

    #[test]
    fn unknown_user_never_verifies() {
        assert!(!verify("streamd-no-such-user-placeholder", None));
        assert!(!verify("anything", Some("not a phc string")));
    }

    #[test]
    fn hashes_from_the_argon2_crate_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let theirs = Argon2::default()
            .hash_password(b"correct horse")
            .expect("hash")
            .to_string();
        assert!(verify("correct horse", Some(&theirs)));
        assert!(!verify("wrong horse!", Some(&theirs)));
        // Our hashes verify with the crate's own verifier too.
        use argon2::password_hash::PasswordVerifier;
        let ours = hash("correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn concurrent_hashes_never_exceed_the_pool() {
        let threads: Vec<_> = (0..pool_size() * 3)
            .map(|_| std::thread::spawn(|| hash("correct horse").expect("hash")))
            .collect();
        for t in threads {
            assert!(t.join().expect("thread").starts_with("$argon2id$"));
        }
        let buffers = BUFFERS.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=pool_size()).contains(&buffers), "{buffers} buffers");
    }

    #[test]
    fn length_limits() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hash(&long), Err(PasswordError::TooLong)));
        assert!(!verify(&long, None));
    }
}

//! argon2id password hashing with OWASP's parameters (m=19456 KiB, t=2, p=1), on a fixed pool
//! of argon2 memory.
//!
//! Each hash needs 19 MiB. Allocated per call, that memory stays with the allocator after a
//! login storm (20 sign-ins took a fresh server from 10 MB to 186 MB and it never came back),
//! and a storm of parallel logins would run as many 19 MiB hashes at once as it has threads,
//! starving segment serving of CPU. So hashes lease one of [`pool_size`] buffers (one per core,
//! allocated on first use and kept), wait at most [`MAX_WAIT`] for one, and give it back.

use std::sync::{Condvar, Mutex, OnceLock};
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

/// How many hashes may run at once: one per core, so a storm queues instead of competing.
pub fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

struct MemoryPool {
    free: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    buffers: Vec<Vec<Block>>,
    /// Buffers that exist, free or leased; never more than `pool_size()`.
    made: usize,
}

fn pool() -> &'static MemoryPool {
    static POOL: OnceLock<MemoryPool> = OnceLock::new();
    POOL.get_or_init(|| MemoryPool {
        free: Mutex::new(PoolState {
            buffers: Vec::new(),
            made: 0,
        }),
        returned: Condvar::new(),
    })
}

/// One leased buffer, back in the pool when dropped.
struct Lease {
    blocks: Vec<Block>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let p = pool();
        let mut state = p.free.lock().unwrap_or_else(|e| e.into_inner());
        state.buffers.push(std::mem::take(&mut self.blocks));
        p.returned.notify_one();
    }
}

fn lease() -> Result<Lease, PasswordError> {
    let p = pool();
    let deadline = Instant::now() + MAX_WAIT;
    let mut state = p.free.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(blocks) = state.buffers.pop() {
            return Ok(Lease { blocks });
        }
        if state.made < pool_size() {
            state.made += 1;
            drop(state);
            return Ok(Lease {
                blocks: vec![Block::new(); owasp().block_count()],
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PasswordError::Busy);
        }
        state = p
            .returned
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// argon2 into `out`, in pooled memory (or, for a stored hash made with more memory than
/// OWASP's, in memory of its own size, freed afterwards).
fn argon2_into(
    argon: &Argon2,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), PasswordError> {
    let mut lease = lease()?;
    let needed = params.block_count();
    let result = if needed <= lease.blocks.len() {
        argon.hash_password_into_with_memory(password, salt, out, &mut lease.blocks[..needed])
    } else {
        argon.hash_password_into_with_memory(password, salt, out, vec![Block::new(); needed])
    };
    result.map_err(|e| PasswordError::Hash(e.to_string()))
}

pub fn hash(password: &str) -> Result<String, PasswordError> {
    validate_new(password)?;
    let params = owasp();
    let salt: [u8; SALT_BYTES] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2_into(&argon, &params, password.as_bytes(), &salt, &mut out)?;
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
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, &params, password.as_bytes(), &salt, &mut out)?;
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
        // Other tests hash at the same time; none of them may push the pool past its size.
        let state = pool().free.lock().expect("pool");
        assert!(state.made <= pool_size(), "{} buffers", state.made);
        assert!(state.buffers.len() <= state.made);
    }

    #[test]
    fn length_limits() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hash(&long), Err(PasswordError::TooLong)));
        assert!(!verify(&long, None));
    }
}

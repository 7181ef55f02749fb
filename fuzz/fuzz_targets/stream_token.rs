//! The stream-token parser (`StreamTokens::verify`), on arbitrary strings.
//!
//! Input: lines `TOKEN\nUSER\nEXPIRES\nSCOPE`; the last three are optional (SCOPE `master`, or
//! empty, is the master playlist; anything else a rendition). Keys: `k1` signs, `k0` is an
//! older key that still verifies, as after a rotation. The seeds are real tokens signed by them.
//!
//! Properties:
//! - `verify` never panics.
//! - Tokens are canonical: a string `verify` accepts is byte-identical to the token `sign`
//!   writes for that user and expiry with the key it names. (One grant, one spelling: caches,
//!   logs and revocation lists key by the string.)
//! - A token from `sign` verifies, as its user, until its expiry.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use streamd::auth::stream_token::{Scope, StreamTokens, TokenError};
use streamd::ids::{MovieId, Username};
use streamd::secrets::HmacKey;
use streamd::store::Timestamp;

/// 2027-01-15T08:00:00Z: seeds expire after it.
const NOW: i64 = 1_800_000_000;

fn key(id: &str, byte: u8) -> HmacKey {
    HmacKey {
        id: id.into(),
        key: vec![byte; 32],
    }
}

struct Fixture {
    /// Both keys, newest first, as the server holds them after a rotation.
    all: StreamTokens,
    /// One per key, to ask what `sign` writes with that key.
    by_id: Vec<(&'static str, StreamTokens)>,
    movie: MovieId,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        all: StreamTokens::new(vec![key("k1", 1), key("k0", 0)]),
        by_id: vec![
            ("k1", StreamTokens::new(vec![key("k1", 1)])),
            ("k0", StreamTokens::new(vec![key("k0", 0)])),
        ],
        movie: MovieId::parse("movie1").expect("movie id"),
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.splitn(4, '\n');
    let token = fields.next().unwrap_or("");
    let user = fields.next().unwrap_or("");
    let expires = fields.next().unwrap_or("");
    let scope = match fields.next().unwrap_or("") {
        "" | "master" => Scope::Master,
        rendition => Scope::Rendition(rendition),
    };
    let f = fixture();

    // Arbitrary strings; whatever verifies is exactly what `sign` wrote.
    if let Ok(who) = f.all.verify(token, &f.movie, scope, Timestamp(NOW)) {
        let mut parts = token.split('.');
        let kid = parts.next().unwrap_or("");
        let exp: i64 = parts
            .next()
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("{token:?} verified without a readable expiry"));
        let signer = f
            .by_id
            .iter()
            .find(|(id, _)| *id == kid)
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("{token:?} verified with no key named {kid:?}"));
        let canonical = signer.sign(&who, &f.movie, scope, Timestamp(exp));
        assert_eq!(
            token, canonical,
            "a second spelling of a token verifies (user {who:?}, expiry {exp})"
        );
        assert!(NOW < exp, "{token:?} verified after its expiry");
    }

    // What `sign` writes verifies, until it expires.
    let (Ok(user), Ok(exp)) = (Username::parse(user), expires.parse::<i64>()) else {
        return;
    };
    if exp < 0 {
        // Before 1970: no real token has one.
        return;
    }
    let t = f.all.sign(&user, &f.movie, scope, Timestamp(exp));
    assert_eq!(
        f.all.verify(&t, &f.movie, scope, Timestamp(exp - 1)),
        Ok(user.clone()),
        "{t:?}"
    );
    assert_eq!(
        f.all.verify(&t, &f.movie, scope, Timestamp(exp)),
        Err(TokenError::Expired),
        "{t:?}"
    );
});

//! The `/s3/{bucket}/{key}` decoder (`bucket_and_key` in src/web/s3.rs) sits in a private module
//! of the library, so no other crate can call it. This copies the function's source text,
//! verbatim, into the build of the `s3_key_decoder` target, where it is compiled against the
//! library's own `S3Error` and `percent_decode`: the fuzzer runs exactly the code the server
//! runs, and any change to it is picked up by the next build. If the function moves or changes
//! shape the build fails here, loudly, rather than fuzzing a stale copy.

use std::path::PathBuf;

const SOURCE: &str = "../src/web/s3.rs";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let text = std::fs::read_to_string(SOURCE).expect("read src/web/s3.rs");
    let start = text
        .lines()
        .position(|l| {
            let l = l
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            l.starts_with("fn bucket_and_key(")
        })
        .expect("src/web/s3.rs no longer defines `fn bucket_and_key(` at the top level");
    let mut body = Vec::new();
    for line in text.lines().skip(start) {
        body.push(line);
        if line == "}" {
            break;
        }
    }
    assert_eq!(
        body.last(),
        Some(&"}"),
        "cannot find the end of bucket_and_key in src/web/s3.rs"
    );
    let first = body[0]
        .trim_start_matches("pub ")
        .trim_start_matches("pub(crate) ");
    let mut out = format!("pub {first}\n");
    for line in &body[1..] {
        out.push_str(line);
        out.push('\n');
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("bucket_and_key.rs");
    std::fs::write(dest, out).expect("write bucket_and_key.rs");
}

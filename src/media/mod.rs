//! The object store that holds published ladders (CONTRACT.md section 4 keys). The built-in
//! backend is the local disk under `<data_dir>/objects/<bucket>/`.

pub mod local;

pub use local::LocalMedia;

use crate::store::MovieId;

/// `movies/{id}`: the prefix every object of a movie lives under.
pub fn movie_prefix(id: &MovieId) -> String {
    format!("movies/{id}")
}

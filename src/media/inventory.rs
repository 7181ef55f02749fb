//! What a published movie's objects are, recorded when it is published or changed, so that
//! `streamd check` can tell a store that lost or cut objects (a failed disk, a partial rsync,
//! an S3 lifecycle rule) from a whole one. The object `inventory.json` beside the ladder names
//! every object with its size; the movie's record keeps the totals and that file's own size.

use serde::{Deserialize, Serialize};

use super::{Media, MediaError, movie_prefix};
use crate::ids::MovieId;
use crate::store::Inventory;

/// The manifest's object name under `movies/{id}/`.
pub const MANIFEST: &str = "inventory.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Object names below `movies/{id}/` and their sizes in bytes, sorted by name.
    pub objects: Vec<(String, u64)>,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Option<Manifest> {
        serde_json::from_slice(bytes).ok()
    }
}

impl Media {
    /// Lists what the store holds for a movie now, writes it down as `inventory.json` and
    /// answers the totals for the movie's record. Blocking.
    pub fn take_inventory(&self, id: &MovieId) -> Result<Inventory, MediaError> {
        let mut objects = self.objects().list(&movie_prefix(id))?;
        objects.retain(|(name, _)| name != MANIFEST);
        let totals = Inventory {
            objects: objects.len() as u64,
            bytes: objects.iter().map(|(_, size)| size).sum(),
            manifest_bytes: 0,
        };
        let manifest =
            serde_json::to_vec(&Manifest { objects }).map_err(|e| MediaError::Io(e.to_string()))?;
        self.replace_object(id, MANIFEST, &manifest)?;
        Ok(Inventory {
            manifest_bytes: manifest.len() as u64,
            ..totals
        })
    }
}

//! Admin movie management over HTTP: multipart upload streamed to disk (never held in memory,
//! cut off at `transcode.max_upload`), and deletion that stops a running transcode first.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::viewer;
use super::{ApiError, AppState};
use crate::store::{MovieId, Tier};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/movies", web::post().to(upload))
        .route("/movies/{id}", web::delete().to(delete))
        .route("/movies/{id}/subtitles", web::post().to(add_subtitle))
        .route(
            "/movies/{id}/subtitles/{lang}",
            web::delete().to(remove_subtitle),
        );
}

/// A state-changing call carrying a cookie must come from our own pages: SameSite=Lax already
/// keeps cross-site POSTs cookie-less, and a foreign Origin is refused outright.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = req.connection_info().host().to_string();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&host))
}

const MAX_TEXT_FIELD: usize = 1024;
/// How far past the limit an upload is read (and dropped) to answer 413 cleanly.
const DRAIN_MARGIN: u64 = 256 * 1024 * 1024;

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "the file is larger than the {} upload limit (transcode.max_upload)",
        bytesize::ByteSize(limit).display().iec()
    ))
}

async fn text_field(field: &mut actix_multipart::Field) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT_FIELD {
            return Err(ApiError::BadRequest("form field too long".into()));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest("form field is not UTF-8".into()))
}

/// Removes a partial upload however the handler ends.
struct PartialFile(Option<std::path::PathBuf>);

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Streams a multipart file field to `path`, keeping at most `limit` bytes; returns how many
/// were sent (more than `limit` means the file was too large and is incomplete).
async fn save_file(
    field: &mut actix_multipart::Field,
    path: &std::path::Path,
    limit: u64,
) -> Result<u64, ApiError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| ApiError::write_failed("saving the upload failed", e))?;
    let mut size: u64 = 0;
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            // Read on (without keeping it) so the client gets a clean 413 rather than a reset
            // connection; past a margin, hang up anyway.
            if size > limit.saturating_add(DRAIN_MARGIN) {
                return Err(too_large(limit));
            }
            continue;
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::write_failed("writing the upload failed", e))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::write_failed("writing the upload failed", e))?;
    Ok(size)
}

/// How much of a refused upload's body is read and dropped so the client sees the answer: a
/// server that closes with unread bytes makes the kernel reset the connection, and a client
/// still sending gets "broken pipe" instead of the 403 or 400.
const REFUSED_DRAIN: u64 = 16 * 1024 * 1024;
const REFUSED_DRAIN_TIME: Duration = Duration::from_secs(5);

async fn drain(payload: &mut Multipart) {
    let mut read: u64 = 0;
    let _ = actix_web::rt::time::timeout(REFUSED_DRAIN_TIME, async {
        while let Some(Ok(mut field)) = payload.next().await {
            while let Some(Ok(chunk)) = field.next().await {
                read += chunk.len() as u64;
                if read > REFUSED_DRAIN {
                    return;
                }
            }
        }
    })
    .await;
}

async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let result = receive_upload(&req, &state, &mut payload).await;
    if result.is_err() && is_multipart(&req) {
        drain(&mut payload).await;
    }
    result
}

/// Whether actix-multipart can read this body at all. A reader built from any other request
/// answers its first poll with the error and panics on the next, so such a body is not drained
/// here; the connection layer drains it after the answer (`connection::linger`).
fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == actix_web::mime::MULTIPART
                && m.get_param(actix_web::mime::BOUNDARY).is_some()
        })
}

async fn receive_upload(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    payload: &mut Multipart,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(req, state).await?;
    if !same_origin(req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let limit = state.config.transcode.max_upload;
    let dir = state.config.server.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    let path = dir.join(format!("{}.upload", MovieId::generate()));
    let mut partial = PartialFile(Some(path.clone()));

    let (mut title, mut tier, mut got_file, mut too_big) = (None, Tier::Free, false, false);
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|e| ApiError::BadRequest(format!("bad multipart body: {e}")))?;
        match field.name().unwrap_or("") {
            "file" if !got_file => {
                let size = save_file(&mut field, &path, limit).await?;
                if size > limit {
                    too_big = true;
                    continue;
                }
                got_file = size > 0;
                if !got_file {
                    return Err(ApiError::BadRequest("the uploaded file is empty".into()));
                }
            }
            "title" => title = Some(text_field(&mut field).await?),
            "tier" => {
                tier = text_field(&mut field)
                    .await?
                    .parse()
                    .map_err(ApiError::BadRequest)?
            }
            _ => {
                // Unknown fields are read and dropped.
                while let Some(chunk) = field.next().await {
                    chunk.map_err(|e| ApiError::BadRequest(format!("bad multipart body: {e}")))?;
                }
            }
        }
    }
    if too_big {
        return Err(too_large(limit));
    }
    if !got_file {
        return Err(ApiError::BadRequest("no `file` field in the upload".into()));
    }
    let title =
        title.ok_or_else(|| ApiError::BadRequest("no `title` field in the upload".into()))?;
    let store = state.store.clone();
    let source = path.clone();
    let movie = web::block(move || {
        crate::ingest::enqueue(
            &store,
            &source,
            crate::ingest::NewMovie {
                title,
                tier,
                remove_source: true,
                ..Default::default()
            },
        )
    })
    .await?
    .map_err(|e| match e {
        crate::ingest::IngestError::Store(e) => ApiError::from(e),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    partial.0 = None; // the job owns the file now
    state.workers.notify();
    tracing::info!(movie_id = %movie.id, "upload queued");
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "id": movie.id,
        "status": "queued",
    })))
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let id = MovieId::parse(&id).map_err(|_| ApiError::NotFound("no such movie".into()))?;
    match delete_movie(&state, id).await? {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(ApiError::NotFound("no such movie".into())),
    }
}

/// Stops the movie's transcode if one runs (its ffmpeg is killed), then removes the movie, its
/// job, grants, resume positions and objects. Returns its title, or `None` if it was gone.
pub async fn delete_movie(
    state: &web::Data<AppState>,
    id: MovieId,
) -> Result<Option<String>, ApiError> {
    if state.workers.cancel(&id) {
        // Wait for the worker to let go of the staging dir.
        for _ in 0..200 {
            if !state.workers.is_running(&id) {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let ingester = state.ingester.clone();
    state.variants.forget_movie(id.as_str());
    let removed = web::block(move || ingester.delete(&id))
        .await?
        .map_err(ApiError::internal)?;
    if let Some(movie) = &removed {
        tracing::info!(movie_id = %movie.id, "movie deleted");
    }
    Ok(removed.map(|m| m.title))
}

/// A multipart form with one `file`, saved under `uploads/` (removed when the form is dropped),
/// and its short text fields.
pub struct FileForm {
    pub path: std::path::PathBuf,
    pub fields: std::collections::HashMap<String, String>,
    _file: PartialFile,
}

impl FileForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Reads a form with one `file` of at most `limit` bytes; `extension` names the saved file from
/// the name the browser sent (or refuses it).
pub async fn read_file_form(
    state: &AppState,
    mut payload: Multipart,
    limit: u64,
    extension: impl Fn(Option<&str>) -> Result<String, ApiError>,
) -> Result<FileForm, ApiError> {
    let dir = state.config.server.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    let mut partial = PartialFile(None);
    let mut fields = std::collections::HashMap::new();
    while let Some(field) = payload.next().await {
        let mut field =
            field.map_err(|e| ApiError::BadRequest(format!("bad multipart body: {e}")))?;
        let name = field.name().unwrap_or("").to_string();
        if name == "file" && partial.0.is_none() {
            let ext = extension(field.content_disposition().and_then(|d| d.get_filename()))?;
            let path = dir.join(format!("{}.{ext}", MovieId::generate()));
            partial.0 = Some(path.clone());
            let size = save_file(&mut field, &path, limit).await?;
            if size > limit {
                return Err(too_large(limit));
            }
            if size == 0 {
                return Err(ApiError::BadRequest("the uploaded file is empty".into()));
            }
        } else if fields.len() < 16 && name != "file" && !fields.contains_key(&name) {
            let value = text_field(&mut field).await?;
            fields.insert(name, value);
        } else {
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| ApiError::BadRequest(format!("bad multipart body: {e}")))?;
            }
        }
    }
    let path = partial
        .0
        .clone()
        .ok_or_else(|| ApiError::BadRequest("no `file` field in the upload".into()))?;
    Ok(FileForm {
        path,
        fields,
        _file: partial,
    })
}

/// A subtitle upload: the file saved under `uploads/`, and the form's other fields.
pub struct SubtitleForm {
    pub sidecar: crate::store::Sidecar,
    /// The movie, when the form names it (the admin page's form does; the API has it in the
    /// path).
    pub movie: Option<String>,
    pub csrf: Option<String>,
    /// Removes the saved file when the form is dropped.
    _form: FileForm,
}

/// Reads a multipart subtitle form: `file` (.srt, .vtt, .ass, .ssa; a subtitle's size),
/// `lang`, and optional `name`, `forced`, `movie`, `csrf`.
pub async fn read_subtitle_form(
    state: &AppState,
    payload: Multipart,
) -> Result<SubtitleForm, ApiError> {
    let limit = crate::ingest::subtitles::MAX_BYTES as u64;
    let form = read_file_form(state, payload, limit, |name| {
        // The extension tells ffmpeg how to read it.
        name.and_then(|f| f.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()))
            .filter(|e| crate::ingest::subtitles::SIDECAR_EXTENSIONS.contains(&e.as_str()))
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "the subtitle file must be named .srt, .vtt, .ass or .ssa".into(),
                )
            })
    })
    .await?;
    let lang = form
        .field("lang")
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ApiError::BadRequest("no `lang` field (e.g. en, fr, pt-BR)".into()))?;
    Ok(SubtitleForm {
        sidecar: crate::store::Sidecar {
            path: form.path.clone(),
            lang: Some(lang),
            name: form
                .field("name")
                .filter(|n| !n.trim().is_empty())
                .map(String::from),
            forced: matches!(
                form.field("forced").map(str::trim),
                Some("1" | "true" | "on" | "yes")
            ),
            found_beside: false,
        },
        movie: form.field("movie").map(String::from),
        csrf: form.field("csrf").map(String::from),
        _form: form,
    })
}

/// Adds the uploaded subtitle to a ready movie (blocking work on the pool) and forgets the
/// movie's cached playlists.
pub async fn attach_subtitle(
    state: &web::Data<AppState>,
    id: MovieId,
    form: &SubtitleForm,
) -> Result<crate::store::Movie, ApiError> {
    let ingester = state.ingester.clone();
    let sidecar = form.sidecar.clone();
    let movie_id = id.clone();
    let movie = web::block(move || ingester.add_subtitle(&movie_id, sidecar))
        .await?
        .map_err(subtitle_error)?;
    state.variants.forget_movie(id.as_str());
    Ok(movie)
}

/// `POST /api/v1/movies/{id}/subtitles` (admin, multipart `file`, `lang`, optional `name` and
/// `forced`): one more WebVTT rendition for a ready movie, nothing re-encoded.
async fn add_subtitle(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let id = MovieId::parse(&id).map_err(|_| ApiError::NotFound("no such movie".into()))?;
    let form = read_subtitle_form(&state, payload).await?;
    let movie = attach_subtitle(&state, id, &form).await?;
    Ok(HttpResponse::Created().json(crate::manage::MovieView::from(&movie)))
}

/// `DELETE /api/v1/movies/{id}/subtitles/{lang}` (admin).
async fn remove_subtitle(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let (id, lang) = path.into_inner();
    let id = MovieId::parse(&id).map_err(|_| ApiError::NotFound("no such movie".into()))?;
    let ingester = state.ingester.clone();
    let movie_id = id.clone();
    web::block(move || ingester.remove_subtitle(&movie_id, &lang))
        .await?
        .map_err(subtitle_error)?;
    state.variants.forget_movie(id.as_str());
    Ok(HttpResponse::NoContent().finish())
}

pub fn subtitle_error(e: crate::ingest::IngestError) -> ApiError {
    use crate::ingest::IngestError;
    match e {
        IngestError::Store(e) => ApiError::from(e),
        e @ (IngestError::NotReady(_) | IngestError::NoSuchSubtitle(_)) => {
            ApiError::NotFound(e.to_string())
        }
        IngestError::Publish(e) => ApiError::internal(e),
        other => ApiError::BadRequest(other.to_string()),
    }
}

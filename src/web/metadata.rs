//! `PATCH /api/v1/movies/{id}` (admins): title, year, description, tier. The same command as
//! `streamd movie edit` and the admin page, so one place checks an edit. And
//! `POST /api/v1/movies/{id}/poster`: a poster picked by hand.

use actix_web::{HttpRequest, HttpResponse, web};

use super::upload::{FileForm, read_file_form, same_origin};
use super::{ApiError, AppState, viewer};
use crate::ingest::IngestError;
use crate::manage::{self, Command, Outcome};
use crate::store::{MovieEdit, MovieId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/movies/{id}", web::patch().to(patch))
        .route("/movies/{id}/poster", web::post().to(poster));
}

/// A poster is a picture, not a film: a generous bound for a large PNG.
const MAX_POSTER_BYTES: u64 = 20 * 1024 * 1024;

/// Reads a poster form (`file`, and a `csrf` field on the admin page's form).
pub async fn read_poster_form(
    state: &AppState,
    payload: actix_multipart::Multipart,
) -> Result<FileForm, ApiError> {
    // The picture's own first bytes say what it is (`ingest::poster`), not its name.
    read_file_form(state, payload, MAX_POSTER_BYTES, |_| Ok("upload".into())).await
}

/// Makes the uploaded picture the poster of a ready movie.
pub async fn apply_poster(
    state: &AppState,
    id: &str,
    form: &FileForm,
) -> Result<crate::store::Movie, ApiError> {
    let id = MovieId::parse(id).map_err(|_| ApiError::NotFound("no such movie".into()))?;
    let ingester = state.ingester.clone();
    let upload = form.path.clone();
    web::block(move || ingester.set_poster(&id, &upload))
        .await?
        .map_err(|e| match e {
            IngestError::Store(e) => ApiError::from(e),
            IngestError::NotReady(_) => {
                ApiError::NotFound("no such movie, or it is not ready yet".into())
            }
            e @ IngestError::BadPoster(_) => ApiError::BadRequest(e.to_string()),
            other => ApiError::internal(other),
        })
}

async fn poster(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: actix_multipart::Multipart,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let form = read_poster_form(&state, payload).await?;
    let movie = apply_poster(&state, &id, &form).await?;
    Ok(HttpResponse::Ok().json(crate::manage::MovieView::from(&movie)))
}

async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    edit: web::Json<MovieEdit>,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let command = Command::MovieEdit {
        id: id.into_inner(),
        edit: edit.into_inner(),
    };
    let ingester = state.ingester.clone();
    match web::block(move || manage::execute_with(&ingester, command)).await?? {
        Outcome::Movie(movie) => Ok(HttpResponse::Ok().json(*movie)),
        _ => Err(ApiError::internal("an edit answered something else")),
    }
}

//! `PATCH /api/v1/movies/{id}` (admins): title, year, description, tier. The same command as
//! `streamd movie edit` and the admin page, so one place checks an edit.

use actix_web::{HttpRequest, HttpResponse, web};

use super::upload::same_origin;
use super::{ApiError, AppState, viewer};
use crate::manage::{self, Command, Outcome};
use crate::store::MovieEdit;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/movies/{id}", web::patch().to(patch));
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

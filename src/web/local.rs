//! The loopback endpoint the CLI uses while `serve` holds the database: the same commands,
//! run by the same code, authenticated by the admin secret in the data dir.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::manage::{self, Command, Outcome};
use crate::store::MovieId;

pub const CLI_PATH: &str = "/api/v1/local/cli";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/local/cli", web::post().to(run_command));
}

fn authorised(req: &HttpRequest, state: &AppState) -> bool {
    let from_loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = state.secrets.admin_secret.as_bytes();
    from_loopback && bool::from(presented.as_bytes().ct_eq(expected))
}

async fn run_command(
    req: HttpRequest,
    state: web::Data<AppState>,
    command: web::Json<Command>,
) -> Result<HttpResponse, ApiError> {
    if !authorised(&req, &state) {
        return Err(ApiError::Forbidden(
            "the local admin endpoint takes the data dir's admin secret, from loopback",
        ));
    }
    let command = command.into_inner();
    // A running server stops the movie's encode first, as the API and the admin page do.
    if let Command::MovieDelete { id } = &command {
        let title = match MovieId::parse(id) {
            Ok(id) => crate::web::upload::delete_movie(&state, id).await?,
            Err(_) => None,
        };
        return match title {
            Some(title) => Ok(HttpResponse::Ok().json(Outcome::Done {
                message: format!("deleted {title:?} ({id}) and its objects"),
            })),
            None => Err(ApiError::NotFound(format!("no movie with id {id}"))),
        };
    }
    let queues_a_job = matches!(command, Command::Ingest { .. });
    let changed_movie = match &command {
        Command::SubtitleAdd { movie, .. } | Command::SubtitleRemove { movie, .. } => {
            Some(movie.clone())
        }
        _ => None,
    };
    let ingester = state.ingester.clone();
    let outcome = web::block(move || manage::execute_with(&ingester, command)).await??;
    if let Some(movie) = changed_movie {
        state.variants.forget_movie(&movie);
    }
    if queues_a_job {
        state.workers.notify();
    }
    Ok(HttpResponse::Ok().json(outcome))
}

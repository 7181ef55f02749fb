//! `/admin`: upload (with upload and transcode progress, driven by admin.js), the job list with
//! errors, users (add, plan, password), per-movie grants, and deleting a movie. Every form
//! carries a CSRF token and answers with a redirect (so a reload never re-submits).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{CsrfForm, Nav, csrf_ok, nav, render, see_other};
use crate::manage::{self, Command, MovieView, Outcome, UserView};
use crate::store::{MovieId, Tier};
use crate::web::viewer;
use crate::web::{ApiError, AppState, PageError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(page))
        .route("/admin/users", web::post().to(add_user))
        .route("/admin/users/{name}/plan", web::post().to(set_plan))
        .route("/admin/users/{name}/password", web::post().to(set_password))
        .route("/admin/users/{name}/{action}", web::post().to(account))
        .route("/admin/grants", web::post().to(grant))
        .route("/admin/grants/revoke", web::post().to(revoke))
        .route("/admin/movies/{id}/delete", web::post().to(delete_movie))
        .route("/admin/movies/{id}/edit", web::post().to(edit_movie))
        .route("/admin/movies/{id}/poster", web::post().to(upload_poster))
        .route("/admin/subtitles", web::post().to(add_subtitle))
        .route(
            "/admin/movies/{id}/subtitles/{lang}/remove",
            web::post().to(remove_subtitle),
        );
}

pub struct GrantRow {
    pub user: String,
    pub movie: String,
    pub title: String,
    pub until: Option<String>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    ok: Option<String>,
    error: Option<String>,
    users: Vec<UserView>,
    movies: Vec<MovieView>,
    grants: Vec<GrantRow>,
    /// Every user's sign-in sessions and playbacks.
    sessions: crate::web::playback::Sessions,
    everyone: bool,
}

#[derive(Deserialize)]
struct Flash {
    ok: Option<String>,
    error: Option<String>,
}

async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    flash: web::Query<Flash>,
) -> Result<HttpResponse, PageError> {
    let viewer = viewer::require_admin(&req, &state).await?;
    let store = state.store.clone();
    let (users, movies, grants) = web::block(move || {
        Ok::<_, crate::store::StoreError>((
            store.list_users()?,
            store.list_movies()?,
            store.all_grants()?,
        ))
    })
    .await??;
    let grants = grants
        .into_iter()
        .map(|(user, movie, g)| GrantRow {
            title: movies
                .iter()
                .find(|m| m.id.as_str() == movie)
                .map(|m| m.title.clone())
                .unwrap_or_default(),
            user,
            movie,
            until: g.until.map(|t| t.to_rfc3339()),
        })
        .collect();
    let sessions = crate::web::playback::sessions_of(&state, &viewer, true).await?;
    let (nav, cookie) = nav(&req, &state, Some(&viewer));
    let flash = flash.into_inner();
    let page = AdminPage {
        nav,
        ok: flash.ok,
        error: flash.error,
        users: users.iter().map(|(u, p)| UserView::new(u, p)).collect(),
        movies: movies.iter().map(MovieView::from).collect(),
        grants,
        sessions,
        everyone: true,
    };
    render(&page, StatusCode::OK, cookie)
}

fn back(key: &str, message: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([(key, message)]).unwrap_or_default();
    see_other(&format!("/admin?{query}"))
}

/// Checks the admin and the form's token, runs one operator command, and redirects back with
/// what happened.
async fn run(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    csrf: &str,
    command: Command,
) -> Result<HttpResponse, PageError> {
    viewer::require_admin(req, state).await?;
    if !csrf_ok(req, state, csrf) {
        return Err(
            ApiError::Forbidden("the form had expired; reload the page and try again").into(),
        );
    }
    let ingester = state.ingester.clone();
    let changed = match &command {
        Command::SubtitleRemove { movie, .. } => Some(movie.clone()),
        _ => None,
    };
    let outcome = web::block(move || manage::execute_with(&ingester, command)).await?;
    if let Some(movie) = changed {
        state.variants.forget_movie(&movie);
    }
    Ok(match outcome {
        Ok(Outcome::Done { message }) => back("ok", &message),
        Ok(Outcome::Movie(m)) => back("ok", &format!("saved {:?}", m.title)),
        Ok(_) => back("ok", "done"),
        Err(manage::ManageError::Store(e)) => return Err(ApiError::from(e).into()),
        Err(e) => back("error", &e.to_string()),
    })
}

/// `<input type="date">` gives `2027-01-31`; the command wants RFC 3339.
fn until(date: Option<String>) -> Option<String> {
    date.filter(|d| !d.trim().is_empty()).map(|d| {
        if d.contains('T') {
            d
        } else {
            format!("{d}T00:00:00Z")
        }
    })
}

#[derive(Deserialize)]
struct UserForm {
    csrf: String,
    name: String,
    password: String,
    plan: Tier,
    admin: Option<String>,
}

async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let command = Command::UserAdd {
        name: f.name,
        admin: f.admin.is_some(),
        plan: f.plan,
        password: f.password,
    };
    run(&req, &state, &f.csrf, command).await
}

#[derive(Deserialize)]
struct PlanForm {
    csrf: String,
    tier: Tier,
    until: Option<String>,
    /// Empty keeps the user's screens as they are.
    #[serde(default)]
    screens: String,
}

async fn set_plan(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<PlanForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let command = Command::UserPlan {
        name: name.into_inner(),
        tier: f.tier,
        until: until(f.until),
        screens: f.screens.trim().parse().ok(),
    };
    run(&req, &state, &f.csrf, command).await
}

/// Remove, disable or enable a user.
async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let (name, action) = path.into_inner();
    let command = match action.as_str() {
        "remove" => Command::UserRemove { name },
        "disable" => Command::UserDisable {
            name,
            disabled: true,
        },
        "enable" => Command::UserDisable {
            name,
            disabled: false,
        },
        _ => return Err(ApiError::NotFound("no such page".into()).into()),
    };
    run(&req, &state, &form.csrf, command).await
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    password: String,
}

async fn set_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let command = Command::UserPasswd {
        name: name.into_inner(),
        password: f.password,
    };
    run(&req, &state, &f.csrf, command).await
}

#[derive(Deserialize)]
struct GrantForm {
    csrf: String,
    user: String,
    movie: String,
    until: Option<String>,
}

async fn grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<GrantForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let command = Command::Grant {
        name: f.user,
        movie: f.movie,
        until: until(f.until),
    };
    run(&req, &state, &f.csrf, command).await
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    user: String,
    movie: String,
}

async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let command = Command::Revoke {
        name: f.user,
        movie: f.movie,
    };
    run(&req, &state, &f.csrf, command).await
}

async fn delete_movie(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    viewer::require_admin(&req, &state).await?;
    if !csrf_ok(&req, &state, &form.csrf) {
        return Err(
            ApiError::Forbidden("the form had expired; reload the page and try again").into(),
        );
    }
    let Ok(id) = MovieId::parse(&id) else {
        return Ok(back("error", "no such movie"));
    };
    Ok(match crate::web::upload::delete_movie(&state, id).await? {
        Some(title) => back("ok", &format!("deleted {title:?} and its objects")),
        None => back("error", "that movie was already deleted"),
    })
}

/// A movie's metadata form: every field is sent, pre-filled, so an emptied year or description
/// is cleared.
#[derive(Deserialize)]
struct MovieForm {
    csrf: String,
    title: String,
    year: Option<String>,
    description: Option<String>,
    tier: Tier,
}

async fn edit_movie(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<MovieForm>,
) -> Result<HttpResponse, PageError> {
    let f = form.into_inner();
    let year = match f.year.as_deref().map(str::trim).filter(|y| !y.is_empty()) {
        None => None,
        Some(y) => match y.parse() {
            Ok(y) => Some(y),
            Err(_) => return Ok(back("error", &format!("{y:?} is not a year"))),
        },
    };
    let edit = crate::store::MovieEdit {
        title: Some(f.title),
        year: Some(year),
        description: Some(f.description.filter(|d| !d.trim().is_empty())),
        tier: Some(f.tier),
        ..Default::default()
    };
    let command = Command::MovieEdit {
        id: id.into_inner(),
        edit,
    };
    run(&req, &state, &f.csrf, command).await
}

/// The admin page's poster form (multipart, so its CSRF token is a field of the body).
async fn upload_poster(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    viewer::require_admin(&req, &state).await?;
    let form = crate::web::metadata::read_poster_form(&state, payload).await?;
    if !csrf_ok(&req, &state, form.field("csrf").unwrap_or("")) {
        return Err(
            ApiError::Forbidden("the form had expired; reload the page and try again").into(),
        );
    }
    Ok(
        match crate::web::metadata::apply_poster(&state, &id, &form).await {
            Ok(movie) => back("ok", &format!("new poster for {:?}", movie.title)),
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e).into()),
            Err(e) => back("error", &e.to_string()),
        },
    )
}

/// The admin page's subtitle form (multipart, so its CSRF token is a field of the body).
async fn add_subtitle(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: actix_multipart::Multipart,
) -> Result<HttpResponse, PageError> {
    viewer::require_admin(&req, &state).await?;
    let form = crate::web::upload::read_subtitle_form(&state, payload).await?;
    if !csrf_ok(&req, &state, form.csrf.as_deref().unwrap_or("")) {
        return Err(
            ApiError::Forbidden("the form had expired; reload the page and try again").into(),
        );
    }
    let Some(id) = form.movie.as_deref().and_then(|m| MovieId::parse(m).ok()) else {
        return Ok(back("error", "choose a movie for the subtitles"));
    };
    Ok(
        match crate::web::upload::attach_subtitle(&state, id, &form).await {
            Ok(movie) => back(
                "ok",
                &format!("added subtitles to {:?} (nothing re-encoded)", movie.title),
            ),
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e).into()),
            Err(e) => back("error", &e.to_string()),
        },
    )
}

async fn remove_subtitle(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let (movie, lang) = path.into_inner();
    run(
        &req,
        &state,
        &form.csrf,
        Command::SubtitleRemove { movie, lang },
    )
    .await
}

//! `GET /account`: the viewer's sign-in sessions and playbacks, each endable, and "sign out
//! everywhere" (contract section 10).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::web::playback::{Sessions, sessions_of};
use crate::web::{AppState, PageError, viewer};

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    plan: String,
    sessions: Sessions,
    everyone: bool,
}

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let me = viewer::require(&req, &state).await?;
    let sessions = sessions_of(&state, &me, false).await?;
    let now = crate::store::Timestamp::now();
    let screens = crate::auth::screens::screens(&me.user, &me.plan, &state.config.plans, now);
    let plan = format!(
        "{} plan{}, {}",
        me.plan.tier,
        me.plan
            .until
            .map(|t| format!(" until {}", t.to_rfc3339()))
            .unwrap_or_default(),
        match screens {
            0 => "as many screens as you like".to_string(),
            1 => "one screen at a time".to_string(),
            n => format!("{n} screens at a time"),
        }
    );
    let (nav, cookie) = nav(&req, &state, Some(&me));
    let page = AccountPage {
        nav,
        plan,
        sessions,
        everyone: false,
    };
    render(&page, StatusCode::OK, cookie)
}

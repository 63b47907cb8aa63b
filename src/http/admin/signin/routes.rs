//! The four handlers. Every refusal is a page for a person (a browser follows these routes),
//! and none of them opens a session.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::context::SignIn;
use super::session::Pending;
use super::{cookie, pages};
use crate::config::AdminSettings;
use crate::crypto::{b64url, random_bytes, sha256};
use crate::http::admin::identity::is_operator;
use crate::http::admin::paths::{CALLBACK_PATH, SIGNED_OUT_PATH, SIGNIN_PATH, SIGNOUT_PATH};
use crate::http::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(SIGNIN_PATH, web::get().to(signin))
        .route(CALLBACK_PATH, web::get().to(callback))
        .route(SIGNOUT_PATH, web::post().to(signout))
        .route(SIGNED_OUT_PATH, web::get().to(signed_out));
    let refuse = crate::http::refuse_other_methods;
    refuse(cfg, SIGNIN_PATH, &[Method::GET]);
    refuse(cfg, CALLBACK_PATH, &[Method::GET]);
    refuse(cfg, SIGNOUT_PATH, &[Method::POST]);
    refuse(cfg, SIGNED_OUT_PATH, &[Method::GET]);
}

fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"));
    res
}

fn unavailable(what: &str, e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::warn!(error = %e, "console sign-in: {what}");
    pages::refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        &format!("{what}; try again in a moment."),
    )
}

fn insecure(origin: &str) -> HttpResponse {
    pages::refused(
        StatusCode::BAD_REQUEST,
        "Sign-in needs https",
        &format!(
            "The console at {origin} is plain http off loopback, where a session cookie would \
             travel in the clear: serve it over https and set CUTOVER_CONSOLE_URL."
        ),
    )
}

/// `GET /console/signin`: a new sign-in, kept server-side, and off to the issuer.
pub async fn signin(signin: web::Data<SignIn>, req: HttpRequest) -> HttpResponse {
    let origin = signin.origin(&req);
    let Some(jar) = cookie::jar(&origin) else {
        return insecure(&origin);
    };
    let Some(authorize) = signin.idp.authorize_url(&origin) else {
        return pages::refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in not configured",
            "The console has no issuer to sign in with: set CUTOVER_OAUTH_DOMAIN (the Cognito \
             Hosted UI). The admin API still takes an operator's Bearer token.",
        );
    };
    let state = b64url(&random_bytes::<32>());
    let verifier = b64url(&random_bytes::<32>());
    let challenge = b64url(&sha256(verifier.as_bytes()));
    let redirect_uri = format!("{origin}{CALLBACK_PATH}");
    let pending = Pending {
        verifier,
        redirect_uri: redirect_uri.clone(),
    };
    if let Err(e) = signin.start(&state, &pending).await {
        return unavailable("the session store could not be written", &e);
    }
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", signin.settings.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", "openid"),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap_or_default();
    see_other(&format!("{authorize}?{query}"))
        .cookie(cookie::pending(jar, &state))
        .finish()
}

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

/// `GET /console/callback`: the state, the code, the token, the operator, the session.
pub async fn callback(
    signin: web::Data<SignIn>,
    state: web::Data<AppState>,
    admin: web::Data<AdminSettings>,
    req: HttpRequest,
    query: web::Query<CallbackParams>,
) -> HttpResponse {
    let origin = signin.origin(&req);
    let Some(jar) = cookie::jar(&origin) else {
        return insecure(&origin);
    };
    let mut res = callback_of(&signin, &state, &admin, jar, &req, &query).await;
    add_cookie(&mut res, &cookie::removal(jar, jar.pending, SameSite::Lax));
    res
}

async fn callback_of(
    signin: &SignIn,
    state: &AppState,
    admin: &AdminSettings,
    jar: cookie::Jar,
    req: &HttpRequest,
    q: &CallbackParams,
) -> HttpResponse {
    if let Some(error) = &q.error {
        let error: String = error.chars().take(64).collect();
        return pages::bad_callback(&format!("The issuer refused the sign-in ({error})."));
    }
    let (Some(code), Some(got)) = (&q.code, &q.state) else {
        return pages::bad_callback("The callback carries no code or no state.");
    };
    // The state must be the one this browser started with, and is used once.
    let bound = cookie::read(req, jar.pending);
    let same = bound.is_some_and(|b| bool::from(b.as_bytes().ct_eq(got.as_bytes())));
    if !same {
        return pages::bad_callback(
            "This sign-in was not started in this browser, or it was already used.",
        );
    }
    let pending = match signin.take_pending(got).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return pages::bad_callback("This sign-in was already used, or it expired.");
        }
        Err(e) => return unavailable("the session store could not be read", &e),
    };
    let Some(token_url) = signin.idp.token_url() else {
        return pages::bad_callback("The console has no issuer to sign in with.");
    };
    let exchange = signin
        .http
        .post(token_url)
        .header(
            header::CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded",
        )
        .body(
            serde_urlencoded::to_string([
                ("grant_type", "authorization_code"),
                ("client_id", signin.settings.client_id.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", pending.redirect_uri.as_str()),
                ("code_verifier", pending.verifier.as_str()),
            ])
            .unwrap_or_default(),
        )
        .send()
        .await;
    let answer = match exchange {
        Ok(res) if res.status().is_success() => res.json::<TokenAnswer>().await,
        Ok(res) => {
            tracing::info!(
                status = res.status().as_u16(),
                "console sign-in: code refused"
            );
            return pages::bad_callback(
                "The issuer refused the sign-in code: it was used already, it expired, or it \
                 was not issued for this sign-in.",
            );
        }
        Err(e) => return unavailable("the issuer could not be reached", &e),
    };
    let Ok(answer) = answer else {
        return pages::bad_callback("The issuer's answer held no access token.");
    };
    let bearer = format!("Bearer {}", answer.access_token);
    let token = match state.auth.bearer(bearer.as_bytes()).await {
        Ok(token) => token,
        Err(e) => {
            tracing::info!(error = %e, "console sign-in: token refused");
            return pages::bad_callback("The issuer's token was refused (or was revoked).");
        }
    };
    if !is_operator(&token, admin) {
        tracing::info!(sub = %token.sub, jti = ?token.jti, "console sign-in: not an operator");
        return pages::not_an_operator(token.sub.as_str(), &admin.group);
    }
    let sealed = match signin.open_session(&token).await {
        Ok(sealed) => sealed,
        Err(e) => return unavailable("the session store could not be written", &e),
    };
    tracing::info!(sub = %token.sub, jti = ?token.jti, "console: signed in");
    let mut res = pages::signed_in(token.sub.as_str());
    add_cookie(&mut res, &cookie::session(jar, &sealed));
    res
}

/// Appends a `Set-Cookie` to an answer already made. The console's names and values are
/// base64url, which always make a valid header; should one not, the answer goes without it (a
/// sign-in that does not stick) and the error is logged.
fn add_cookie(res: &mut HttpResponse, cookie: &Cookie<'_>) {
    if let Err(e) = res.add_cookie(cookie) {
        tracing::error!(cookie = cookie.name(), error = %e, "console: a cookie could not be set");
    }
}

/// A POST from another site, which `SameSite=Strict` already keeps the cookie off; refused
/// anyway, by what the browser says of where the form was: `Sec-Fetch-Site` where it is sent
/// (every current browser), else `Origin`. The console's `Referrer-Policy: no-referrer` makes
/// Chromium send `Origin: null` for its own form, so `Origin` alone cannot be the rule.
fn cross_site(req: &HttpRequest, origin: &str) -> bool {
    let headers = req.headers();
    let from = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match (site, from) {
        (Some(site), _) => site != "same-origin",
        (None, Some(from)) => from != origin,
        // Not a browser: no cookie of another site's choosing can ride along.
        (None, None) => false,
    }
}

/// `POST /console/signout`: ends the session server-side and clears the cookie.
pub async fn signout(signin: web::Data<SignIn>, req: HttpRequest) -> HttpResponse {
    let origin = signin.origin(&req);
    let Some(jar) = cookie::jar(&origin) else {
        return insecure(&origin);
    };
    if cross_site(&req, &origin) {
        return pages::refused(
            StatusCode::FORBIDDEN,
            "Sign-out refused",
            "A sign-out from another site is refused: use the console's own button.",
        );
    }
    if let Some(value) = cookie::read(&req, jar.session) {
        match signin.close_session(&value).await {
            Ok(true) => tracing::info!("console: signed out"),
            Ok(false) => {}
            Err(e) => return unavailable("the session store could not be written", &e),
        }
    }
    let to = signin.idp.logout_url(
        &signin.settings.client_id,
        &format!("{origin}{SIGNED_OUT_PATH}"),
    );
    see_other(&to)
        .cookie(cookie::removal(jar, jar.session, SameSite::Strict))
        .finish()
}

pub async fn signed_out() -> HttpResponse {
    pages::signed_out()
}

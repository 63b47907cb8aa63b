//! The endpoints (revocation's handler is `revoke.rs`'s). Errors before the redirect URI is trusted are told to the user; after,
//! they go back to the client as `?error=` (RFC 6749 §4.1.2.1).

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::form::{TokenParams, secret_in_query};
use super::page::{self, origin_of};
use super::{DevOAuth, MAX_TOKEN_REQUEST, OAuthError, TOKEN_TTL_SECS, client_credentials, revoke};
use crate::dev_issuer::TokenRequest;
use crate::dev_issuer::pkce::Challenge;
use crate::dev_issuer::store::{CodeGrant, RefreshGrant};
use crate::domain::PrincipalId;
use crate::http::state::AppState;

/// Why a form body was refused, without echoing any of it (it may hold a secret).
fn form_error(e: &actix_web::error::UrlencodedError) -> OAuthError {
    use actix_web::error::UrlencodedError;
    match e {
        UrlencodedError::Overflow { .. } => OAuthError::TooLarge,
        // serde's words for a parameter sent twice (RFC 6749 §3.2: at most once each).
        UrlencodedError::Parse(p) if p.to_string().contains("duplicate field") => {
            OAuthError::InvalidRequest("a parameter is repeated")
        }
        UrlencodedError::ContentType => {
            OAuthError::InvalidRequest("the body must be application/x-www-form-urlencoded")
        }
        _ => OAuthError::InvalidRequest("malformed form body"),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig, oauth: web::Data<DevOAuth>) {
    let form_errors = web::FormConfig::default()
        .limit(MAX_TOKEN_REQUEST)
        .error_handler(|e, _| form_error(&e).into());
    cfg.service(
        web::resource("/oauth2/authorize")
            .app_data(oauth.clone())
            .app_data(form_errors.clone())
            .route(web::get().to(authorize))
            .route(web::post().to(sign_in)),
    )
    .service(
        web::resource("/oauth2/token")
            .app_data(oauth.clone())
            .app_data(form_errors.clone())
            .route(web::post().to(token)),
    )
    .service(
        web::resource("/oauth2/revoke")
            .app_data(oauth.clone())
            .app_data(form_errors)
            .route(web::post().to(revoke::revoke)),
    )
    .service(
        web::resource("/logout")
            .app_data(oauth)
            .route(web::get().to(logout)),
    )
    .route(
        page::STYLESHEET_PATH,
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("text/css; charset=utf-8")
                .insert_header(("Cache-Control", "no-cache"))
                .body(page::STYLESHEET)
        }),
    );
    let refuse = crate::http::refuse_other_methods;
    refuse(cfg, "/oauth2/authorize", &[Method::GET, Method::POST]);
    refuse(cfg, "/oauth2/token", &[Method::POST]);
    refuse(cfg, "/oauth2/revoke", &[Method::POST]);
    refuse(cfg, "/logout", &[Method::GET]);
    refuse(cfg, page::STYLESHEET_PATH, &[Method::GET]);
}

/// The authorization request, from the query (GET) or carried through the form (POST).
#[derive(Deserialize, Default)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Only in the form's answer.
    username: Option<String>,
    /// Only in the form's answer: the "operator" checkbox (`on` when ticked).
    operator: Option<String>,
}

/// An authorization request checked far enough to answer it with a redirect.
struct Checked<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
}

fn own_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// The client and redirect URI, which decide whether a redirect may be answered at all.
fn check_client<'a>(
    oauth: &DevOAuth,
    req: &HttpRequest,
    p: &'a AuthorizeParams,
) -> Result<Checked<'a>, &'static str> {
    if p.client_id.as_deref() != Some(oauth.client_id.as_str()) {
        return Err("unknown client_id");
    }
    let redirect_uri = p.redirect_uri.as_deref().unwrap_or_default();
    let origin = own_origin(req);
    if !oauth.redirect_allowed(redirect_uri, &origin)
        && !oauth.console_callback(redirect_uri, &origin)
    {
        return Err("redirect_uri is not an allowed callback URL");
    }
    Ok(Checked {
        redirect_uri,
        state: p.state.as_deref(),
    })
}

/// `uri` with `params` added to its query.
#[allow(clippy::expect_used, reason = "pairs of strings always URL-encode")]
fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let query = serde_urlencoded::to_string(params).expect("string pairs encode");
    format!("{uri}{sep}{query}")
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

/// An error sent back to the client's redirect URI.
fn redirect_error(c: &Checked, error: &str, description: &str) -> HttpResponse {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = c.state {
        params.push(("state", state));
    }
    redirect(with_query(c.redirect_uri, &params))
}

/// Everything but the user: response type and PKCE.
fn check_request(p: &AuthorizeParams) -> Result<Challenge, (&'static str, &'static str)> {
    if p.response_type.as_deref() != Some("code") {
        return Err(("unsupported_response_type", "response_type must be code"));
    }
    Challenge::parse(
        p.code_challenge.as_deref().unwrap_or_default(),
        p.code_challenge_method.as_deref(),
    )
    .map_err(|why| ("invalid_request", why))
}

fn hidden(p: &AuthorizeParams) -> Vec<(&'static str, &str)> {
    [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("state", &p.state),
        ("nonce", &p.nonce),
        ("scope", &p.scope),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
    .collect()
}

async fn authorize(
    oauth: web::Data<DevOAuth>,
    req: HttpRequest,
    query: web::Query<AuthorizeParams>,
) -> HttpResponse {
    let p = query.into_inner();
    let checked = match check_client(&oauth, &req, &p) {
        Ok(c) => c,
        Err(why) => return page::refusal(why),
    };
    if let Err((error, why)) = check_request(&p) {
        return redirect_error(&checked, error, why);
    }
    page::sign_in_form(
        &hidden(&p),
        origin_of(checked.redirect_uri),
        &oauth.operators,
        None,
    )
}

/// A user name the dev issuer will put in `sub`: short, plain, never an API key's principal.
fn user_name(name: &str) -> Option<&str> {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    (plain && PrincipalId::from_sub(name).is_some()).then_some(name)
}

async fn sign_in(
    oauth: web::Data<DevOAuth>,
    req: HttpRequest,
    form: web::Form<AuthorizeParams>,
) -> HttpResponse {
    let p = form.into_inner();
    let checked = match check_client(&oauth, &req, &p) {
        Ok(c) => c,
        Err(why) => return page::refusal(why),
    };
    let challenge = match check_request(&p) {
        Ok(c) => c,
        Err((error, why)) => return redirect_error(&checked, error, why),
    };
    let Some(sub) = p.username.as_deref().and_then(user_name) else {
        return page::sign_in_form(
            &hidden(&p),
            origin_of(checked.redirect_uri),
            &oauth.operators,
            Some("A user name is 1 to 64 letters, digits, or . _ @ -"),
        );
    };
    // The checkbox puts the user in the operators' group, in the tokens' `cognito:groups`.
    let groups: Vec<String> = match p.operator.as_deref() {
        Some("on") => vec![oauth.operators.clone()],
        _ => vec![],
    };
    let code = oauth.grants.issue_code(CodeGrant {
        client_id: oauth.client_id.clone(),
        redirect_uri: checked.redirect_uri.to_string(),
        challenge,
        nonce: p.nonce.clone(),
        sub: sub.to_string(),
        scope: p
            .scope
            .clone()
            .unwrap_or_else(|| oauth.default_scope.clone()),
        groups: groups.clone(),
    });
    tracing::info!(sub, ?groups, "dev issuer: signed in");
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = checked.state {
        params.push(("state", state));
    }
    redirect(with_query(checked.redirect_uri, &params))
}

fn required<'a>(value: &'a Option<String>, why: &'static str) -> Result<&'a str, OAuthError> {
    value.as_deref().ok_or(OAuthError::InvalidRequest(why))
}

async fn token(
    oauth: web::Data<DevOAuth>,
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenParams>,
) -> Result<HttpResponse, OAuthError> {
    if secret_in_query(&req) {
        return Err(OAuthError::InvalidRequest(
            "client_secret must not be sent in the query string",
        ));
    }
    let p = form.into_inner();
    let grant_type = required(&p.grant_type, "grant_type is required")?;
    if grant_type == "client_credentials" {
        return client_credentials::grant(&oauth, &state, &req, &p).await;
    }
    // Named before the client is checked: a grant this endpoint does not know is that, whoever asks.
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::UnsupportedGrantType);
    }
    let client_id = required(&p.client_id, "client_id is required")?;
    if client_id != oauth.client_id {
        return Err(OAuthError::InvalidClient);
    }
    match grant_type {
        "authorization_code" => {
            let code = required(&p.code, "code is required")?;
            let verifier = required(&p.code_verifier, "code_verifier is required")?;
            let redirect_uri = required(&p.redirect_uri, "redirect_uri is required")?;
            // Taken before it is checked: a wrong verifier burns the code as a reuse would.
            let grant = oauth
                .grants
                .take_code(code)
                .ok_or(OAuthError::InvalidGrant)?;
            let matches = grant.client_id == client_id
                && grant.redirect_uri == redirect_uri
                && grant.challenge.verifies(verifier);
            if !matches {
                return Err(OAuthError::InvalidGrant);
            }
            // A sign-in starts a session: its refresh token's family, the tokens' `origin_jti`.
            let session =
                RefreshGrant::new_session(grant.client_id, grant.sub, grant.scope, grant.groups);
            let refresh = oauth.grants.issue_refresh(session.clone());
            tokens(&oauth, &session, grant.nonce.as_deref(), Some(refresh))
        }
        "refresh_token" => {
            let token = required(&p.refresh_token, "refresh_token is required")?;
            let grant = oauth
                .grants
                .refresh(token)
                .filter(|g| g.client_id == client_id)
                .ok_or(OAuthError::InvalidGrant)?;
            // The same session: the new tokens keep its `origin_jti`.
            tokens(&oauth, &grant, None, None)
        }
        _ => Err(OAuthError::UnsupportedGrantType),
    }
}

/// The token response (RFC 6749 §5.1, with OpenID Connect's `id_token`) of `session`.
fn tokens(
    oauth: &DevOAuth,
    session: &RefreshGrant,
    nonce: Option<&str>,
    refresh_token: Option<String>,
) -> Result<HttpResponse, OAuthError> {
    let access = oauth.issuer.mint_for(
        &TokenRequest {
            sub: session.sub.clone(),
            scope: Some(session.scope.clone()),
            groups: session.groups.clone(),
            ttl_secs: TOKEN_TTL_SECS,
        },
        &oauth.client_id,
        Some(&session.origin_jti),
    )?;
    let id = oauth.issuer.mint_id(
        &session.sub,
        &oauth.client_id,
        nonce,
        &session.origin_jti,
        TOKEN_TTL_SECS,
    )?;
    let mut body = json!({
        "access_token": access,
        "id_token": id,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL_SECS,
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}

#[derive(Deserialize)]
struct LogoutParams {
    client_id: Option<String>,
    logout_uri: Option<String>,
}

/// The dev issuer keeps no session, so signing out is only the way back to the app; the
/// `logout_uri` must be on the same list as the callback URLs.
async fn logout(
    oauth: web::Data<DevOAuth>,
    req: HttpRequest,
    query: web::Query<LogoutParams>,
) -> HttpResponse {
    if query.client_id.as_deref() != Some(oauth.client_id.as_str()) {
        return page::refusal("unknown client_id");
    }
    match query.logout_uri.as_deref() {
        Some(uri) if oauth.redirect_allowed(uri, &own_origin(&req)) => redirect(uri.to_string()),
        _ => page::refusal("logout_uri is not an allowed sign-out URL"),
    }
}

//! The photo app: one page of plain HTML, JavaScript modules and CSS, embedded in the binary and
//! served on the public listener at `/`. No framework and no build step: the files in
//! `src/http/api/app/assets/` are what the browser runs.
//!
//! Caching: the page (`/`) and `/config.json` are `no-cache` with a strong `ETag`, so a browser
//! revalidates them on every load and gets a `304` while they are unchanged. Everything else is
//! under `/assets/<version>/`, where `<version>` is a hash of all the embedded assets: a new
//! build is a new path, so those answers are `immutable` for a year, and the page (revalidated)
//! always names the current version.

mod assets;
mod csp;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::config::WebSettings;
use crate::crypto::sha256;
/// Also the migration console's stylesheet check.
pub use assets::none_match;
use assets::{ASSETS, INDEX};

/// Revalidated on every use; an unchanged file costs a `304` and no body.
const REVALIDATE: &str = "no-cache";
/// A versioned path never changes its content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One answer, computed once at start.
struct Served {
    body: web::Bytes,
    content_type: &'static str,
    etag: String,
    cache_control: &'static str,
}

impl Served {
    fn new(body: impl Into<web::Bytes>, content_type: &'static str, cache: &'static str) -> Self {
        let body = body.into();
        // A strong validator: the content's own hash, so two instances of one build agree.
        let etag = format!("\"{}\"", hex::encode(&sha256(&body)[..16]));
        Served {
            body,
            content_type,
            etag,
            cache_control: cache,
        }
    }
}

pub struct WebApp {
    index: Served,
    config: Served,
    /// By file name, under the current version.
    assets: HashMap<&'static str, Served>,
    version: String,
    csp: String,
}

impl WebApp {
    pub fn new(settings: &WebSettings) -> Self {
        let mut all = Vec::new();
        for (name, _, bytes) in ASSETS {
            all.extend_from_slice(name.as_bytes());
            all.extend_from_slice(bytes);
        }
        let version = hex::encode(&sha256(&all)[..6]);
        let index = INDEX.replace("{{version}}", &version);
        let assets = ASSETS
            .iter()
            .map(|(name, ty, bytes)| (*name, Served::new(*bytes, ty, IMMUTABLE)))
            .collect();
        WebApp {
            index: Served::new(index, "text/html; charset=utf-8", REVALIDATE),
            config: Served::new(
                config_json(settings).to_string(),
                "application/json",
                REVALIDATE,
            ),
            assets,
            version,
            csp: csp::policy(settings.oauth_domain.as_deref()),
        }
    }

    /// The path prefix of this build's assets (`/assets/<version>/`).
    pub fn asset_prefix(&self) -> String {
        format!("/assets/{}/", self.version)
    }
}

/// What the page needs to sign in. Public values only: the client is a public one (PKCE, no
/// secret), and the endpoints are the Hosted UI's (or, unset, this service's dev ones).
/// `oauth` is null when there is nowhere to sign in (a real issuer without its Hosted UI domain).
fn config_json(settings: &WebSettings) -> serde_json::Value {
    let base = match (&settings.oauth_domain, settings.dev_endpoints) {
        (Some(domain), _) => domain.as_str(),
        (None, true) => "",
        (None, false) => return json!({ "oauth": null }),
    };
    json!({
        "oauth": {
            "authorize_url": format!("{base}/oauth2/authorize"),
            "token_url": format!("{base}/oauth2/token"),
            "revoke_url": format!("{base}/oauth2/revoke"),
            "logout_url": format!("{base}/logout"),
            "client_id": settings.oauth_client_id,
            "scope": settings.oauth_scopes,
        },
    })
}

pub fn routes(cfg: &mut web::ServiceConfig, app: Arc<WebApp>) {
    let data = web::Data::from(app);
    cfg.service(
        web::resource("/")
            .app_data(data.clone())
            .route(web::get().to(
            |app: web::Data<WebApp>, req: HttpRequest| async move {
                let mut res = answer(&req, &app.index);
                let headers = res.headers_mut();
                #[allow(
                    clippy::expect_used,
                    reason = "the policy is ASCII: the sign-in domain is checked to be an origin"
                )]
                let csp = header::HeaderValue::from_str(&app.csp).expect("the policy is ASCII");
                headers.insert(header::CONTENT_SECURITY_POLICY, csp);
                res
            },
        )),
    )
    .service(web::resource("/config.json").app_data(data.clone()).route(
        web::get().to(|app: web::Data<WebApp>, req: HttpRequest| async move {
            answer(&req, &app.config)
        }),
    ))
    .service(
        web::resource("/assets/{version}/{name}")
            .app_data(data)
            .route(web::get().to(asset)),
    );
    crate::http::refuse_other_methods(cfg, "/", &[Method::GET]);
    crate::http::refuse_other_methods(cfg, "/config.json", &[Method::GET]);
}

async fn asset(
    app: web::Data<WebApp>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, name) = path.into_inner();
    // An old version's path is not answered with new content under an immutable header.
    match app
        .assets
        .get(name.as_str())
        .filter(|_| version == app.version)
    {
        Some(served) => answer(&req, served),
        None => actix_web::ResponseError::error_response(&crate::http::problem::ApiError::NotFound),
    }
}

/// The file, or `304` when the client's `If-None-Match` names its `ETag`.
fn answer(req: &HttpRequest, served: &Served) -> HttpResponse {
    let mut res = if assets::none_match(req.headers(), &served.etag) {
        HttpResponse::Ok()
            .content_type(served.content_type)
            .body(served.body.clone())
    } else {
        HttpResponse::NotModified().finish()
    };
    let headers = res.headers_mut();
    #[allow(
        clippy::expect_used,
        reason = "ETags and types of embedded assets are ASCII"
    )]
    let value = |v: &str| header::HeaderValue::from_str(v).expect("ASCII header value");
    headers.insert(header::ETAG, value(&served.etag));
    headers.insert(header::CACHE_CONTROL, value(served.cache_control));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, value("nosniff"));
    headers.insert(header::REFERRER_POLICY, value("no-referrer"));
    res
}

//! The sign-in's own pages: small, no script, every text escaped. A refusal says what happened
//! and links to sign in again; nothing of the token or the code is shown.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::common::html::escape;
use crate::http::admin::paths::SIGNIN_PATH;
use crate::http::admin::paths::STYLESHEET_PATH;

const POLICY: &str = "default-src 'none'; style-src 'self'; img-src data:; frame-ancestors 'none'; \
                      base-uri 'none'; form-action 'none'";

pub fn page(status: StatusCode, title: &str, main: &str) -> HttpResponse {
    page_with(status, title, main, "")
}

/// `head`: markup for the head (the callback's refresh to the console).
pub fn page_with(status: StatusCode, title: &str, main: &str, head: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <title>{} · cutover console</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\"></head>\
         <body><main class=\"signin\">{main}</main></body></html>",
        escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

fn again() -> String {
    format!("<p><a href=\"{SIGNIN_PATH}\">Sign in again</a></p>")
}

/// A callback that cannot end in a session: 400, why, and the way back.
pub fn bad_callback(why: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1><p class=\"problem\" role=\"alert\">{}</p>{}",
            escape(why),
            again()
        ),
    )
}

/// Signed in, but not an operator: 403, and no session.
pub fn not_an_operator(principal: &str, group: &str) -> HttpResponse {
    page(
        StatusCode::FORBIDDEN,
        "Not an operator",
        &format!(
            "<h1>Not an operator</h1><p class=\"problem\" role=\"alert\">You signed in as \
             <strong>{}</strong>, who is not in the operators' group <code>{}</code>. Ask an \
             operator to add you, then sign in again.</p>{}",
            escape(principal),
            escape(group),
            again()
        ),
    )
}

pub fn refused(status: StatusCode, title: &str, why: &str) -> HttpResponse {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"problem\" role=\"alert\">{}</p>",
            escape(title),
            escape(why)
        ),
    )
}

/// The session is open: the browser goes on to the console by a refresh of this page rather
/// than a redirect, because the callback came from the issuer's site and a browser leaves
/// `SameSite=Strict` cookies off every hop of a navigation that started cross-site.
pub fn signed_in(principal: &str) -> HttpResponse {
    page_with(
        StatusCode::OK,
        "Signed in",
        &format!(
            "<h1>Signed in</h1><p>Signed in as <strong>{}</strong>.</p>\
             <p><a href=\"/console\">Continue to the console</a></p>",
            escape(principal)
        ),
        "<meta http-equiv=\"refresh\" content=\"0;url=/console\">",
    )
}

pub fn signed_out() -> HttpResponse {
    page(
        StatusCode::OK,
        "Signed out",
        &format!(
            "<h1>Signed out</h1><p>Your console session has ended.</p>{}",
            again()
        ),
    )
}

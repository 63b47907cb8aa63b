//! The dev sign-in page and its refusals, as HTML for a browser. No script at all; the page
//! carries the authorization request through the form as hidden fields.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::http::conn::observe::OwnErrorBody;

pub const STYLESHEET_PATH: &str = "/oauth2/signin.css";
pub const STYLESHEET: &str = include_str!("signin.css");

pub use crate::common::html::escape;

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// `form_target`: the origin the form's answer redirects to, which `form-action` must allow
/// (browsers apply it to the redirect after a form submission too).
fn respond(status: StatusCode, body: String, form_target: Option<&str>) -> HttpResponse {
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'none'".to_string(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .body(body);
    res.extensions_mut().insert(OwnErrorBody);
    res
}

fn document(title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\">\
         <link rel=\"icon\" href=\"data:,\"></head>\
         <body><main class=\"card\">{main}</main></body></html>\n",
        title = escape(title),
    )
}

/// The sign-in form. `hidden`: the authorization request's parameters, posted back as they
/// came; `problem`: why the last attempt was refused.
/// `operators`: the group the "operator" box puts the user in.
pub fn sign_in_form(
    hidden: &[(&str, &str)],
    redirect_origin: &str,
    operators: &str,
    problem: Option<&str>,
) -> HttpResponse {
    let mut fields = String::new();
    for (name, value) in hidden {
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        ));
    }
    let alert = problem
        .map(|p| format!("<p class=\"problem\" role=\"alert\">{}</p>", escape(p)))
        .unwrap_or_default();
    let main = format!(
        "<h1>Sign in</h1>\
         <p class=\"note\">cutover's development issuer: any user name signs in, no password. \
         Against Cognito this page is the Hosted UI.</p>{alert}\
         <form method=\"post\" action=\"/oauth2/authorize\">{fields}\
         <label for=\"username\">User name</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required \
         maxlength=\"64\" pattern=\"[A-Za-z0-9._@\\-]+\" autofocus>\
         <label class=\"check\"><input type=\"checkbox\" id=\"operator\" name=\"operator\"> \
         operator (in the <code>{operators}</code> group)</label>\
         <button type=\"submit\">Sign in</button></form>",
        operators = escape(operators)
    );
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    respond(
        status,
        document("Sign in · cutover", &main),
        Some(redirect_origin),
    )
}

/// A request that cannot be answered with a redirect (unknown client, a redirect URI not on
/// the list): RFC 6749 §4.1.2.1 says to tell the user, never to redirect.
pub fn refusal(why: &str) -> HttpResponse {
    let main = format!(
        "<h1>Sign-in request refused</h1><p class=\"problem\" role=\"alert\">{}</p>",
        escape(why)
    );
    respond(
        StatusCode::BAD_REQUEST,
        document("Refused · cutover", &main),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_parameters_is_escaped() {
        assert_eq!(
            escape("\"><script>x</script>"),
            "&quot;&gt;&lt;script&gt;x&lt;/script&gt;"
        );
    }

    #[test]
    fn the_origin_of_a_url_is_its_scheme_and_authority() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/cb?x"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://a.example"), "https://a.example");
    }
}

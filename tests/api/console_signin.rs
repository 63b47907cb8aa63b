//! The console's browser sign-in, without a browser: reqwest with redirects off follows the
//! authorization code flow as a browser would (the console's redirect, the dev issuer's form,
//! the callback), keeping the cookies itself. A session opens the console and the admin API;
//! a forged, tampered, ended, idle, old or revoked one sends the browser back through sign-in.

use std::collections::{BTreeSet, HashMap};

use crate::helpers::{OPERATORS, TestApp, app, assert_problem, header, spawn_app};

/// A browser's cookie jar (name → value), and its client with redirects off.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    /// Takes the `Set-Cookie` headers of an answer: a value, or a removal (`Max-Age=0`).
    fn take(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The `Set-Cookie` value of an answer that starts with `prefix` (`name=`).
fn set_cookie(res: &reqwest::Response, prefix: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(prefix))
}

/// A `Set-Cookie` value's attributes, in any order (`Path=/`, `HttpOnly`, …).
fn attributes(set_cookie: &str) -> BTreeSet<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

fn set(attributes: &[&str]) -> BTreeSet<String> {
    attributes.iter().map(|a| a.to_string()).collect()
}

fn location(res: &reqwest::Response) -> String {
    header(res, "location").expect("a redirect")
}

/// A GET with the jar's cookies; the jar takes the answer's.
async fn get(app: &TestApp, jar: &mut Jar, url: &str) -> reqwest::Response {
    let res = app
        .client
        .get(url)
        .header("Cookie", jar.header())
        .send()
        .await
        .unwrap();
    jar.take(&res);
    res
}

/// The hidden fields of the dev issuer's form, as the browser would post them back.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|rest| {
            let name = rest
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = rest
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

/// `GET /console/signin`: the dev issuer's authorize URL (on the public listener) it sends
/// the browser to.
async fn start(app: &TestApp, jar: &mut Jar) -> String {
    let res = get(app, jar, &format!("{}/console/signin", app.admin_address)).await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    let public_port = app.address.rsplit(':').next().unwrap();
    assert!(
        to.starts_with(&format!("http://127.0.0.1:{public_port}/oauth2/authorize?")),
        "{to}"
    );
    to
}

/// The dev issuer's page and form, as `user` (ticking "operator" or not): the callback URL
/// the browser is sent back to.
async fn sign_in_at_issuer(app: &TestApp, authorize: &str, user: &str, operator: bool) -> String {
    let page = app.client.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("operator (in the <code>{OPERATORS}</code> group)")));
    let mut fields = hidden_fields(&html);
    fields.push(("username".into(), user.into()));
    if operator {
        fields.push(("operator".into(), "on".into()));
    }
    let res = app
        .client
        .post(format!("{}/oauth2/authorize", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&fields).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    location(&res)
}

/// The whole flow for `user` as an operator: the jar then holds the session.
async fn sign_in(app: &TestApp, jar: &mut Jar, user: &str) -> reqwest::Response {
    let authorize = start(app, jar).await;
    let callback = sign_in_at_issuer(app, &authorize, user, true).await;
    assert!(
        callback.starts_with(&format!("{}/console/callback?", app.admin_address)),
        "{callback}"
    );
    get(app, jar, &callback).await
}

async fn console(app: &TestApp, jar: &mut Jar) -> reqwest::Response {
    get(app, jar, &format!("{}/console", app.admin_address)).await
}

fn is_sent_to_sign_in(res: &reqwest::Response) -> bool {
    res.status() == 303 && location(res) == "/console/signin"
}

/// Waits (generously) until the console sends `jar`'s browser through sign-in.
async fn until_sent_to_sign_in(app: &TestApp, jar: &Jar) {
    let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let deadline = std::time::Instant::now() + patience;
    loop {
        let res = console(app, &mut jar.clone()).await;
        if is_sent_to_sign_in(&res) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{}", res.status());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn sign_out(app: &TestApp, jar: &mut Jar) -> reqwest::Response {
    let res = app
        .client
        .post(format!("{}/console/signout", app.admin_address))
        .header("Cookie", jar.header())
        // As Chromium posts the console's form: its `no-referrer` makes `Origin` null.
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    jar.take(&res);
    res
}

#[tokio::test]
async fn an_operator_signs_in_through_the_dev_issuer_sees_the_console_and_signs_out() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    assert!(is_sent_to_sign_in(&console(&app, &mut jar).await));

    let res = sign_in(&app, &mut jar, "ada").await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "cutover-console=").expect("a session cookie");
    // Loopback http: no `Secure`, no `__Host-` (browsers refuse both there).
    assert_eq!(
        attributes(&cookie),
        set(&["Path=/", "HttpOnly", "SameSite=Strict"]),
        "{cookie}"
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("http-equiv=\"refresh\" content=\"0;url=/console\""),
        "{html}"
    );
    assert!(
        !jar.0.contains_key("cutover-console-signin"),
        "the sign-in's cookie goes"
    );

    let res = console(&app, &mut jar).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Signed in as <strong>ada</strong>"), "{html}");
    assert!(html.contains(r#"<form method="post" action="/console/signout">"#));
    // The session opens the admin API as a token would.
    let res = get(
        &app,
        &mut jar,
        &format!("{}/admin/migration", app.admin_address),
    )
    .await;
    assert_eq!(res.status(), 200);

    let replay = jar.clone();
    let res = sign_out(&app, &mut jar).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("{}/console/signed-out", app.admin_address)
    );
    assert!(jar.0.is_empty(), "the cookie is cleared");
    let res = get(
        &app,
        &mut jar,
        &format!("{}/console/signed-out", app.admin_address),
    )
    .await;
    assert_eq!(res.status(), 200);

    // The cookie replayed after sign-out opens nothing: the session ended server-side.
    let res = console(&app, &mut replay.clone()).await;
    assert!(is_sent_to_sign_in(&res), "{}", res.status());
    let res = get(
        &app,
        &mut replay.clone(),
        &format!("{}/admin/migration", app.admin_address),
    )
    .await;
    assert_problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_bearer_operator_sees_who_but_no_sign_out_button() {
    let app = spawn_app().await;
    let html = app.admin_get("/console").await.text().await.unwrap();
    assert!(
        html.contains("Signed in as <strong>operator</strong>"),
        "{html}"
    );
    assert!(!html.contains("/console/signout"), "{html}");
}

#[tokio::test]
async fn a_forged_a_tampered_or_another_instances_cookie_is_sent_through_sign_in() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, "ada").await;
    let good = jar.0["cutover-console"].clone();
    let (id, tag) = good.split_once('.').unwrap();
    let flipped = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b[3] = if b[3] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    for bad in [
        format!("{}.{tag}", flipped(id)),
        format!("{id}.{}", flipped(tag)),
        format!("{id}.{}", "A".repeat(43)),
        id.to_string(),
        "nonsense".to_string(),
    ] {
        let mut forged = Jar::default();
        forged.0.insert("cutover-console".into(), bad.clone());
        assert!(
            is_sent_to_sign_in(&console(&app, &mut forged).await),
            "{bad}"
        );
    }
    // The good one still works, and on another instance of the same store too (sessions
    // survive instance changes).
    assert_eq!(console(&app, &mut jar.clone()).await.status(), 200);
    let sibling = crate::helpers::app().with_pairs(&app.pairs).spawn().await;
    assert_eq!(console(&sibling, &mut jar.clone()).await.status(), 200);
    // Another instance with its own store (data dir, table) has its own key.
    let other = spawn_app().await;
    assert!(is_sent_to_sign_in(&console(&other, &mut jar.clone()).await));
}

#[tokio::test]
async fn an_idle_session_ends_and_the_browser_signs_in_again() {
    let app = app().with("console_session_idle_secs", "1").spawn().await;
    let mut jar = Jar::default();
    assert_eq!(sign_in(&app, &mut jar, "ada").await.status(), 200);
    // Watched in the store, not through the console: a visit would keep it alive.
    let key =
        cutover::http::admin::signin::session::record_key_of(&jar.0["cutover-console"]).unwrap();
    let sessions = app.backends().await.sessions;
    let patience = std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let deadline = std::time::Instant::now() + patience;
    loop {
        let record = sessions
            .get(&key)
            .await
            .unwrap()
            .expect("the session is kept");
        if record.last_used + 1 < cutover::common::unix_now() {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(is_sent_to_sign_in(&console(&app, &mut jar.clone()).await));
    // And it is gone from the store, not only refused.
    assert!(sessions.get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_however_much_it_is_used() {
    let app = app().with("console_session_max_secs", "2").spawn().await;
    let mut jar = Jar::default();
    assert_eq!(sign_in(&app, &mut jar, "ada").await.status(), 200);
    until_sent_to_sign_in(&app, &jar).await;
}

#[tokio::test]
async fn revoking_the_operator_ends_the_console_session_from_the_next_poll() {
    let app = app().with("control_poll_secs", "1").spawn().await;
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, "ada").await;
    assert_eq!(console(&app, &mut jar.clone()).await.status(), 200);
    let (ok, _, err) = app.cli(&["revoke", "--sub", "ada"]);
    assert!(ok, "{err}");
    until_sent_to_sign_in(&app, &jar).await;
}

#[tokio::test]
async fn a_state_mismatch_a_replayed_callback_or_a_reused_code_opens_no_session() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let authorize = start(&app, &mut jar).await;
    let callback = sign_in_at_issuer(&app, &authorize, "ada", true).await;

    // Another state than the one this browser started with.
    let (head, _) = callback.split_once("&state=").unwrap();
    let res = get(&app, &mut jar.clone(), &format!("{head}&state=forged")).await;
    assert_eq!(res.status(), 400);
    assert!(header(&res, "set-cookie").is_none_or(|c| !c.starts_with("cutover-console=")));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("href=\"/console/signin\"")
    );
    // No pending cookie at all (a callback forced on another browser).
    let res = get(&app, &mut Jar::default(), &callback).await;
    assert_eq!(res.status(), 400);

    // The real one works once; the same callback again finds its sign-in used.
    let mut second = jar.clone();
    assert_eq!(get(&app, &mut jar, &callback).await.status(), 200);
    let res = get(&app, &mut second, &callback).await;
    assert_eq!(res.status(), 400);
    assert!(!second.0.contains_key("cutover-console"));
    // Refused by the state, taken once, before the code goes anywhere.
    let page = res.text().await.unwrap();
    assert!(page.contains("already used"), "{page}");

    // A new sign-in's state with the old (used) code: the issuer refuses the code.
    let mut third = Jar::default();
    let fresh = start(&app, &mut third).await;
    let state = fresh
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let reused = format!(
        "{}/console/callback?code={code}&state={state}",
        app.admin_address
    );
    let res = get(&app, &mut third, &reused).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("refused the sign-in code")
    );
    assert!(!third.0.contains_key("cutover-console"));
}

#[tokio::test]
async fn a_user_outside_the_operators_group_gets_a_403_page_and_no_session() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let authorize = start(&app, &mut jar).await;
    let callback = sign_in_at_issuer(&app, &authorize, "bob", false).await;
    let res = get(&app, &mut jar, &callback).await;
    assert_eq!(res.status(), 403);
    assert!(!jar.0.contains_key("cutover-console"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<strong>bob</strong>, who is not in the operators"),
        "{html}"
    );
    assert!(html.contains(OPERATORS));
    assert!(is_sent_to_sign_in(&console(&app, &mut jar).await));
}

#[tokio::test]
async fn a_cross_site_sign_out_is_refused_and_the_session_stays() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, "ada").await;
    // What a browser says of a form on another site (or a sandboxed one): refused.
    let cross = [
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![
            ("Origin", app.admin_address.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        vec![("Sec-Fetch-Site", "same-site")],
    ];
    for headers in cross {
        let mut rb = app
            .client
            .post(format!("{}/console/signout", app.admin_address))
            .header("Cookie", jar.header());
        for (name, value) in &headers {
            rb = rb.header(*name, *value);
        }
        let res = rb.send().await.unwrap();
        assert_eq!(res.status(), 403, "{headers:?}");
        assert!(header(&res, "set-cookie").is_none());
    }
    assert_eq!(console(&app, &mut jar.clone()).await.status(), 200);
}

#[tokio::test]
async fn an_https_console_gets_host_prefixed_secure_cookies_and_its_own_callback() {
    let origin = "https://console.example.test";
    let app = app().with("console_url", origin).spawn().await;
    let mut jar = Jar::default();
    let res = get(
        &app,
        &mut jar,
        &format!("{}/console/signin", app.admin_address),
    )
    .await;
    assert_eq!(res.status(), 303);
    let pending = header(&res, "set-cookie").unwrap();
    assert!(
        pending.starts_with("__Host-cutover-console-signin="),
        "{pending}"
    );
    assert_eq!(
        attributes(&pending),
        set(&[
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Max-Age=600"
        ]),
        "{pending}"
    );
    let to = location(&res);
    let query = to.split_once('?').unwrap().1;
    let redirect = format!("{origin}/console/callback");
    assert!(
        query.contains(&serde_urlencoded::to_string([("redirect_uri", &redirect)]).unwrap()),
        "{to}"
    );
    // The browser would reach the dev issuer on the console's host; here, where it listens.
    let authorize = format!("{}/oauth2/authorize?{query}", app.address);
    let callback = sign_in_at_issuer(&app, &authorize, "ada", true).await;
    assert!(callback.starts_with(&format!("{redirect}?")), "{callback}");
    let callback = callback.replace(origin, &app.admin_address);
    let res = get(&app, &mut jar, &callback).await;
    assert_eq!(res.status(), 200);
    let session = set_cookie(&res, "__Host-cutover-console=").expect("a session cookie");
    assert_eq!(
        attributes(&session),
        set(&["Path=/", "HttpOnly", "SameSite=Strict", "Secure"]),
        "{session}"
    );
    assert_eq!(console(&app, &mut jar).await.status(), 200);
}

#[tokio::test]
async fn the_dev_issuer_accepts_the_consoles_callback_only_on_the_admin_port() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let authorize = start(&app, &mut jar).await;
    let admin_port = app.admin_address.rsplit(':').next().unwrap();
    let elsewhere = authorize.replace(
        &format!("127.0.0.1%3A{admin_port}%2Fconsole"),
        "127.0.0.1%3A1%2Fconsole",
    );
    assert_ne!(elsewhere, authorize);
    let res = app.client.get(&elsewhere).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not an allowed callback URL")
    );
}

#[tokio::test]
async fn on_aws_a_session_is_an_item_under_its_ids_hash_with_the_tables_ttl() {
    use crate::support::moto::{self, aws_app};
    use aws_sdk_dynamodb::types::AttributeValue;
    crate::aws_only!();
    let app = aws_app(&[]).await;
    let mut jar = Jar::default();
    sign_in(&app, &mut jar, "ada").await;
    let cookie = jar.0["cutover-console"].clone();
    let (id, _) = cookie.split_once('.').unwrap();
    let table = moto::setting(&app.pairs, "dynamodb_table")
        .unwrap()
        .to_string();
    let db = moto::dynamodb().await;
    let items = db
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("SESSION".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    // The sign-in's pending item was taken by its callback: the session alone is left.
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    let sk = item["sk"].as_s().unwrap();
    assert_eq!(sk.len(), 64, "a SHA-256, hex: {sk}");
    assert!(!format!("{item:?}").contains(id), "the id is never stored");
    let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    let now = cutover::common::unix_now();
    assert!(expires > now && expires <= now + 43_200, "{expires}");
    let key = db
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("CONTROL".into()))
        .key("sk", AttributeValue::S("CONSOLE_SESSION_KEY".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the session key item");
    assert!(matches!(&key["key"], AttributeValue::B(b) if b.as_ref().len() == 32));
}

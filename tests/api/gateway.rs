//! The gateway mode against a real upstream (`support::upstream`, a hyper server in the test
//! process): what reaches the upstream and what never does, the gate on a forwarded route, and
//! the answers passed back. Faults and streams: `gateway_faults.rs`.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Auth, TestApp, app, assert_problem, header};
use crate::support::upstream::Upstream;

/// One upstream table `orders` at `/orders`, the upstream's own paths below it
/// (`/orders/echo/7` → `/echo/7`), with `extra` lines in the table.
pub fn orders(upstream: &Upstream, extra: &str) -> String {
    format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"{}\"\nstrip_prefix = true\n{extra}\n",
        upstream.url()
    )
}

pub async fn fronting(toml: &str, pairs: &[(&str, &str)]) -> TestApp {
    let mut builder = app().with_config_file(toml);
    for (name, value) in pairs {
        builder = builder.with(name, value);
    }
    builder.spawn().await
}

pub async fn call(app: &TestApp, method: Method, path: &str, auth: &Auth) -> reqwest::Response {
    app.request(method, path, auth).send().await.unwrap()
}

#[tokio::test]
async fn a_token_reaches_the_upstream_as_its_identity_and_never_as_its_credentials() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[]).await;
    let token = app.token("alice", "photos/read photos/write");
    let res = app
        .client
        .get(format!("{}/orders/echo/7?x=1&y=%20", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Cutover-Principal", "mallory")
        .header("x-cutover-assertion", "forged")
        .header("X-CUTOVER-UPSTREAM", "billing")
        .header("X-Cutover-Key-Id", "someone-elses")
        .header("Connection", "x-private")
        .header("X-Private", "secret")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Connection", "keep-alive")
        .header("Proxy-Authorization", "Basic Zm9vOmJhcg==")
        .header("X-Forwarded-For", "203.0.113.66")
        .header("Forwarded", "for=203.0.113.66")
        .header("X-Custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let request_id = header(&res, "x-request-id").unwrap();
    assert!(header(&res, "via").unwrap().contains("1.1 cutover"));
    assert!(
        header(&res, "ratelimit").is_some(),
        "the gateway's own headers"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["path"], "/echo/7");
    assert_eq!(body["query"], "x=1&y=%20");

    let seen = up.requests_to("/echo/7").pop().unwrap();
    let family = seen.headers_starting("x-cutover-");
    let names: Vec<&str> = family.iter().map(|(n, _)| n.as_str()).collect();
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(
        names.len(),
        unique.len(),
        "each identity field once: {family:?}"
    );
    assert_eq!(seen.header("x-cutover-principal"), Some("alice"));
    assert_eq!(seen.header("x-cutover-principal-kind"), Some("user"));
    assert_eq!(seen.header("x-cutover-auth-method"), Some("jwt"));
    assert_eq!(
        seen.header("x-cutover-scopes"),
        Some("photos/read photos/write")
    );
    assert_eq!(
        seen.header("x-cutover-issuer"),
        Some("urn:cutover:dev-issuer")
    );
    assert_eq!(seen.header("x-cutover-upstream"), Some("orders"));
    assert_eq!(
        seen.header("x-cutover-request-id"),
        Some(request_id.as_str())
    );
    assert_eq!(
        seen.header("x-cutover-key-id"),
        None,
        "no key on the JWT path"
    );
    assert_ne!(seen.header("x-cutover-assertion"), Some("forged"));
    for gone in [
        "authorization",
        "x-api-key",
        "x-private",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "connection",
    ] {
        assert_eq!(seen.header(gone), None, "{gone} reached the upstream");
    }
    assert_eq!(seen.header("x-custom"), Some("kept"));
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("127.0.0.1"),
        "an untrusted peer's forwarding fields are replaced"
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("forwarded").unwrap().split(',').count(), 1);
    assert!(seen.header("via").unwrap().ends_with("1.1 cutover"));
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{}", up.port()).as_str()),
        "the upstream's own Host"
    );
}

#[tokio::test]
async fn a_key_reaches_the_upstream_as_its_key_id_and_the_legacy_upstream_gets_its_own_key() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("orders.key");
    std::fs::write(&key_file, "the-upstreams-own-key\n").unwrap();
    let toml = orders(
        &up,
        &format!(
            "upstream_key_file = \"{}\"\nupstream_key_header = \"X-Orders-Key\"",
            key_file.display()
        ),
    );
    let app = fronting(&toml, &[]).await;
    let key = Auth::Key(app.add_key("legacy-mobile", None));
    let res = crate::helpers::eventually_at(&app, "/orders/echo/k", &key, 200).await;
    assert_eq!(res.status(), 200);
    let seen = up.requests_to("/echo/k").pop().unwrap();
    assert_eq!(
        seen.header("x-cutover-principal"),
        Some("apikey:legacy-mobile")
    );
    assert_eq!(seen.header("x-cutover-principal-kind"), Some("key"));
    assert_eq!(seen.header("x-cutover-auth-method"), Some("api_key"));
    assert_eq!(seen.header("x-cutover-key-id"), Some("legacy-mobile"));
    assert_eq!(seen.header("x-cutover-scopes"), None);
    assert_eq!(
        seen.header("x-api-key"),
        None,
        "the client's key never reaches it"
    );
    assert_eq!(seen.header("x-orders-key"), Some("the-upstreams-own-key"));

    let token = app.user("bob");
    assert_eq!(
        call(&app, Method::GET, "/orders/echo/t", &token)
            .await
            .status(),
        200
    );
    let seen = up.requests_to("/echo/t").pop().unwrap();
    assert_eq!(
        seen.header("x-orders-key"),
        Some("the-upstreams-own-key"),
        "whatever credential the client used"
    );
}

#[tokio::test]
async fn no_credentials_a_bad_token_and_a_revoked_one_never_reach_the_upstream() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[("control_poll_secs", "1")]).await;
    let res = call(&app, Method::GET, "/orders/echo/anon", &Auth::None).await;
    assert_eq!(
        header(&res, "www-authenticate").as_deref(),
        Some(r#"Bearer realm="cutover""#)
    );
    assert_problem(res, 401, "unauthorized").await;
    let res = call(
        &app,
        Method::GET,
        "/orders/echo/bad",
        &Auth::Bearer("nope".into()),
    )
    .await;
    assert_problem(res, 401, "unauthorized").await;

    let carol = app.user("carol");
    assert_eq!(
        call(&app, Method::GET, "/orders/echo/carol", &carol)
            .await
            .status(),
        200
    );
    let (ok, _, err) = app.cli(&["revoke", "--sub", "carol"]);
    assert!(ok, "{err}");
    let res = crate::helpers::eventually_at(&app, "/orders/echo/carol-wait", &carol, 401).await;
    assert_problem(res, 401, "token-revoked").await;
    let res = call(&app, Method::GET, "/orders/echo/carol-after", &carol).await;
    assert_problem(res, 401, "token-revoked").await;
    assert!(up.requests_to("/echo/anon").is_empty());
    assert!(up.requests_to("/echo/bad").is_empty());
    assert!(up.requests_to("/echo/carol-after").is_empty());
}

#[tokio::test]
async fn reads_and_writes_need_the_routes_own_scopes() {
    let up = Upstream::start();
    let toml = orders(
        &up,
        "read_scope = \"orders/read\"\nwrite_scope = \"orders/write\"",
    );
    let app = fronting(&toml, &[]).await;
    let reader = Auth::Bearer(app.token("r", "orders/read"));
    let photos = Auth::Bearer(app.token("p", "photos/read photos/write"));
    let writer = Auth::Bearer(app.token("w", "orders/read orders/write"));
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let res = call(&app, method.clone(), "/orders/echo/r", &reader).await;
        assert_eq!(res.status(), 200, "{method}");
    }
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let res = call(&app, method.clone(), "/orders/echo/w", &reader).await;
        let www = header(&res, "www-authenticate").unwrap();
        assert!(www.contains(r#"scope="orders/write""#), "{method}: {www}");
        assert_problem(res, 403, "insufficient-scope").await;
        let res = call(&app, method.clone(), "/orders/echo/w", &writer).await;
        assert_eq!(res.status(), 200, "{method}");
    }
    let res = call(&app, Method::GET, "/orders/echo/p", &photos).await;
    assert_problem(res, 403, "insufficient-scope").await;
    assert!(up.requests_to("/echo/p").is_empty());
    assert_eq!(up.requests_to("/echo/w").len(), 4, "only the writer's");
}

#[tokio::test]
async fn a_refused_key_never_reaches_the_upstream_deny_canary_and_brownout_alike() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[("control_poll_secs", "1")]).await;
    let key = Auth::Key(app.add_key("partner", None));
    assert_eq!(
        crate::helpers::eventually_at(&app, "/orders/echo/ok", &key, 200)
            .await
            .status(),
        200
    );
    let steps: [(&[&str], &[&str], &str); 3] = [
        (
            &[
                "brownouts",
                "add",
                "--start",
                "now",
                "--duration",
                "1h",
                "--key",
                "partner",
            ],
            &[],
            "key-path-brownout",
        ),
        (
            &["fallback", "canary", "--percent", "100"],
            &["fallback", "canary", "--percent", "0"],
            "api-key-disabled",
        ),
        (
            &["fallback", "set", "deny"],
            &["fallback", "set", "allow"],
            "api-key-disabled",
        ),
    ];
    for (step, undo, kind) in steps {
        let (ok, out, err) = app.cli(step);
        assert!(ok, "{step:?}: {err}");
        let res = crate::helpers::eventually_at(&app, "/orders/echo/waiting", &key, 401).await;
        assert_eq!(res.status(), 401, "{step:?}");
        let res = call(&app, Method::GET, "/orders/echo/refused", &key).await;
        assert_problem(res, 401, kind).await;
        if step[0] == "brownouts" {
            assert!(app.cli(&["brownouts", "remove", out.trim()]).0);
        } else {
            assert!(app.cli(undo).0);
        }
        let back = crate::helpers::eventually_at(&app, "/orders/echo/ok", &key, 200).await;
        assert_eq!(back.status(), 200, "after undoing {step:?}");
    }
    assert!(
        up.requests_to("/echo/refused").is_empty(),
        "no refused request was forwarded"
    );
}

#[tokio::test]
async fn the_warn_flag_adds_the_deprecation_headers_to_the_upstreams_answer() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[("api_key_fallback", "warn")]).await;
    let key = Auth::Key(app.add_key("legacy", None));
    let res = crate::helpers::eventually_at(&app, "/orders/status/418", &key, 418).await;
    assert_eq!(res.status(), 418, "the upstream's own status, passed on");
    assert!(header(&res, "deprecation").is_some());
    assert_eq!(header(&res, "x-upstream").as_deref(), Some("yes"));
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/json"),
        "the upstream's error body is never rewritten into a problem"
    );
}

#[tokio::test]
async fn a_principal_over_its_quota_is_refused_before_the_upstream() {
    let up = Upstream::start();
    let app = fronting(
        &orders(&up, ""),
        &[
            ("rate_per_minute", "1"),
            ("rate_burst", "1"),
            ("upload_cost", "1"),
        ],
    )
    .await;
    let alice = app.user("alice");
    assert_eq!(
        call(&app, Method::GET, "/orders/echo/q1", &alice)
            .await
            .status(),
        200
    );
    let res = call(&app, Method::GET, "/orders/echo/q2", &alice).await;
    assert!(header(&res, "retry-after").is_some());
    assert_problem(res, 429, crate::helpers::QUOTA_EXCEEDED).await;
    assert!(up.requests_to("/echo/q2").is_empty());
}

#[tokio::test]
async fn path_tricks_cannot_leave_a_prefix_or_reach_another_route() {
    let up = Upstream::start();
    let toml = format!(
        "{}[[upstreams]]\nname = \"billing\"\nprefix = \"/billing\"\nurl = \"{}/echo/billing-base\"\nstrip_prefix = true\n",
        orders(&up, ""),
        up.url()
    );
    let app = fronting(&toml, &[]).await;
    let alice = app.user("alice");
    // (request path, the path the upstream must see, or the refusal)
    let cases: [(&str, Result<&str, u16>); 9] = [
        ("/orders/echo/a/../b", Ok("/echo/b")),
        ("/orders/echo/%2e%2e/echo/c", Ok("/echo/c")),
        ("/orders/./echo//d", Ok("/echo/d")),
        ("/billing/x/../../orders/echo/e", Ok("/echo/e")),
        ("/orders/../billing/f", Ok("/echo/billing-base/f")),
        ("/billing/../../x", Err(400)),
        ("/billing/..%2f..%2fadmin", Err(400)),
        ("/orders/%5c..%5cx", Err(400)),
        ("/orders/../api/photos", Ok("photos")),
    ];
    for (path, want) in cases {
        let before = up.requests().len();
        // Sent raw: reqwest would resolve the dot segments itself.
        let res = crate::support::raw_http::raw_get(&app.address, path, &alice).await;
        match want {
            Ok("photos") => {
                assert_eq!(
                    res.0, 404,
                    "{path}: a built-in route is never reached through a prefix trick"
                );
                assert_eq!(up.requests().len(), before, "{path}");
            }
            Ok(seen) => {
                assert_eq!(res.0, 200, "{path}: {}", res.1);
                let last = up.requests().pop().unwrap();
                assert_eq!(last.path, seen, "{path}");
            }
            Err(status) => {
                assert_eq!(res.0, status, "{path}: {}", res.1);
                assert_eq!(up.requests().len(), before, "{path} reached the upstream");
            }
        }
    }
}

#[tokio::test]
async fn a_public_route_needs_no_credentials_and_hands_on_no_identity() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, "public = true"), &[]).await;
    let res = app
        .client
        .get(format!("{}/orders/echo/pub", app.address))
        .header("X-Cutover-Principal", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = up.requests_to("/echo/pub").pop().unwrap();
    let mut family: Vec<String> = seen
        .headers_starting("x-cutover-")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    family.sort();
    assert_eq!(
        family,
        ["x-cutover-request-id", "x-cutover-upstream"],
        "{family:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_passed_on_never_followed_and_an_upgrade_is_refused() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[]).await;
    let alice = app.user("alice");
    let res = call(&app, Method::GET, "/orders/redirect", &alice).await;
    assert_eq!(res.status(), 302);
    assert_eq!(
        header(&res, "location").as_deref(),
        Some(crate::support::upstream::REDIRECT_TO)
    );
    let res = app
        .request(Method::GET, "/orders/echo/ws", &alice)
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 501, "upgrade-not-supported").await;
    assert!(body["detail"].as_str().unwrap().contains("orders"));
    assert!(up.requests_to("/echo/ws").is_empty());
}

#[tokio::test]
async fn forwarded_requests_are_counted_per_upstream_and_the_ledger_names_the_route() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[("usage_flush_secs", "1")]).await;
    let key = Auth::Key(app.add_key("legacy-cron", None));
    assert_eq!(
        crate::helpers::eventually_at(&app, "/orders/echo/m", &key, 200)
            .await
            .status(),
        200
    );
    let _ = call(&app, Method::GET, "/orders/status/503", &app.user("alice")).await;
    let text = app.metrics_text().await;
    assert!(
        text.contains(r#"cutover_upstream_requests_total{upstream="orders",class="2xx"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"cutover_upstream_requests_total{upstream="orders",class="5xx"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"cutover_upstream_latency_ms_count{upstream="orders"}"#));
    // The ledger: `cutover clients` names the route the key calls.
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    loop {
        let (ok, out, err) = app.cli(&["clients", "--format", "json"]);
        assert!(ok, "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let routes = doc["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key_id"] == "legacy-cron")
            .map(|c| c["routes"].clone());
        if routes
            .as_ref()
            .is_some_and(|r| r["orders"].as_u64() >= Some(1))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no route in {out}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let (ok, table, err) = app.cli(&["clients"]);
    assert!(ok, "{err}");
    let row = table
        .lines()
        .find(|l| l.starts_with("legacy-cron"))
        .unwrap();
    assert!(
        row.contains("orders ("),
        "the table names the route: {table}"
    );
    let console = app.admin_get("/console").await.text().await.unwrap();
    assert!(
        console.contains(r#"<td class="routes">orders ("#),
        "the console names the route"
    );
}

#[tokio::test]
async fn the_assertions_jwks_and_forward_auth_answer_without_and_with_credentials() {
    let up = Upstream::start();
    let app = fronting(&orders(&up, ""), &[]).await;
    let res = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "public keys need no sign-in");
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/jwk-set+json")
    );
    let jwks: Value = res.json().await.unwrap();
    assert!(jwks["keys"].is_array());

    let verify = |auth: &Auth, method: &str, uri: &str| {
        app.request(Method::GET, "/gateway/verify", auth)
            .header("X-Original-Method", method)
            .header("X-Original-URI", uri)
            .send()
    };
    let res = verify(&Auth::None, "GET", "/orders/x").await.unwrap();
    assert_problem(res, 401, "unauthorized").await;
    let reader = Auth::Bearer(app.token("r", "photos/read"));
    let res = verify(&reader, "GET", "/orders/x").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-cutover-principal").as_deref(), Some("r"));
    assert_eq!(
        header(&res, "x-cutover-upstream").as_deref(),
        Some("orders")
    );
    let res = verify(&reader, "POST", "/orders/x").await.unwrap();
    assert_problem(res, 403, "insufficient-scope").await;
    // Traefik's names, and Envoy's path form.
    let res = app
        .request(Method::GET, "/gateway/verify", &reader)
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Uri", "/orders/7?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = call(&app, Method::DELETE, "/gateway/verify/orders/7", &reader).await;
    assert_problem(res, 403, "insufficient-scope").await;
    let res = call(&app, Method::GET, "/gateway/verify/orders/7", &reader).await;
    assert_eq!(res.status(), 200);
    let res = call(&app, Method::GET, "/gateway/verify", &reader).await;
    assert_problem(res, 400, "bad-request").await;
    assert!(up.requests().is_empty(), "forward auth forwards nothing");
}

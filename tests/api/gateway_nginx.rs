//! The nginx fixture itself (`support::nginx`): nginx's `auth_request` in front of the test
//! upstream, with the verifier played by the upstream's `/status/<code>`, so the config the docs
//! show is checked before cutover answers it (the forward-auth tests run it against cutover).

use serde_json::Value;

use crate::needs_nginx;
use crate::support::nginx::Nginx;
use crate::support::upstream::Upstream;

/// nginx in front of `up`, its verifier answering `status`.
async fn nginx_verified_by(up: &Upstream, status: u16) -> Nginx {
    let upstream = format!("127.0.0.1:{}", up.port());
    Nginx::start(&upstream, &format!("{}/status/{status}", up.url())).await
}

#[tokio::test]
async fn an_allowed_request_reaches_the_upstream_without_forged_identity_or_credentials() {
    needs_nginx!();
    let up = Upstream::start();
    let nginx = nginx_verified_by(&up, 200).await;
    let res = reqwest::Client::new()
        .post(format!("{}/echo/orders?x=1", nginx.url()))
        .header("X-Cutover-Principal", "forged")
        .header("X-Cutover-Assertion", "forged")
        .header("X-API-KEY", "the-callers-key")
        .header("Authorization", "Bearer the-callers-token")
        .body("ten bytes!")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", nginx.error_log());
    let echo: Value = res.json().await.unwrap();
    assert_eq!(echo["path"], "/echo/orders");
    assert_eq!(echo["body_len"], 10);

    // The verifier was asked first, with the original request named and without its body,
    // and saw the caller's credentials.
    let asked = up.requests_to("/status/200");
    assert_eq!(asked.len(), 1, "{:?}", up.requests());
    assert_eq!(asked[0].header("x-original-uri"), Some("/echo/orders?x=1"));
    assert_eq!(asked[0].header("x-original-method"), Some("POST"));
    assert_eq!(asked[0].header("content-length"), None);
    assert_eq!(asked[0].header("x-api-key"), Some("the-callers-key"));
    // The upstream got none of the caller's identity headers or credentials.
    let reached = up.requests_to("/echo/");
    assert_eq!(reached.len(), 1);
    assert_eq!(reached[0].headers_starting("x-cutover-"), vec![]);
    assert_eq!(reached[0].header("x-api-key"), None);
    assert_eq!(reached[0].header("authorization"), None);
}

#[tokio::test]
async fn a_refusal_reaches_the_client_with_its_status_and_the_upstream_is_not_called() {
    needs_nginx!();
    let up = Upstream::start();
    // 401 and 403 nginx passes on itself; 429 only through the template's error_page.
    for status in [401u16, 403, 429] {
        let nginx = nginx_verified_by(&up, status).await;
        let res = reqwest::get(format!("{}/echo/orders", nginx.url()))
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{}", nginx.error_log());
    }
    assert_eq!(up.requests_to("/status/").len(), 3);
    assert!(up.requests_to("/echo/").is_empty(), "{:?}", up.requests());
}

/// nginx in front of `up`, asking the cutover app `app` (with `up` as its `orders` upstream).
async fn nginx_verified_by_cutover(up: &Upstream, app: &crate::helpers::TestApp) -> Nginx {
    let upstream = format!("127.0.0.1:{}", up.port());
    Nginx::start(&upstream, &format!("{}/gateway/verify", app.address)).await
}

#[tokio::test]
async fn nginx_asks_cutover_and_the_upstream_gets_the_identity_or_the_client_the_refusal() {
    needs_nginx!();
    let up = Upstream::start();
    // The route `orders` names the upstream's `/echo/...` paths, with scopes of its own.
    let toml = format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/echo\"\nurl = \"{}\"\nread_scope = \"orders/read\"\nwrite_scope = \"orders/write\"\n",
        up.url()
    );
    let app = crate::gateway::fronting(&toml, &[]).await;
    let nginx = nginx_verified_by_cutover(&up, &app).await;
    let client = reqwest::Client::new();
    let reader = app.token("alice", "orders/read");

    let res = client
        .get(format!("{}/echo/orders/7", nginx.url()))
        .bearer_auth(&reader)
        .header("X-Cutover-Principal", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", nginx.error_log());
    let reached = up.requests_to("/echo/orders/7");
    assert_eq!(reached.len(), 1);
    assert_eq!(reached[0].header("x-cutover-principal"), Some("alice"));
    assert_eq!(reached[0].header("x-cutover-upstream"), Some("orders"));
    assert_eq!(reached[0].header("x-cutover-auth-method"), Some("jwt"));
    assert_eq!(reached[0].header("authorization"), None);

    // No credentials: 401 with cutover's challenge; a reader writing: 403. Neither reaches it.
    let res = client
        .get(format!("{}/echo/orders/anon", nginx.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")),
        "{:?}",
        res.headers()
    );
    let res = client
        .post(format!("{}/echo/orders/write", nginx.url()))
        .bearer_auth(&reader)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(up.requests_to("/echo/orders/anon").is_empty());
    assert!(up.requests_to("/echo/orders/write").is_empty());
}

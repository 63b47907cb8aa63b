//! Readiness as the tests read it: the public `/readyz` verdict, held whole (a body that says
//! more than its reason word fails), and the admin listener's `/admin/health` with the details,
//! for an in-process app and for `cutover serve` in a child alike.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::support::serve::ServeProcess;

/// An instance readiness can be asked of: its public listener, and a `GET` on its admin
/// listener as an operator (each kind's own `admin_get`, which carries the credentials).
pub trait Instance {
    fn public(&self) -> &str;
    fn admin<'a>(&'a self, path: &'a str) -> impl Future<Output = Response> + 'a;
}

impl Instance for TestApp {
    fn public(&self) -> &str {
        &self.address
    }
    fn admin<'a>(&'a self, path: &'a str) -> impl Future<Output = Response> + 'a {
        self.admin_get(path)
    }
}

impl Instance for ServeProcess {
    fn public(&self) -> &str {
        &self.address
    }
    fn admin<'a>(&'a self, path: &'a str) -> impl Future<Output = Response> + 'a {
        self.admin_get(path)
    }
}

/// The public answer while not ready for `reason`, whole: the problem's members and the reason,
/// nothing else (no issuer, no key set's age, no error class, no store name but the reason).
pub fn not_ready(reason: &str) -> Value {
    json!({
        "type": "urn:cutover:problem:not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": format!("not ready: {reason}"),
        "reason": reason,
    })
}

/// `GET /readyz` on the public listener, without credentials: its status and whole body,
/// checked as exactly `{"status":"ready"}` or as [`not_ready`] (with `Retry-After`).
pub async fn readyz(app: &impl Instance) -> (u16, Value) {
    let res = reqwest::get(format!("{}/readyz", app.public()))
        .await
        .unwrap();
    verdict(res).await
}

async fn verdict(res: Response) -> (u16, Value) {
    match res.status().as_u16() {
        503 => {
            assert!(res.headers().contains_key("retry-after"), "{res:?}");
            let body = assert_problem(res, 503, "not-ready").await;
            let reason = body["reason"].as_str().unwrap_or_default();
            assert_eq!(
                body,
                not_ready(reason),
                "the public answer tells only its reason"
            );
            (503, body)
        }
        200 => {
            let body: Value = res.json().await.unwrap();
            assert_eq!(
                body,
                json!({ "status": "ready" }),
                "the public answer tells only ready"
            );
            (200, body)
        }
        status => panic!("/readyz answered {status}: {}", res.text().await.unwrap()),
    }
}

/// `GET /admin/health` on the admin listener, as an operator: its status and body (a 503
/// checked as the `not-ready` problem).
pub async fn admin_health(app: &impl Instance) -> (u16, Value) {
    health_answer(app.admin("/admin/health").await).await
}

/// An `/admin/health` answer asked for with other credentials (an operator of another issuer).
pub async fn health_answer(res: Response) -> (u16, Value) {
    match res.status().as_u16() {
        503 => (503, assert_problem(res, 503, "not-ready").await),
        status => (status, res.json().await.unwrap()),
    }
}

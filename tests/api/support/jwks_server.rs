//! A loopback JWKS endpoint for the external-issuer tests: one route, `/jwks.json`, answered by
//! the test's handler; stopped when the returned handle is dropped by its owner.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, Route};

/// Serves `route()` at `/jwks.json` on a free loopback port; returns its URL and the handle.
pub fn serve<F>(route: F) -> (String, ServerHandle)
where
    F: Fn() -> Route + Send + Clone + 'static,
{
    let server = HttpServer::new(move || App::new().route("/jwks.json", route()))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/jwks.json"), handle)
}

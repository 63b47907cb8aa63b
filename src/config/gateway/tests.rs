use crate::config::{ConfigError, Settings};

fn with_file(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cutover.toml");
    std::fs::write(&path, toml).unwrap();
    let mut vars = vec![("CUTOVER_CONFIG".to_string(), path.display().to_string())];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_env(vars)
}

fn refusal(toml: &str) -> String {
    match with_file(toml, &[]) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

fn table(extra: &str) -> String {
    format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"http://127.0.0.1:8081\"\n{extra}\n"
    )
}

#[test]
fn a_plain_table_gets_the_defaults_of_a_json_api() {
    let s = with_file(&table(""), &[]).unwrap();
    let u = &s.gateway.upstreams[0];
    assert_eq!(u.name, "orders");
    assert_eq!(u.prefix.as_str(), "/orders");
    assert_eq!(u.authority, "127.0.0.1:8081");
    assert_eq!(u.base_path, "");
    assert!(!u.strip_prefix && !u.public && !u.preserve_host && !u.forward_authorization);
    assert_eq!(u.read_scope.as_ref().unwrap().as_str(), "photos/read");
    assert_eq!(u.write_scope.as_ref().unwrap().as_str(), "photos/write");
    assert_eq!(u.timeout.as_secs(), 30);
    assert!(u.upstream_key.is_none());
    assert!(s.gateway.upstreams.len() == 1);
}

#[test]
fn scopes_and_the_upstream_key_are_read_from_the_table() {
    let s = with_file(
        &table("read_scope = \"orders/read\"\nwrite_scope = \"\"\nupstream_key_file = \"/run/orders.key\""),
        &[],
    )
    .unwrap();
    let u = &s.gateway.upstreams[0];
    assert_eq!(u.read_scope.as_ref().unwrap().as_str(), "orders/read");
    assert!(
        u.write_scope.is_none(),
        "an empty scope switches the check off"
    );
    let key = u.upstream_key.as_ref().unwrap();
    assert_eq!(key.header, "X-API-KEY");
}

#[test]
fn every_bad_table_stops_the_start_naming_the_table() {
    let cases = [
        (table("colour = \"red\""), "unknown field"),
        (
            table("").replace("/orders", "/api/orders"),
            "shadows cutover's own /api",
        ),
        (table("").replace("/orders", "/"), "at least one segment"),
        (table("").replace("/orders", "/.well-known/x"), "shadows"),
        (table("").replace("/orders", "/or ders"), "prefix"),
        (
            table("").replace("http://127.0.0.1:8081", "ftp://x"),
            "not http or https",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://u:p@x"),
            "expected http(s)://host[:port][/path]",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://x/?a=1"),
            "a query or fragment",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://x:0"),
            "bad host or port",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://x:99999"),
            "bad host or port",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://"),
            "no host",
        ),
        (
            table("").replace("http://127.0.0.1:8081", "http://x/a/../b"),
            "dot segments",
        ),
        (
            table("").replace("\"orders\"", "\"Orders\""),
            "expected 1 to 32",
        ),
        (table("timeout_secs = 0"), "timeout_secs"),
        (
            table("public = true\nupstream_key_file = \"/k\""),
            "choose one",
        ),
        (
            table("upstream_key_file = \"/k\"\nupstream_key_secret_id = \"s\""),
            "choose one",
        ),
        (
            table("upstream_key_header = \"X-Key\""),
            "without upstream_key_file",
        ),
        (
            table("upstream_key_file = \"/k\"\nupstream_key_header = \"Connection\""),
            "sets or removes itself",
        ),
        (
            table("upstream_key_file = \"/k\"\nupstream_key_header = \"X-Cutover-Principal\""),
            "sets or removes itself",
        ),
        (
            table("upstream_key_file = \"/k\"\nupstream_key_header = \"a b\""),
            "not a header name",
        ),
        (table("read_scope = \"a b\""), "read_scope"),
    ];
    for (toml, want) in cases {
        let message = refusal(&toml);
        assert!(message.contains("CUTOVER_UPSTREAMS"), "{toml}: {message}");
        assert!(message.contains(want), "{toml}: {message}");
    }
}

#[test]
fn two_tables_may_not_share_a_name_or_overlap() {
    let two = |second: &str| format!("{}{}", table(""), second);
    let other = |name: &str, prefix: &str| {
        format!(
            "[[upstreams]]\nname = \"{name}\"\nprefix = \"{prefix}\"\nurl = \"http://127.0.0.1:1\"\n"
        )
    };
    let message = refusal(&two(&other("orders", "/billing")));
    assert!(message.contains("taken twice"), "{message}");
    let message = refusal(&two(&other("v2", "/orders/v2")));
    assert!(
        message.contains("[[upstreams]] \"v2\"") && message.contains("overlaps"),
        "{message}"
    );
    assert!(with_file(&two(&other("archive", "/orders-archive")), &[]).is_ok());
}

#[test]
fn upstreams_come_only_from_the_file_and_the_assertion_lifetime_is_bounded() {
    let message = Settings::from_env([("CUTOVER_UPSTREAMS".to_string(), "x".to_string())])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("only the CUTOVER_CONFIG file"),
        "{message}"
    );
    for ttl in ["59", "3601", "0"] {
        let message = with_file("", &[("CUTOVER_GATEWAY_ASSERTION_TTL_SECS", ttl)])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("CUTOVER_GATEWAY_ASSERTION_TTL_SECS"),
            "{message}"
        );
    }
    let s = with_file("", &[]).unwrap();
    assert!(s.gateway.upstreams.is_empty());
    assert_eq!(s.gateway.assertion_ttl.as_secs(), 300);
}

#[test]
fn the_file_may_come_as_text_in_a_variable_but_not_beside_a_file() {
    let text = table("");
    let s = Settings::from_env([("CUTOVER_CONFIG_TOML".to_string(), text.clone())]).unwrap();
    assert_eq!(s.gateway.upstreams[0].name, "orders");
    let message = Settings::from_env([(
        "CUTOVER_CONFIG_TOML".to_string(),
        "[[upstreams]]\nname = 1\n".to_string(),
    )])
    .unwrap_err()
    .to_string();
    assert!(message.contains("CUTOVER_UPSTREAMS"), "{message}");
    let message = Settings::from_env([
        ("CUTOVER_CONFIG_TOML".to_string(), text),
        (
            "CUTOVER_CONFIG".to_string(),
            "/etc/cutover.toml".to_string(),
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("CUTOVER_CONFIG_TOML") && message.contains("not both"),
        "{message}"
    );
    let message = Settings::from_env([("CUTOVER_CONFIG_TOML".to_string(), "x = [".to_string())])
        .unwrap_err()
        .to_string();
    assert!(message.contains("CUTOVER_CONFIG_TOML"), "{message}");
}

#[test]
fn the_built_in_api_s_name_is_taken_and_a_table_may_refuse_keys_for_good() {
    let err = refusal(&table("").replace("\"orders\"", "\"photos\""));
    assert!(err.contains("is the built-in API's"), "{err}");
    let err = refusal(&table("").replace("\"orders\"", "\"list\""));
    assert!(err.contains("is a route of the built-in API"), "{err}");
    let s = with_file(&table("api_keys = \"never\""), &[]).unwrap();
    assert_eq!(
        s.gateway.upstreams[0].key_policy,
        crate::config::KeyPolicy::Never
    );
    let default = with_file(&table(""), &[]).unwrap();
    assert_eq!(
        default.gateway.upstreams[0].key_policy,
        crate::config::KeyPolicy::Migrating
    );
    let err = refusal(&table("api_keys = \"sometimes\""));
    assert!(
        err.contains("api_keys") || err.contains("sometimes"),
        "{err}"
    );
    assert_eq!(
        default.gateway.api_names().collect::<Vec<_>>(),
        ["photos", "orders"]
    );
}

#[test]
fn a_thousand_apis_are_read_and_named_in_table_order() {
    let toml: String = (0..1000)
        .map(|i| {
            format!(
                "[[upstreams]]\nname = \"api-{i}\"\nprefix = \"/api-{i}\"\nurl = \"http://127.0.0.1:8081\"\n\n"
            )
        })
        .collect();
    let s = with_file(&toml, &[]).unwrap();
    let names: Vec<&str> = s.gateway.api_names().collect();
    assert_eq!(names.len(), 1001);
    assert_eq!(names[0], "photos");
    assert_eq!(names[1000], "api-999");
}

#[test]
fn an_api_s_migration_guide_must_fit_a_link_header() {
    let s = with_file(
        &table("migration_url = \"https://docs.example.com/orders\""),
        &[],
    )
    .unwrap();
    assert_eq!(
        s.gateway.upstreams[0].migration_url.as_deref(),
        Some("https://docs.example.com/orders")
    );
    for bad in [
        "ftp://x",
        "https://x/a b",
        "https://x/<a>",
        "https://x/\\\"q",
    ] {
        let err = refusal(&table(&format!("migration_url = \"{bad}\"")));
        assert!(err.contains("migration_url"), "{bad}: {err}");
    }
}

use super::*;
use crate::domain::FallbackMode;

pub(super) fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_pairs(pairs.iter().copied())
}

pub(super) fn error(pairs: &[(&str, &str)]) -> String {
    settings(pairs).expect_err("should be refused").to_string()
}

#[test]
fn no_settings_at_all_is_the_embedded_default() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(s.data_dir, std::path::PathBuf::from("./data"));
    assert_eq!(s.storage, StorageSettings::Local);
    assert!(s.dev_issuer());
    assert_eq!(s.api_keys.source, KeySourceSettings::File);
    assert_eq!(s.fallback.initial, FallbackMode::Allow);
    assert_eq!(s.metrics.sink, MetricsSink::Prometheus);
    assert_eq!(s.uploads.max_bytes, 26_214_400);
    assert!(s.uploads.allowed_types.allows("image/heic"));
    assert!(!s.uploads.allowed_types.allows("text/html"));
    assert_eq!(
        (s.rate.per_minute, s.rate.burst, s.rate.upload_cost),
        (600, 60, 10)
    );
}

#[test]
fn unknown_and_inconsistent_settings_are_refused_naming_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("listne", "x")], "CUTOVER_LISTNE"),
        (&[("storage", "aws")], "CUTOVER_S3_BUCKET"),
        (
            &[("storage", "aws"), ("s3_bucket", "b")],
            "CUTOVER_DYNAMODB_TABLE",
        ),
        (&[("storage", "disk")], "CUTOVER_STORAGE"),
        (
            &[("jwt_issuer", "https://i.example")],
            "CUTOVER_JWT_CLIENT_IDS",
        ),
        (
            &[("jwt_jwks_url", "https://i.example/jwks")],
            "CUTOVER_JWT_JWKS_URL",
        ),
        (&[("jwt_token_use", "refresh")], "CUTOVER_JWT_TOKEN_USE"),
        (
            &[("api_keys_source", "secretsmanager")],
            "CUTOVER_API_KEYS_SECRET_ID",
        ),
        (&[("api_key_fallback", "maybe")], "CUTOVER_API_KEY_FALLBACK"),
        (
            &[
                ("deprecation_date", "2027-01-01"),
                ("sunset_date", "2026-12-01"),
            ],
            "CUTOVER_SUNSET_DATE",
        ),
        (&[("sunset_date", "next tuesday")], "CUTOVER_SUNSET_DATE"),
        (
            &[("migration_url", "docs/migrate")],
            "CUTOVER_MIGRATION_URL",
        ),
        (&[("max_upload_bytes", "0")], "CUTOVER_MAX_UPLOAD_BYTES"),
        (&[("rate_per_minute", "lots")], "CUTOVER_RATE_PER_MINUTE"),
        (&[("upload_cost", "100")], "CUTOVER_UPLOAD_COST"),
        (&[("listen", "localhost")], "CUTOVER_LISTEN"),
        (
            &[("trusted_proxies", "10.0.0.0/33")],
            "CUTOVER_TRUSTED_PROXIES",
        ),
        (&[("metrics_sink", "statsd")], "CUTOVER_METRICS_SINK"),
    ];
    for (pairs, name) in cases {
        let message = error(pairs);
        assert!(message.contains(name), "{pairs:?}: {message}");
    }
}

#[test]
fn a_real_issuer_defaults_its_jwks_url_and_turns_the_dev_issuer_off() {
    let s = settings(&[
        (
            "jwt_issuer",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
        ),
        ("jwt_client_ids", "a, b"),
        ("jwt_token_use", "access,id"),
    ])
    .unwrap();
    assert!(!s.dev_issuer());
    let [one] = s.jwt.issuers.as_slice() else {
        panic!("one issuer: {:?}", s.jwt.issuers)
    };
    match &one.source {
        IssuerSettings::External { jwks_url, .. } => assert_eq!(
            jwks_url,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
        ),
        IssuerSettings::Dev => unreachable!(),
    }
    assert_eq!(one.client_ids, ["a", "b"]);
    assert!(one.accept_access && one.accept_id);
}

#[test]
fn the_toml_file_is_a_layer_under_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cutover.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:7000\"\nrate_burst = 90\nallowed_types = [\"image/png\"]\n",
    )
    .unwrap();
    let env = [
        ("CUTOVER_CONFIG".to_string(), path.display().to_string()),
        ("CUTOVER_RATE_BURST".to_string(), "120".to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    let s = Settings::from_env(env).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:7000");
    assert_eq!(s.rate.burst, 120, "the environment wins");
    assert!(s.uploads.allowed_types.allows("image/png"));
    assert!(!s.uploads.allowed_types.allows("image/jpeg"));

    std::fs::write(&path, "colour = \"blue\"\n").unwrap();
    let env = [("CUTOVER_CONFIG".to_string(), path.display().to_string())];
    assert!(
        Settings::from_env(env)
            .unwrap_err()
            .to_string()
            .contains("CUTOVER_COLOUR")
    );
}

fn rate(pairs: &[(&str, &str)]) -> Result<RateSettings, ConfigError> {
    Settings::from_pairs(pairs.iter().copied()).map(|s| s.rate)
}

#[test]
fn rate_instances_divide_every_quota() {
    let r = rate(&[("rate_instances", "4")]).unwrap();
    assert_eq!(r.per_instance(r.per_minute), 150);
    assert_eq!(r.per_instance(r.burst), 15);
    assert_eq!(r.per_instance(r.auth_failures_per_minute), 7);
    assert_eq!(rate(&[]).unwrap().instances, 1);
}

#[test]
fn rate_instances_that_leave_an_instance_nothing_stop_the_start() {
    for (pairs, named) in [
        (
            vec![("rate_instances", "31")],
            "CUTOVER_AUTH_FAILURES_PER_MINUTE",
        ),
        (vec![("rate_instances", "7")], "CUTOVER_UPLOAD_COST"),
        (vec![("rate_instances", "0")], "CUTOVER_RATE_INSTANCES"),
    ] {
        let err = rate(&pairs).unwrap_err().to_string();
        assert!(err.contains(named), "{pairs:?}: {err}");
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Numeric and duration settings, each of which must turn any text into a typed value or
    /// an error that names it.
    const NUMERIC: &[&str] = &[
        "rate_per_minute",
        "rate_burst",
        "max_upload_bytes",
        "jwt_leeway_secs",
        "jwks_refresh_secs",
        "api_keys_refresh_secs",
        "usage_flush_secs",
        "metrics_interval_secs",
    ];

    /// Mostly number-like text (signs, huge values, spaces, units, non-ASCII digits), some of
    /// it anything at all.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i128>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| format!(" {n} ")),
            "[-+]?[0-9]{0,30}(\\.[0-9]{0,5})?(s|ms|e9)?",
            "[0-9\u{0660}-\u{0669}\u{FF10}-\u{FF19}]{1,6}",
            ".{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_numeric_setting_is_a_value_or_an_error_naming_it(
            name in prop::sample::select(NUMERIC),
            v in value(),
        ) {
            if let Err(e) = settings(&[(name, &v)]) {
                let named = format!("CUTOVER_{}", name.to_uppercase());
                prop_assert!(e.to_string().contains(&named), "{name}={v:?}: {e}");
            }
        }
    }
}

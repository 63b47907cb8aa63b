use super::*;
use crate::config::Settings;

/// The upstreams of a config file with one table whose key is the file at `path`.
fn upstreams(path: &std::path::Path) -> Vec<UpstreamSettings> {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cutover.toml");
    let toml = format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"http://127.0.0.1:8081\"\nupstream_key_file = {:?}\nupstream_key_header = \"X-Legacy-Key\"\n\n[[upstreams]]\nname = \"open\"\nprefix = \"/open\"\nurl = \"http://127.0.0.1:8082\"\n",
        path.display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let vars = [("CUTOVER_CONFIG".to_string(), config.display().to_string())];
    Settings::from_env(vars).unwrap().gateway.upstreams
}

async fn refusal(content: Option<&[u8]>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    if let Some(content) = content {
        std::fs::write(&path, content).unwrap();
    }
    match UpstreamKeys::load(&upstreams(&path), None).await {
        Ok(_) => panic!("accepted {content:?}"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_key_file_is_read_whole_and_trimmed_for_its_upstream_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "  s3cr3t-legacy-key\n").unwrap();
    let keys = UpstreamKeys::load(&upstreams(&path), None).await.unwrap();
    let (header, value) = keys.get(0).unwrap();
    assert_eq!(header, "X-Legacy-Key");
    assert_eq!(&*value, "s3cr3t-legacy-key");
    assert!(keys.get(1).is_none(), "the other upstream has no key");
    assert!(keys.get(2).is_none());
}

#[tokio::test]
async fn a_missing_file_stops_the_start_naming_the_upstream() {
    let why = refusal(None).await;
    assert!(
        why.contains("\"orders\"") && why.contains("No such file"),
        "{why}"
    );
}

#[tokio::test]
async fn an_empty_key_is_refused() {
    let why = refusal(Some(b" \n\t\n")).await;
    assert!(why.contains("\"orders\"") && why.contains("empty"), "{why}");
}

#[tokio::test]
async fn a_key_that_is_no_header_value_is_refused_without_showing_it() {
    for bad in [
        &b"line-one\nline-two"[..],
        "clé-secrète".as_bytes(),
        b"a\x01b",
    ] {
        let why = refusal(Some(bad)).await;
        assert!(
            why.contains("\"orders\"") && why.contains("header value"),
            "{why}"
        );
        assert!(!why.contains("line-one") && !why.contains("secr"), "{why}");
    }
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_key_and_a_good_one_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "first").unwrap();
    let keys = UpstreamKeys::load(&upstreams(&path), None).await.unwrap();
    std::fs::write(&path, "").unwrap();
    assert!(!keys.refresh().await);
    assert_eq!(&*keys.get(0).unwrap().1, "first");
    std::fs::write(&path, "second\n").unwrap();
    assert!(keys.refresh().await);
    assert_eq!(&*keys.get(0).unwrap().1, "second");
}

#[tokio::test]
async fn a_secret_without_aws_stops_the_start() {
    let mut upstream = upstreams(std::path::Path::new("/nonexistent"));
    if let Some(k) = upstream[0].upstream_key.as_mut() {
        k.source = UpstreamKeySource::SecretsManager("orders-key".into());
    }
    let Err(e) = UpstreamKeys::load(&upstream, None).await else {
        panic!("accepted without a client");
    };
    assert!(format!("{e:#}").contains("\"orders\""), "{e:#}");
}

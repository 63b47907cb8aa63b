//! The gateway's signing keys and the upstreams' static keys, as an operator and the start meet
//! them: the first start creates the key set (a 0600 file on the embedded backend, a secret on
//! AWS), `cutover gateway-key rotate|list` change and show it without ever printing a private
//! key, and an upstream's key is read from its secret, with its rotation picked up.
//!
//! The start is the library call `startup` makes (`Assertions::load` on the backends' store),
//! so these tests hold without the proxy.

use std::sync::Arc;

use cutover::backends::Backends;
use cutover::config::Settings;
use cutover::gateway::assertion::Assertions;
use cutover::gateway::upstream_key::UpstreamKeys;
use serde_json::Value;

use crate::helpers::{run_cli, settings_pairs};
use crate::support::moto::{self, unique_name};

/// Settings of a CLI run and a start beside it: a data dir of its own, and on AWS, moto's
/// storage and a secret name of its own.
struct Setup {
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    pairs: Vec<(String, String)>,
}

impl Setup {
    async fn new(aws: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_path_buf();
        let mut pairs = settings_pairs(&[
            ("data_dir", data_dir.display().to_string()),
            ("gateway_signing_secret_id", unique_name("cutover-gateway")),
            ("api_keys_refresh_secs", "30".into()),
            ("gateway_assertion_ttl_secs", "120".into()),
        ]);
        if aws {
            pairs.extend(moto::storage_pairs().await);
        }
        Setup {
            _dir: dir,
            data_dir,
            pairs,
        }
    }

    fn settings(&self) -> Settings {
        Settings::from_pairs(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap()
    }

    /// What `startup` does with the signing keys.
    async fn start(&self) -> Arc<Assertions> {
        let settings = self.settings();
        let backends = Backends::build(&settings).await.unwrap();
        Assertions::load(backends.gateway_keys, &settings.gateway)
            .await
            .unwrap()
    }

    fn cli(&self, args: &[&str]) -> (String, String) {
        let (ok, stdout, stderr) = run_cli(&self.pairs, args);
        assert!(ok, "{args:?} failed: {stderr}");
        (stdout, stderr)
    }

    fn listed(&self) -> Vec<Value> {
        let (stdout, _) = self.cli(&["gateway-key", "list", "--format", "json"]);
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        doc["keys"].as_array().unwrap().clone()
    }
}

fn jwks_kids(assertions: &Assertions) -> Vec<String> {
    let jwks: Value = serde_json::from_slice(&assertions.jwks()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// No private key anywhere in what the CLI printed: not the stored PKCS#8, nor a piece of it.
fn assert_no_private_key(stored: &str, printed: &str) {
    let doc: Value = serde_json::from_str(stored).unwrap();
    for key in doc["keys"].as_array().unwrap() {
        let pkcs8 = key["pkcs8"].as_str().unwrap();
        assert!(
            !printed.contains(&pkcs8[40..80]),
            "a private key was printed"
        );
    }
    assert!(!printed.contains("pkcs8"), "{printed}");
}

#[tokio::test]
async fn the_first_start_creates_the_key_file_and_the_cli_rotates_and_lists_without_private_keys() {
    let setup = Setup::new(false).await;
    let path = setup.data_dir.join("gateway-signing-key.json");
    let assertions = setup.start().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the private keys are the service user's only"
        );
    }
    let first = setup.listed();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["in_use"], true);
    assert_eq!(jwks_kids(&assertions), [first[0]["kid"].as_str().unwrap()]);

    let (stdout, stderr) = setup.cli(&["gateway-key", "rotate"]);
    let kid = stdout.trim().to_string();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the new kid alone on stdout: {stdout}"
    );
    assert!(
        stderr.contains(&kid) && stderr.contains("signs from"),
        "{stderr}"
    );
    let (table, _) = setup.cli(&["gateway-key", "list"]);
    let listed = setup.listed();
    assert_eq!(listed.len(), 2);
    let new = listed.iter().find(|k| k["kid"] == kid.as_str()).unwrap();
    let old = listed.iter().find(|k| k["kid"] != kid.as_str()).unwrap();
    assert_eq!(
        old["in_use"], true,
        "the old key signs until every instance has the new one"
    );
    assert_eq!(new["in_use"], false);
    // Refresh 30 s + a minute; the old key: the new one's sign_from + the 120 s life + 60 s.
    let sign_from = new["sign_from"].as_u64().unwrap();
    assert!(sign_from >= new["created"].as_u64().unwrap() + 90);
    assert_eq!(old["retire_after"].as_u64().unwrap(), sign_from + 180);
    assert!(
        table.contains(&kid) && table.contains("SIGNING FROM"),
        "{table}"
    );
    let stored = std::fs::read_to_string(&path).unwrap();
    assert_no_private_key(&stored, &format!("{stdout}{stderr}{table}{listed:?}"));

    // A running instance publishes the new key on its next read, before the key signs.
    assert!(assertions.refresh().await);
    assert_eq!(jwks_kids(&assertions).len(), 2);
    assert!(jwks_kids(&assertions).contains(&kid));
}

#[tokio::test]
async fn on_aws_the_keys_secret_is_created_once_on_first_start_and_rotations_at_once_all_land() {
    crate::aws_only!();
    let setup = Setup::new(true).await;
    let secret = setup.settings().gateway.signing_secret_id;
    // Two instances starting at once end with one key set.
    let (a, b) = tokio::join!(setup.start(), setup.start());
    assert_eq!(jwks_kids(&a), jwks_kids(&b));
    assert_eq!(jwks_kids(&a).len(), 1);
    let client = aws_sdk_secretsmanager::Client::new(&moto::sdk().await);
    let current = |client: aws_sdk_secretsmanager::Client| {
        let secret = secret.clone();
        async move {
            let out = client
                .get_secret_value()
                .secret_id(&secret)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .unwrap();
            out.secret_string().unwrap().to_string()
        }
    };
    let stored = current(client.clone()).await;
    assert_eq!(
        serde_json::from_str::<Value>(&stored).unwrap()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Two operators rotating at the same moment: both keys land (compare-and-swap).
    let pairs = setup.pairs.clone();
    let other = std::thread::spawn(move || run_cli(&pairs, &["gateway-key", "rotate"]));
    let (mine, _) = setup.cli(&["gateway-key", "rotate"]);
    let (ok, theirs, err) = other.join().unwrap();
    assert!(ok, "{err}");
    let stored = current(client).await;
    let doc: Value = serde_json::from_str(&stored).unwrap();
    let kids: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 3, "{kids:?}");
    assert!(kids.contains(&mine.trim()) && kids.contains(&theirs.trim()));
    let (table, _) = setup.cli(&["gateway-key", "list"]);
    assert_no_private_key(&stored, &format!("{mine}{theirs}{err}{table}"));
    assert!(a.refresh().await);
    assert_eq!(jwks_kids(&a).len(), 3, "published by the running instance");
}

#[tokio::test]
async fn on_aws_an_upstream_key_is_read_from_its_secret_and_its_rotation_is_picked_up() {
    crate::aws_only!();
    let client = aws_sdk_secretsmanager::Client::new(&moto::sdk().await);
    let secret = unique_name("orders-legacy-key");
    client
        .create_secret()
        .name(&secret)
        .secret_string("legacy-one\n")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cutover.toml");
    let table = |id: &str| {
        format!(
            "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"http://127.0.0.1:8081\"\nupstream_key_secret_id = \"{id}\"\n"
        )
    };
    std::fs::write(&config, table(&secret)).unwrap();
    let env = [
        ("CUTOVER_CONFIG".to_string(), config.display().to_string()),
        (
            "CUTOVER_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
    ];
    let settings = Settings::from_env(env.clone()).unwrap();
    let backends = Backends::build(&settings).await.unwrap();
    let secrets = backends.upstream_secrets.clone();
    assert!(secrets.is_some(), "a secret named: a client is built");
    let keys = UpstreamKeys::load(&settings.gateway.upstreams, secrets.clone())
        .await
        .unwrap();
    let (header, value) = keys.get(0).unwrap();
    assert_eq!((header, &*value), ("X-API-KEY", "legacy-one"));

    client
        .put_secret_value()
        .secret_id(&secret)
        .secret_string("legacy-two")
        .send()
        .await
        .unwrap();
    assert!(keys.refresh().await);
    assert_eq!(
        &*keys.get(0).unwrap().1,
        "legacy-two",
        "the upstream's rotation"
    );

    // A secret that does not exist stops the start, naming the upstream.
    std::fs::write(&config, table(&unique_name("missing"))).unwrap();
    let settings = Settings::from_env(env).unwrap();
    let Err(e) = UpstreamKeys::load(&settings.gateway.upstreams, secrets).await else {
        panic!("a missing secret was accepted");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains("\"orders\"") && message.contains("GetSecretValue"),
        "{message}"
    );
    assert!(!message.contains("legacy-"), "{message}");
}

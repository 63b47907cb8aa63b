//! `cutover keys add|rotate|revoke` racing each other: no change is lost, on the key file (a
//! lock) and on Secrets Manager (a compare-and-swap on `AWSCURRENT`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cutover::auth::api_key::file::FileKeys;
use cutover::auth::api_key::manage::{self, Quota};
use cutover::auth::api_key::ring::Stage;
use cutover::auth::api_key::secrets_manager::SecretsManagerKeys;
use cutover::auth::api_key::{KeyChange, KeyRing, KeySource, Versions};
use cutover::domain::KeyId;

use crate::support::moto::{self, unique_name};

const WRITERS: usize = 8;

fn id(s: &str) -> KeyId {
    KeyId::parse(s).unwrap()
}

fn key_file() -> (tempfile::TempDir, Arc<dyn KeySource>) {
    let dir = tempfile::tempdir().unwrap();
    let source = Arc::new(FileKeys::new(dir.path().join("api-keys.json")));
    (dir, source)
}

/// A fresh secret holding no keys, and a key source on it as `cutover keys` builds it.
async fn secret() -> (String, Arc<dyn KeySource>) {
    let name = unique_name("cutover-key-writes");
    let sdk = moto::sdk().await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(r#"{"keys":[]}"#)
        .send()
        .await
        .unwrap();
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    (
        name.clone(),
        Arc::new(SecretsManagerKeys::new(client, name)),
    )
}

/// `WRITERS` `keys add` at once, each with its own id; returns the ids in `AWSCURRENT`.
async fn concurrent_adds(source: &Arc<dyn KeySource>) -> Vec<String> {
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let source = source.clone();
            tokio::spawn(async move {
                manage::add(
                    &*source,
                    &id(&format!("client-{n}")),
                    None,
                    Quota::default(),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    current_ids(&source.load().await.unwrap())
}

fn current_ids(versions: &Versions) -> Vec<String> {
    let mut ids: Vec<String> = versions
        .current
        .keys
        .iter()
        .map(|k| k.id.to_string())
        .collect();
    ids.sort();
    ids
}

fn every_id() -> Vec<String> {
    let mut ids: Vec<String> = (0..WRITERS).map(|n| format!("client-{n}")).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_to_the_key_file_all_land() {
    let (_dir, source) = key_file();
    assert_eq!(concurrent_adds(&source).await, every_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_to_the_secret_all_land_in_awscurrent() {
    crate::aws_only!();
    let (_name, source) = secret().await;
    assert_eq!(concurrent_adds(&source).await, every_id());
}

/// A key source that runs `interference` (another writer's whole change) once, after the wrapped
/// writer has read the current version and before it writes: the race, made deterministic.
struct Interfered {
    inner: Arc<dyn KeySource>,
    interference: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

#[async_trait]
impl KeySource for Interfered {
    async fn load(&self) -> anyhow::Result<Versions> {
        self.inner.load().await
    }

    async fn update(&self, change: &KeyChange<'_>) -> anyhow::Result<()> {
        self.inner
            .update(&|doc| {
                if let Some(other_writer) = self.interference.lock().unwrap().take() {
                    other_writer();
                }
                change(doc)
            })
            .await
    }

    fn stores_plaintext(&self) -> bool {
        self.inner.stores_plaintext()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_racing_an_add_on_the_secret_keeps_the_rotated_key_and_the_added_one() {
    crate::aws_only!();
    let (_name, source) = secret().await;
    let old = manage::add(&*source, &id("legacy-mobile"), None, Quota::default())
        .await
        .unwrap();

    // The add lands while the rotation is in flight (it has read AWSCURRENT, not yet written).
    let other = source.clone();
    let added = Arc::new(Mutex::new(None));
    let added_key = added.clone();
    let interfered = Interfered {
        inner: source.clone(),
        interference: Mutex::new(Some(Box::new(move || {
            let handle = tokio::runtime::Handle::current();
            let key = tokio::task::block_in_place(|| {
                handle.block_on(manage::add(
                    &*other,
                    &id("legacy-tv"),
                    None,
                    Quota::default(),
                ))
            })
            .unwrap();
            *added_key.lock().unwrap() = Some(key);
        }))),
    };
    let rotated = manage::rotate(&interfered, &id("legacy-mobile"))
        .await
        .unwrap();

    let versions = source.load().await.unwrap();
    let ring = KeyRing::from_versions(&versions);
    assert_eq!(
        ring.find(&rotated).map(|m| m.stage),
        Some(Stage::Current),
        "the rotated key is AWSCURRENT"
    );
    let added = added.lock().unwrap().clone().unwrap();
    assert_eq!(
        ring.find(&added).map(|m| m.stage),
        Some(Stage::Current),
        "the add that landed during the rotation is still there"
    );
    assert_eq!(current_ids(&versions), ["legacy-mobile", "legacy-tv"]);
    assert_eq!(
        ring.find(&old).map(|m| m.stage),
        Some(Stage::Previous),
        "AWSPREVIOUS holds the version the rotation replaced, so the old key keeps its grace \
         until the next write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_racing_adds_on_the_key_file_keeps_the_rotated_key_and_the_added_ones() {
    let (_dir, source) = key_file();
    manage::add(&*source, &id("legacy-mobile"), None, Quota::default())
        .await
        .unwrap();
    let rotation = {
        let source = source.clone();
        tokio::spawn(async move { manage::rotate(&*source, &id("legacy-mobile")).await })
    };
    let adds: Vec<_> = (0..WRITERS)
        .map(|n| {
            let source = source.clone();
            tokio::spawn(async move {
                manage::add(
                    &*source,
                    &id(&format!("client-{n}")),
                    None,
                    Quota::default(),
                )
                .await
            })
        })
        .collect();
    let rotated = rotation.await.unwrap().unwrap();
    for add in adds {
        add.await.unwrap().unwrap();
    }

    let versions = source.load().await.unwrap();
    let found = KeyRing::from_versions(&versions).find(&rotated);
    assert_eq!(found.map(|m| m.stage), Some(Stage::Current));
    let mut expected = every_id();
    expected.push("legacy-mobile".to_string());
    expected.sort();
    assert_eq!(current_ids(&versions), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_leaves_no_staging_label_behind_and_awsprevious_on_the_version_it_replaced() {
    crate::aws_only!();
    let (name, source) = secret().await;
    manage::add(&*source, &id("a"), None, Quota::default())
        .await
        .unwrap();
    manage::add(&*source, &id("b"), None, Quota::default())
        .await
        .unwrap();

    let described = aws_sdk_secretsmanager::Client::new(&moto::sdk().await)
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    let mut labels: Vec<&str> = described
        .version_ids_to_stages()
        .unwrap()
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    labels.sort();
    assert_eq!(labels, ["AWSCURRENT", "AWSPREVIOUS"]);
    let versions = source.load().await.unwrap();
    let previous: Vec<String> = versions
        .previous
        .as_ref()
        .unwrap()
        .keys
        .iter()
        .map(|k| k.id.to_string())
        .collect();
    assert_eq!(previous, ["a"]);
    assert_eq!(current_ids(&versions), ["a", "b"]);
}

//! The report of one API, from one ledger of every API: the readiness verdict, its reasons, the
//! contact list and the suggested revocation of a key denied everywhere.

use super::*;
use crate::common::Route;
use crate::ledger::recorder::{Observation, Outcome, Recorder};
use crate::ledger::{Writer, hour_of};
use crate::storage::sqlite::Database;
use crate::storage::sqlite::ledger::SqliteLedger;

const NOW: u64 = 1_800_000_000;

fn key(s: &str) -> KeyId {
    KeyId::parse(s).unwrap()
}

/// `both` called orders and shop; `cron` was refused by a brownout on orders; photos carried
/// only JWT traffic; billing carried nothing.
async fn ledger(dir: &std::path::Path) -> SqliteLedger {
    let store = SqliteLedger::new(Database::open(dir).unwrap());
    let recorder = Recorder::default();
    let (both, cron) = (key("both"), key("cron"));
    let calls = [
        (&both, "orders", Outcome::Accepted),
        (&both, "orders", Outcome::Accepted),
        (&both, "shop", Outcome::Accepted),
        (&cron, "orders", Outcome::Refused("brownout")),
    ];
    for (i, (k, api, outcome)) in calls.into_iter().enumerate() {
        recorder.record(&Observation {
            route: Route::upstream(api),
            outcome,
            ..Observation::accepted(k, NOW - 3600 + i as u64)
        });
    }
    store
        .record(&recorder.drain(), Writer::new().next())
        .await
        .unwrap();
    let t = |jwt, api_key| Traffic { jwt, api_key };
    let apis = [
        ("photos".to_string(), t(5, 0)),
        ("orders".to_string(), t(0, 2)),
        ("shop".to_string(), t(0, 1)),
    ];
    store
        .add_api_traffic(hour_of(NOW - 3600), &apis)
        .await
        .unwrap();
    store
        .add_traffic(hour_of(NOW - 3600), &t(5, 3))
        .await
        .unwrap();
    store
}

fn modes(orders: FallbackMode, shop: FallbackMode) -> Modes {
    Modes::of_apis(
        FallbackMode::Allow,
        &[
            ("photos", FallbackMode::Allow),
            ("orders", orders),
            ("shop", shop),
            ("billing", FallbackMode::Allow),
        ],
    )
}

fn listed(r: &MigrationReport) -> Vec<&str> {
    r.clients
        .clients
        .iter()
        .map(|c| c.key_id.as_str())
        .collect()
}

#[tokio::test]
async fn each_api_is_assessed_on_its_own_key_traffic_and_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let store = ledger(dir.path()).await;
    let owners = [
        (key("both"), None),
        (key("cron"), None),
        (key("idle"), None),
    ];
    let modes = modes(FallbackMode::Warn, FallbackMode::Allow);
    let read = Ledgered::read(&store, 90, 7, NOW).await.unwrap();
    let of = |api| read.report(&store, &owners, api, &modes);

    let photos = of(Some("photos")).await.unwrap();
    assert!(photos.readiness.ready, "{:?}", photos.readiness.reasons);
    assert_eq!(photos.readiness.traffic, Traffic { jwt: 5, api_key: 0 });
    assert!(listed(&photos).is_empty(), "no key called photos");
    assert_eq!(
        photos.readiness.keys.len(),
        3,
        "every configured key has its row"
    );

    let orders = of(Some("orders")).await.unwrap();
    let reasons = orders.readiness.reasons.join("\n");
    assert!(!orders.readiness.ready);
    assert!(
        reasons.starts_with("key both made 2 requests to orders in the last 7 days"),
        "{reasons}"
    );
    assert!(
        reasons.contains("key cron kept calling during brownouts: 1 request"),
        "{reasons}"
    );
    assert_eq!(listed(&orders), ["both", "cron"]);
    let both = &orders.clients.clients[0];
    assert_eq!(
        (both.accepted, both.routes.len()),
        (2, 1),
        "orders' use only"
    );
    assert_eq!(orders.share.last().unwrap().traffic.api_key, 2);

    let shop = of(Some("shop")).await.unwrap();
    assert!(!shop.readiness.ready);
    assert_eq!(
        listed(&shop),
        ["both"],
        "a key that calls two APIs is under both"
    );
    assert_eq!(shop.clients.clients[0].accepted, 1);

    let billing = of(Some("billing")).await.unwrap();
    assert!(!billing.readiness.ready, "no traffic at all is not ready");
    assert_eq!(
        billing.readiness.reasons,
        [
            "the billing API carried no traffic at all in the last 7 days; \
          a silent API is not zero fallback"
        ]
    );

    let all = of(None).await.unwrap();
    assert_eq!(all.readiness.traffic, Traffic { jwt: 5, api_key: 3 });
    assert_eq!(all.readiness.keys[0].requests_window, 3);
    assert_eq!(
        listed(&all),
        ["both", "cron", "idle"],
        "the whole list, as before"
    );
}

#[tokio::test]
async fn a_key_whose_every_api_is_in_deny_is_suggested_for_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let store = ledger(dir.path()).await;
    let owners = [(key("both"), None), (key("cron"), None)];
    let action = |r: &MigrationReport, k: &str| {
        let row = r.clients.clients.iter().find(|c| c.key_id.as_str() == k);
        row.unwrap().suggested_action.clone()
    };
    let orders_denied = modes(FallbackMode::Deny, FallbackMode::Allow);
    let r = build_for(&store, &owners, 90, 7, NOW, None, &orders_denied)
        .await
        .unwrap();
    assert_eq!(
        action(&r, "cron"),
        "every API it calls is in deny (orders): revoke"
    );
    assert!(
        action(&r, "both").starts_with("machine client"),
        "shop still takes keys"
    );

    let both_denied = modes(FallbackMode::Deny, FallbackMode::Deny);
    let r = build_for(&store, &owners, 90, 7, NOW, Some("shop"), &both_denied)
        .await
        .unwrap();
    assert_eq!(
        action(&r, "both"),
        "every API it calls is in deny (orders, shop): revoke"
    );
}

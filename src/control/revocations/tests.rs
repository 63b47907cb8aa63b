use super::*;

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn entry(revoked: Revoked) -> Entry {
    Entry::new(revoked, NOW, DAY, 0).unwrap()
}

fn facts<'a>(
    p: &'a PrincipalId,
    jti: Option<&'a str>,
    origin: Option<&'a str>,
    iat: Option<u64>,
) -> TokenFacts<'a> {
    TokenFacts {
        principal: p,
        jti,
        origin_jti: origin,
        issued_at: iat,
        issuer: "",
        username: None,
    }
}

#[test]
fn a_deleted_user_is_revoked_by_name_in_its_pool_only_and_in_any_case() {
    const POOL: &str = "us-east-1_Abc123";
    let pool_issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let other_pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other9";
    let set = RevocationSet::new(
        &[entry(Revoked::Username {
            pool_id: POOL.into(),
            username: "Carol".into(),
            before: NOW - 10,
        })],
        NOW,
    );
    let sub = PrincipalId::from_sub("8d6f0c4e-sub").unwrap();
    let issuer = pool_issuer.as_str();
    let token = |issuer, username, iat| TokenFacts {
        issuer,
        username,
        ..facts(&sub, None, None, Some(iat))
    };
    assert!(set.token_revoked(&token(issuer, Some("carol"), NOW - 10)));
    assert!(set.token_revoked(&token(issuer, Some("CAROL"), NOW - 11)));
    assert!(
        !set.token_revoked(&token(issuer, Some("carol"), NOW - 9)),
        "issued after the deletion"
    );
    assert!(
        !set.token_revoked(&token(other_pool, Some("carol"), NOW - 10)),
        "another pool's carol"
    );
    assert!(
        !set.token_revoked(&token(issuer, Some("dave"), NOW - 10)),
        "another user"
    );
    assert!(
        !set.token_revoked(&token(issuer, None, NOW - 10)),
        "no name"
    );
    let client = PrincipalId::for_client("carol").unwrap();
    let machine = TokenFacts {
        issuer,
        username: Some("carol"),
        ..facts(&client, None, None, Some(NOW - 10))
    };
    assert!(!set.token_revoked(&machine), "a client is not a user");
}

#[test]
fn a_principal_is_revoked_up_to_its_cut_off_and_a_fresh_token_is_not() {
    let alice = PrincipalId::from_sub("alice").unwrap();
    let client = PrincipalId::for_client("alice").unwrap();
    let set = RevocationSet::new(
        &[entry(Revoked::Sub {
            sub: "alice".into(),
            before: NOW - 10,
        })],
        NOW,
    );
    assert!(set.token_revoked(&facts(&alice, None, None, Some(NOW - 10))));
    assert!(
        !set.token_revoked(&facts(&alice, None, None, Some(NOW - 9))),
        "issued after"
    );
    assert!(
        set.token_revoked(&facts(&alice, None, None, None)),
        "no iat: fail closed"
    );
    assert!(
        !set.token_revoked(&facts(&client, None, None, Some(0))),
        "the client named alice is not the user alice"
    );
    // Another issuer's alice is another user, revoked by her qualified name.
    let eu = crate::domain::Namespace::parse("eu").unwrap();
    let eu_alice = alice.clone().in_namespace(Some(&eu));
    assert!(!set.token_revoked(&facts(&eu_alice, None, None, Some(0))));
    let qualified = RevocationSet::new(
        &[entry(Revoked::Sub {
            sub: "ns:eu/alice".into(),
            before: NOW,
        })],
        NOW,
    );
    assert!(qualified.token_revoked(&facts(&eu_alice, None, None, Some(NOW))));
    assert!(!qualified.token_revoked(&facts(&alice, None, None, Some(0))));
}

#[test]
fn one_token_or_one_family_is_revoked_and_the_others_are_not() {
    let bob = PrincipalId::from_sub("bob").unwrap();
    let set = RevocationSet::new(
        &[
            entry(Revoked::Jti { jti: "j1".into() }),
            entry(Revoked::OriginJti {
                origin_jti: "session-1".into(),
            }),
        ],
        NOW,
    );
    assert!(set.token_revoked(&facts(&bob, Some("j1"), None, Some(NOW))));
    assert!(set.token_revoked(&facts(&bob, Some("j2"), Some("session-1"), Some(NOW))));
    assert!(!set.token_revoked(&facts(&bob, Some("j2"), Some("session-2"), Some(NOW))));
}

#[test]
fn an_entry_expires_once_no_token_it_covers_can_be_valid() {
    let e = entry(Revoked::Sub {
        sub: "alice".into(),
        before: NOW,
    });
    assert_eq!(e.expires, NOW + DAY);
    assert!(e.is_live(NOW + DAY - 1) && !e.is_live(NOW + DAY));
    assert!(RevocationSet::new(&[e], NOW + DAY).is_empty());
}

#[test]
fn bad_revocations_are_refused_before_anything_is_written() {
    let bad = [
        Revoked::Sub {
            sub: String::new(),
            before: NOW,
        },
        Revoked::Sub {
            sub: "apikey:legacy".into(),
            before: NOW,
        },
        Revoked::Sub {
            sub: "a b".into(),
            before: NOW,
        },
        Revoked::Sub {
            sub: "ns:eu/client:cron".into(),
            before: NOW,
        },
        Revoked::Sub {
            sub: "alice".into(),
            before: NOW + 61,
        },
        Revoked::Jti {
            jti: "x".repeat(257),
        },
        Revoked::Client {
            client_id: "no/slash".into(),
            before: NOW,
        },
        Revoked::Username {
            pool_id: "us-east-1_x/y".into(),
            username: "carol".into(),
            before: NOW,
        },
        Revoked::Username {
            pool_id: "us-east-1_x".into(),
            username: "a b".into(),
            before: NOW,
        },
    ];
    for r in bad {
        assert!(
            matches!(
                Entry::new(r.clone(), NOW, DAY, 60),
                Err(RevokeError::Invalid(_))
            ),
            "{r:?}"
        );
    }
    let within_leeway = Revoked::Sub {
        sub: "alice".into(),
        before: NOW + 60,
    };
    assert!(Entry::new(within_leeway, NOW, DAY, 60).is_ok());
}

#[test]
fn a_later_cut_off_is_not_a_duplicate_and_an_earlier_one_is() {
    let at = |before| {
        entry(Revoked::Sub {
            sub: "alice".into(),
            before,
        })
    };
    assert!(at(NOW).covers(&at(NOW - 5)));
    assert!(!at(NOW - 5).covers(&at(NOW)));
    let j = entry(Revoked::Jti { jti: "j".into() });
    assert!(j.covers(&j.clone()));
}

#[tokio::test]
async fn the_list_refuses_past_its_cap_and_a_later_cut_off_replaces_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::sqlite::Database::open(dir.path()).unwrap();
    let sub = |s: &str, before| {
        entry(Revoked::Sub {
            sub: s.into(),
            before,
        })
    };
    for s in ["a", "b", "c"] {
        revoke_within(&db, &sub(s, NOW - 10), NOW, 3).await.unwrap();
    }
    let full = revoke_within(&db, &sub("d", NOW), NOW, 3)
        .await
        .unwrap_err();
    assert!(
        matches!(full, RevokeFailure::Refused(RevokeError::Full)),
        "{full}"
    );
    assert!(full.to_string().contains("100000 live entries"), "{full}");
    let dup = revoke_within(&db, &sub("a", NOW - 20), NOW, 3)
        .await
        .unwrap_err();
    assert!(
        matches!(dup, RevokeFailure::Refused(RevokeError::Duplicate(..))),
        "{dup}"
    );
    // A later cut-off for a listed principal replaces its entry, even at the cap.
    revoke_within(&db, &sub("a", NOW), NOW, 3).await.unwrap();
    let live = list(&db, NOW).await.unwrap();
    assert_eq!(live.len(), 3);
    assert!(live.contains(&sub("a", NOW)));
    // Expired entries do not count, and the next write deletes them.
    let later = NOW + DAY + 1;
    assert!(list(&db, later).await.unwrap().is_empty());
    let version = db.revocations_version().await.unwrap();
    assert!(db.remove_revocation("sub:b").await.unwrap());
    assert!(
        !db.remove_revocation("sub:b").await.unwrap(),
        "gone already"
    );
    assert_eq!(db.revocations_version().await.unwrap(), version + 1);
}

#[test]
fn an_entry_round_trips_through_its_stored_json() {
    let e = entry(Revoked::OriginJti {
        origin_jti: "o".into(),
    });
    let text = serde_json::to_string(&e).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"kind":"origin_jti","origin_jti":"o","created":{NOW},"expires":{}}}"#,
            NOW + DAY
        )
    );
    assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), e);
}

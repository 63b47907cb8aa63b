//! End to end with moto's Cognito: a user pool, an app client and a user, a real
//! `InitiateAuth USER_PASSWORD_AUTH` sign-in, and the service verifying the real tokens against
//! moto's JWKS with the AWS-form issuer.

use crate::helpers::{Auth, ids, png};
use crate::support::cognito_pool::pool_with_user;

#[tokio::test]
async fn a_user_signed_in_with_moto_cognito_uploads_and_lists_with_the_access_token() {
    crate::aws_only!();
    let (pool, sub) = pool_with_user("alice").await;
    let app = pool.service().await.spawn().await;
    let auth = pool.sign_in("alice").await;

    let item = app
        .upload_ok(&auth, "cognito.png", png(b"from cognito"))
        .await;
    assert_eq!(item["owner"], sub.as_str());
    let list = app.list(&auth, "").await;
    assert_eq!(ids(&list), [item["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn the_id_token_of_a_moto_cognito_sign_in_is_refused_while_only_access_tokens_are_accepted() {
    crate::aws_only!();
    let (pool, _) = pool_with_user("alice").await;
    let app = pool.service().await.spawn().await;
    let tokens = pool.tokens("alice").await;
    let res = app
        .get("/api/photos", &Auth::Bearer(tokens.id.clone()))
        .await;
    assert_eq!(res.status(), 401);
    // The same sign-in's access token passes, so the refusal is about token_use alone.
    let res = app
        .get("/api/photos", &Auth::Bearer(tokens.access.clone()))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_user_in_the_pools_operators_group_opens_the_admin_listener_and_others_do_not() {
    crate::aws_only!();
    let (pool, _) = pool_with_user("olivia").await;
    pool.add_user("bob").await;
    pool.idp
        .create_group()
        .user_pool_id(&pool.id)
        .group_name(crate::helpers::OPERATORS)
        .send()
        .await
        .unwrap();
    pool.idp
        .admin_add_user_to_group()
        .user_pool_id(&pool.id)
        .username("olivia")
        .group_name(crate::helpers::OPERATORS)
        .send()
        .await
        .unwrap();
    let app = pool.service().await.spawn().await;
    let operator = pool.sign_in("olivia").await;
    let res = app.admin_get_as("/admin/migration", &operator).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let user = pool.sign_in("bob").await;
    let res = app.admin_get_as("/admin/migration", &user).await;
    crate::helpers::assert_problem(res, 403, "not-an-operator").await;
}

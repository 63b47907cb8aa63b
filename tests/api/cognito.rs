//! End to end with moto's Cognito: a user pool, an app client and a user, a real
//! `InitiateAuth USER_PASSWORD_AUTH` sign-in, and the service verifying the real tokens against
//! moto's JWKS with the AWS-form issuer.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, MessageActionType,
};

use crate::helpers::{Auth, TestApp, app, ids, png};
use crate::support::moto;

/// The only scope moto puts in access tokens.
const MOTO_SCOPE: &str = "aws.cognito.signin.user.admin";

struct SignedIn {
    pool_id: String,
    client_id: String,
    sub: String,
    access_token: String,
    id_token: String,
}

async fn sign_in_a_new_user() -> SignedIn {
    let idp = Client::new(&moto::sdk().await);
    let pool = idp
        .create_user_pool()
        .pool_name(moto::unique_name("cutover"))
        .send()
        .await
        .unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_string();
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("cutover-test")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    let password = "Correct-Horse-Battery-9";
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    idp.admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("alice")
        .password(password)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let user = idp
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .send()
        .await
        .unwrap();
    let sub = user
        .user_attributes()
        .iter()
        .find(|a| a.name() == "sub")
        .and_then(|a| a.value())
        .expect("moto gives users a sub")
        .to_string();
    let auth = idp
        .initiate_auth()
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .client_id(&client_id)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap();
    let tokens = auth
        .authentication_result()
        .expect("signed in, no challenge");
    SignedIn {
        access_token: tokens.access_token().unwrap().to_string(),
        id_token: tokens.id_token().unwrap().to_string(),
        pool_id,
        client_id,
        sub,
    }
}

/// The service configured for that pool the way it would be for real Cognito, except that
/// the keys come from moto.
async fn app_for(user: &SignedIn) -> TestApp {
    let region = moto::sdk().await.region().unwrap().to_string();
    let pool = &user.pool_id;
    let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let jwks_url = format!("{}/{pool}/.well-known/jwks.json", moto::endpoint());
    app()
        .with_issuer(&issuer, &jwks_url, &user.client_id)
        .with("scope_read", MOTO_SCOPE)
        .with("scope_write", MOTO_SCOPE)
        .spawn()
        .await
}

#[tokio::test]
async fn a_user_signed_in_with_moto_cognito_uploads_and_lists_with_the_access_token() {
    crate::aws_only!();
    let user = sign_in_a_new_user().await;
    let app = app_for(&user).await;
    let auth = Auth::Bearer(user.access_token.clone());

    let item = app
        .upload_ok(&auth, "cognito.png", png(b"from cognito"))
        .await;
    assert_eq!(item["owner"], user.sub.as_str());
    let list = app.list(&auth, "").await;
    assert_eq!(ids(&list), [item["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn the_id_token_of_a_moto_cognito_sign_in_is_refused_while_only_access_tokens_are_accepted() {
    crate::aws_only!();
    let user = sign_in_a_new_user().await;
    let app = app_for(&user).await;
    let res = app
        .get("/api/photos", &Auth::Bearer(user.id_token.clone()))
        .await;
    assert_eq!(res.status(), 401);
    // The same sign-in's access token passes, so the refusal is about token_use alone.
    let res = app
        .get("/api/photos", &Auth::Bearer(user.access_token.clone()))
        .await;
    assert_eq!(res.status(), 200);
}

//! A Cognito user pool on moto, with an app client and users who sign in with a password
//! (`InitiateAuth USER_PASSWORD_AUTH`, a real sign-in with real tokens), and the service
//! configured for the pool the way it would be for real Cognito, except that the keys come from
//! moto. Every test of Cognito's tokens starts here.

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, MessageActionType,
};

use super::moto;
use crate::helpers::{AppBuilder, Auth, OPERATORS, app};

/// The one scope moto puts in its access tokens.
pub const MOTO_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Every user's password.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

pub struct Pool {
    pub idp: Cognito,
    pub id: String,
    pub client_id: String,
}

/// The tokens of one sign-in.
pub struct Tokens {
    pub access: String,
    pub id: String,
}

/// A new pool (a unique name, so tests never share one) with `username` in it; the user's `sub`.
pub async fn pool_with_user(username: &str) -> (Pool, String) {
    let idp = Cognito::new(&moto::sdk().await);
    let created = idp
        .create_user_pool()
        .pool_name(moto::unique_name("cutover"))
        .send()
        .await
        .unwrap();
    let id = created.user_pool().unwrap().id().unwrap().to_string();
    let client = idp
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name("cutover-test")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap();
    let pool = Pool {
        client_id: client_id.to_string(),
        idp,
        id,
    };
    let sub = pool.add_user(username).await;
    (pool, sub)
}

impl Pool {
    /// Creates `username` with [`PASSWORD`], confirmed (no invitation, no first-sign-in
    /// challenge); its `sub`.
    pub async fn add_user(&self, username: &str) -> String {
        self.idp
            .admin_create_user()
            .user_pool_id(&self.id)
            .username(username)
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        self.idp
            .admin_set_user_password()
            .user_pool_id(&self.id)
            .username(username)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
        let user = self
            .idp
            .admin_get_user()
            .user_pool_id(&self.id)
            .username(username)
            .send()
            .await
            .unwrap();
        user.user_attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .expect("moto gives users a sub")
            .to_string()
    }

    /// A real sign-in: the access token and the ID token.
    pub async fn tokens(&self, username: &str) -> Tokens {
        let auth = self
            .idp
            .initiate_auth()
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .client_id(&self.client_id)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .unwrap();
        let tokens = auth
            .authentication_result()
            .expect("signed in, no challenge");
        Tokens {
            access: tokens.access_token().unwrap().to_string(),
            id: tokens.id_token().unwrap().to_string(),
        }
    }

    /// A real sign-in: the access token, as a request sends it.
    pub async fn sign_in(&self, username: &str) -> Auth {
        Auth::Bearer(self.tokens(username).await.access)
    }

    /// `AdminUserGlobalSignOut`: Cognito's own sign-out of every session of `username`.
    pub async fn sign_out(&self, username: &str) {
        self.idp
            .admin_user_global_sign_out()
            .user_pool_id(&self.id)
            .username(username)
            .send()
            .await
            .unwrap();
    }

    /// The issuer in AWS's form, as real Cognito names the pool in its tokens.
    pub async fn issuer(&self) -> String {
        let region = moto::sdk().await.region().unwrap().to_string();
        format!("https://cognito-idp.{region}.amazonaws.com/{}", self.id)
    }

    /// The pool's JWKS, served by moto.
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", moto::endpoint(), self.id)
    }

    /// The service trusting this pool's access tokens (moto's one scope reads and writes), for a
    /// test to add its own settings to.
    /// The admin listener is read as an operator of this pool: a user of its operators' group,
    /// signed in for real.
    pub async fn service(&self) -> AppBuilder {
        let operator = self.operator().await;
        app()
            .with_issuer(&self.issuer().await, &self.jwks_url(), &self.client_id)
            .with("scope_read", MOTO_SCOPE)
            .with("scope_write", MOTO_SCOPE)
            .with_operator(operator)
    }

    /// A user of the pool in its operators' group (both created on first use), signed in.
    pub async fn operator(&self) -> Auth {
        let name = "pool-operator";
        let known = self
            .idp
            .admin_get_user()
            .user_pool_id(&self.id)
            .username(name)
            .send()
            .await
            .is_ok();
        if !known {
            self.add_user(name).await;
            let _ = self
                .idp
                .create_group()
                .user_pool_id(&self.id)
                .group_name(OPERATORS)
                .send()
                .await;
            self.idp
                .admin_add_user_to_group()
                .user_pool_id(&self.id)
                .username(name)
                .group_name(OPERATORS)
                .send()
                .await
                .unwrap();
        }
        self.sign_in(name).await
    }
}

//! A compare-and-swap on a Secrets Manager secret's `AWSCURRENT`, for the documents the service
//! keeps there (the API keys, the gateway's signing keys): the new text is staged as a version
//! under a label of the caller's (not yet served), then `AWSCURRENT` moves to it only if it is
//! still on the version the change was made from (Secrets Manager refuses the move when
//! `RemoveFromVersionId` no longer holds the label, and moves `AWSPREVIOUS` along as
//! `PutSecretValue` would).

use std::future::Future;

use aws_sdk_secretsmanager::Client;

use super::error::AwsError;
use crate::crypto::random_bytes;

/// One swap of `secret_id` from version `read` to `text`, staged under `pending`. `Ok(false)`:
/// someone else wrote since `read`. `current` says where `AWSCURRENT` is now: a refused move is
/// an `InvalidParameterException` whether the race was lost or the request was bad, and a move
/// that landed may have lost its answer (the SDK's retry then refused), so only the current
/// version tells them apart.
pub async fn swap<F, Fut>(
    client: &Client,
    secret_id: &str,
    pending: &str,
    read: &str,
    text: String,
    current: F,
) -> anyhow::Result<bool>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<String>>>,
{
    // The version id; a retried request with the same token is not a second version.
    let token = hex::encode(random_bytes::<16>());
    let put = client
        .put_secret_value()
        .secret_id(secret_id)
        .client_request_token(&token)
        .secret_string(text)
        .version_stages(pending)
        .send()
        .await
        .map_err(|e| AwsError::new("PutSecretValue", e))?;
    let staged = put.version_id().unwrap_or(&token).to_string();
    let moved = client
        .update_secret_version_stage()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&staged)
        .remove_from_version_id(read)
        .send()
        .await
        .map_err(|e| AwsError::new("UpdateSecretVersionStage", e));
    unstage(client, secret_id, pending, &staged).await;
    match moved {
        Ok(_) => Ok(true),
        Err(e) => match current().await? {
            Some(now) if now == staged => Ok(true),
            Some(now) if now != read => Ok(false),
            _ => Err(e.into()),
        },
    }
}

/// Takes `pending` off a staged version, so only an interrupted write leaves it behind (and the
/// next write takes it over). Best effort: a concurrent writer may have taken the label already,
/// and a left-over label is harmless.
async fn unstage(client: &Client, secret_id: &str, pending: &str, version: &str) {
    let res = client
        .update_secret_version_stage()
        .secret_id(secret_id)
        .version_stage(pending)
        .remove_from_version_id(version)
        .send()
        .await;
    if let Err(e) = res {
        let e = AwsError::new("UpdateSecretVersionStage", e);
        tracing::debug!(secret = %secret_id, error = %e, "staging label left in place");
    }
}

//! Who a `cutover` command acts as: the OS user and host, and, when it uses AWS, the caller's
//! identity from STS `GetCallerIdentity` (the ARN: a role session names the person or the
//! pipeline). Asked with a short time limit; a run without credentials, or an STS failure, is
//! recorded as the OS user only, and [`identify`] says why, for the command to print.

use std::time::Duration;

use super::Actor;
use crate::aws::Aws;

/// The longest the audit trail waits for STS before recording the OS user only.
const STS_TIMEOUT: Duration = Duration::from_secs(3);

/// The actor, and a note when the AWS identity was wanted but not obtained.
pub async fn identify(aws: Option<&Aws>) -> (Actor, Option<String>) {
    let user = whoami::username().unwrap_or_else(|_| "unknown".into());
    let host = whoami::hostname().unwrap_or_else(|_| "unknown".into());
    let (aws_identity, note) = match aws {
        None => (None, None),
        Some(aws) => match caller_identity(aws).await {
            Ok(arn) => (Some(arn), None),
            Err(why) => (
                None,
                Some(format!(
                    "audit: no AWS identity ({why}); the change is recorded as {user}@{host} only"
                )),
            ),
        },
    };
    let actor = Actor::Cli {
        user,
        host,
        aws_identity,
    };
    (actor, note)
}

async fn caller_identity(aws: &Aws) -> Result<String, String> {
    let call = aws.sts().get_caller_identity().send();
    match tokio::time::timeout(STS_TIMEOUT, call).await {
        Err(_) => Err(format!(
            "STS did not answer within {} s",
            STS_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!(
            "STS GetCallerIdentity failed: {}",
            aws_sdk_sts::error::DisplayErrorContext(&e)
        )),
        Ok(Ok(out)) => out
            .arn()
            .map(str::to_string)
            .ok_or_else(|| "STS answered without an ARN".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_aws_the_actor_is_the_os_user_and_nothing_is_said() {
        let (actor, note) = identify(None).await;
        assert!(note.is_none());
        let Actor::Cli {
            user,
            host,
            aws_identity,
        } = actor
        else {
            panic!("a CLI actor")
        };
        assert!(!user.is_empty() && !host.is_empty());
        assert_eq!(aws_identity, None);
    }

    /// No credentials at all (no provider): recorded as the OS user, and said so.
    #[tokio::test]
    async fn without_credentials_the_os_user_is_recorded_and_the_note_says_why() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let aws = Aws::from_sdk_config(sdk);
        let (actor, note) = identify(Some(&aws)).await;
        assert!(matches!(
            actor,
            Actor::Cli {
                aws_identity: None,
                ..
            }
        ));
        let note = note.expect("a note");
        assert!(note.contains("no AWS identity"), "{note}");
        assert!(note.contains("recorded as"), "{note}");
    }
}

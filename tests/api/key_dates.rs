//! Per-key dates: `cutover keys set --deprecation --sunset`.

use crate::helpers::{Auth, app, assert_problem, header};

#[tokio::test]
async fn a_keys_own_dates_replace_the_global_ones_in_its_headers_only() {
    let app = app()
        .with("api_key_fallback", "warn")
        .with("deprecation_date", "2026-12-01")
        .with("sunset_date", "2099-03-01T12:00:00Z")
        .with("api_keys_refresh_secs", "1")
        .spawn()
        .await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let web = Auth::Key(app.add_key("web", None));
    assert_eq!(app.eventual_status(&web, 200).await, 200);

    let (ok, stdout, stderr) = app.cli(&[
        "keys",
        "set",
        "--id",
        "mobile",
        "--deprecation",
        "2027-01-01",
        "--sunset",
        "2098-06-01",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "mobile");
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    let res = loop {
        let res = app.get("/api/photos", &mobile).await;
        if header(&res, "deprecation").as_deref() == Some("@1798761600")
            || std::time::Instant::now() > deadline
        {
            break res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "deprecation").unwrap(), "@1798761600");
    assert_eq!(
        header(&res, "sunset").unwrap(),
        "Sun, 01 Jun 2098 00:00:00 GMT"
    );

    // `/api/me` tells the client developer the same dates, and where they come from.
    let me: serde_json::Value = app.get("/api/me", &mobile).await.json().await.unwrap();
    assert_eq!(me["key_path"]["dates_from"], "key", "{me}");
    assert_eq!(
        me["key_path"]["deprecation"], "2027-01-01T00:00:00Z",
        "{me}"
    );
    assert_eq!(me["key_path"]["sunset"], "2098-06-01T00:00:00Z", "{me}");
    let me: serde_json::Value = app.get("/api/me", &web).await.json().await.unwrap();
    assert_eq!(me["key_path"]["dates_from"], "service", "{me}");
    assert_eq!(me["key_path"]["sunset"], "2099-03-01T12:00:00Z", "{me}");

    let other = app.get("/api/photos", &web).await;
    assert_eq!(
        header(&other, "deprecation").unwrap(),
        "@1796083200",
        "global date"
    );
    assert_eq!(
        header(&other, "sunset").unwrap(),
        "Sun, 01 Mar 2099 12:00:00 GMT"
    );
}

#[tokio::test]
async fn a_key_with_dates_of_its_own_is_told_them_even_when_the_flag_says_allow() {
    let app = app().with("api_keys_refresh_secs", "1").spawn().await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let res = app.eventually(&mobile, 200).await;
    assert!(header(&res, "deprecation").is_none());
    assert!(
        app.cli(&["keys", "set", "--id", "mobile", "--sunset", "2099-01-01"])
            .0
    );
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(crate::support::PATIENCE_SECS);
    loop {
        let res = app.get("/api/photos", &mobile).await;
        if let Some(sunset) = header(&res, "sunset") {
            assert_eq!(sunset, "Thu, 01 Jan 2099 00:00:00 GMT");
            assert!(header(&res, "deprecation").is_some());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no Sunset header");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_sunset_before_the_deprecation_date_is_refused_and_nothing_is_written() {
    let app = app().with("deprecation_date", "2027-06-01").spawn().await;
    app.add_key("mobile", None);
    for args in [
        &[
            "keys",
            "set",
            "--id",
            "mobile",
            "--deprecation",
            "2027-01-01",
            "--sunset",
            "2026-12-01",
        ][..],
        // Against the global deprecation date when the key has none of its own.
        &["keys", "set", "--id", "mobile", "--sunset", "2027-05-01"][..],
    ] {
        let (ok, stdout, stderr) = app.cli(args);
        assert!(!ok && stdout.is_empty(), "{args:?}");
        assert!(stderr.contains("before the deprecation date"), "{stderr}");
        assert!(stderr.contains("RFC 9745"), "{stderr}");
    }
    let (ok, _, stderr) = app.cli(&["keys", "set", "--id", "nobody", "--sunset", "2099-01-01"]);
    assert!(!ok && stderr.contains("no key nobody"), "{stderr}");
    let (ok, _, stderr) = app.cli(&["keys", "set", "--id", "mobile"]);
    assert!(!ok && stderr.contains("nothing to change"), "{stderr}");
    // Nothing was written: a later valid change starts from no dates.
    let (ok, _, stderr) = app.cli(&[
        "keys",
        "set",
        "--id",
        "mobile",
        "--deprecation",
        "2027-01-01",
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("sunset global"), "{stderr}");
}

#[tokio::test]
async fn a_key_whose_sunset_has_passed_is_refused_as_expired_and_others_are_not() {
    let app = app()
        .with("api_keys_refresh_secs", "1")
        .with("migration_url", "https://example.com/m")
        .spawn()
        .await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    let web = Auth::Key(app.add_key("web", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
    let (ok, _, stderr) = app.cli(&[
        "keys",
        "set",
        "--id",
        "mobile",
        "--sunset",
        "2020-01-01T00:00:00Z",
    ]);
    assert!(ok, "{stderr}");
    let body = assert_problem(app.eventually(&mobile, 401).await, 401, "key-expired").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("2020-01-01T00:00:00Z"), "{detail}");
    assert_eq!(body["migration_url"], "https://example.com/m");
    assert_eq!(app.list_status(&web).await, 200);
    assert!(
        app.metric("cutover_auth_failures_total{reason=\"key_expired\"}")
            .await
            >= 1.0
    );
}

#[test]
fn an_alarm_fires_when_a_key_past_its_sunset_still_calls() {
    let alarms = cutover::dashboard::alarms("Cutover").unwrap();
    let alarm = alarms
        .iter()
        .find(|a| a.alarm_name == "cutover-expired-key-calling")
        .expect("the alarm is deployed with the dashboard");
    assert_eq!(alarm.comparison_operator, "GreaterThanThreshold");
    assert_eq!(alarm.threshold, 0.0);
    let metric = alarm
        .metrics
        .iter()
        .find_map(|q| q.metric_stat.as_ref())
        .map(|s| &s.metric)
        .unwrap();
    assert_eq!(metric.metric_name, "AuthFailures");
    assert_eq!(
        (
            metric.dimensions[0].name.as_str(),
            metric.dimensions[0].value.as_str()
        ),
        ("Reason", "key_expired")
    );
}

#[tokio::test]
async fn a_sunset_set_in_the_secrets_manager_secret_is_stored_there_and_expires_the_key() {
    crate::aws_only!();
    let sm = aws_sdk_secretsmanager::Client::new(&crate::support::moto::sdk().await);
    let secret = crate::support::moto::unique_name("cutover-keys");
    sm.create_secret()
        .name(&secret)
        .secret_string(r#"{"keys":[]}"#)
        .send()
        .await
        .unwrap();
    let app = app()
        .with("api_keys_source", "secretsmanager")
        .with("api_keys_secret_id", &secret)
        .with("api_keys_refresh_secs", "1")
        .spawn()
        .await;
    let mobile = Auth::Key(app.add_key("mobile", None));
    assert_eq!(app.eventual_status(&mobile, 200).await, 200);
    let (ok, _, stderr) = app.cli(&["keys", "set", "--id", "mobile", "--sunset", "2020-01-01"]);
    assert!(ok, "{stderr}");
    let current = sm
        .get_secret_value()
        .secret_id(&secret)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
    assert_eq!(doc["keys"][0]["sunset"], "2020-01-01T00:00:00Z", "{doc}");
    assert_problem(app.eventually(&mobile, 401).await, 401, "key-expired").await;
}

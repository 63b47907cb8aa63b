//! The photo app on the embedded default, signed in through the dev issuer.

use cutover::control::revocations::Revoked;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::needs_browser;
use crate::support::{Browser, Chromedriver, Served, eventually, png, save_screenshot};

async fn ready(b: &Browser) {
    eventually(15, "the page to be ready", || async {
        let v = b
            .eval("return document.body.dataset.ready === 'true'", vec![])
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
}

async fn shown(b: &Browser, id: &str) -> bool {
    b.eval(
        "return !document.getElementById(arguments[0]).hidden",
        vec![json!(id)],
    )
    .await
        == json!(true)
}

/// From the app's signed-out page, through the dev sign-in form, back to the app.
async fn sign_in(b: &Browser, user: &str) {
    b.click("#sign-in:not([disabled])").await;
    let name = b
        .client
        .wait()
        .for_element(Locator::Id("username"))
        .await
        .unwrap();
    name.send_keys(user).await.unwrap();
    b.click("button[type=submit]").await;
    ready(b).await;
    assert!(shown(b, "signed-in").await, "signed in as {user}");
    let who = b
        .eval("return document.getElementById('who').textContent", vec![])
        .await;
    assert!(who.as_str().unwrap().contains(user), "{who}");
    // What `/api/me` says: the method and the rate limit left.
    eventually(15, "the banner to show /api/me", || async {
        let who = b
            .eval("return document.getElementById('who').textContent", vec![])
            .await;
        let who = who.as_str().unwrap_or_default().to_string();
        (who.contains("(jwt)") && who.contains("requests left")).then_some(())
    })
    .await;
}

/// Each card's file name and whether its thumbnail decoded, once every thumbnail has.
async fn cards(b: &Browser, want: usize) -> Vec<String> {
    eventually(
        15,
        &format!("{want} cards with decoded thumbnails"),
        || async {
            let v: Value = b
                .eval(
                    "return [...document.querySelectorAll('#photos .card')].map(c => {
                   const img = c.querySelector('img');
                   return { name: c.querySelector('.name').textContent,
                            decoded: img.complete && img.naturalWidth > 0 };
                 })",
                    vec![],
                )
                .await;
            let cards = v.as_array().unwrap().clone();
            let all_decoded = cards.iter().all(|c| c["decoded"] == json!(true));
            (cards.len() == want && all_decoded).then(|| {
                cards
                    .iter()
                    .map(|c| c["name"].as_str().unwrap().to_string())
                    .collect()
            })
        },
    )
    .await
}

#[tokio::test]
async fn alice_uploads_two_photos_deletes_one_and_after_a_reload_signs_in_again_to_find_one_that_bob_never_sees()
 {
    needs_browser!();
    let served = Served::start(&[]).await;
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    let app = format!("{}/", served.address);

    b.goto(&app).await;
    ready(&b).await;
    assert!(shown(&b, "signed-out").await);
    save_screenshot("photo-app-signed-out", &b.screenshot().await);

    sign_in(&b, "alice").await;
    let dir = tempfile::tempdir().unwrap();
    let red = dir.path().join("red.png");
    let blue = dir.path().join("blue.png");
    std::fs::write(&red, png::gradient(320, 240, [250, 110, 60], [170, 20, 90])).unwrap();
    std::fs::write(
        &blue,
        png::gradient(240, 320, [40, 180, 220], [20, 40, 140]),
    )
    .unwrap();
    let input = b.client.find(Locator::Id("files")).await.unwrap();
    // Several files in one input: chromedriver takes their paths separated by newlines.
    input
        .send_keys(&format!("{}\n{}", red.display(), blue.display()))
        .await
        .unwrap();
    let mut names = cards(&b, 2).await;
    names.sort();
    assert_eq!(names, ["blue.png", "red.png"]);
    // Newest first: blue went second.
    assert_eq!(cards(&b, 2).await[0], "blue.png");
    save_screenshot("photo-app-photos", &b.screenshot().await);

    // View: the full image in a dialog, from the same blob: URL.
    b.click("#photos .card .thumb").await;
    eventually(10, "the viewer to show the photo", || async {
        let v = b
            .eval(
                "const d = document.getElementById('viewer');
                 const img = document.getElementById('viewer-img');
                 return d.open && img.src.startsWith('blob:') && img.naturalWidth === 240",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.click("#viewer-close").await;
    // Download: a link to the blob, named as the upload.
    let link = b
        .eval(
            "const a = document.querySelector('#photos .card .actions a');
             return [a.download, a.href.startsWith('blob:')]",
            vec![],
        )
        .await;
    assert_eq!(link, json!(["blue.png", true]));

    b.click("#photos .card[data-id] .danger").await;
    assert_eq!(cards(&b, 1).await, ["red.png"]);

    // Tokens were in memory only: a reload is signed out.
    b.client.refresh().await.unwrap();
    ready(&b).await;
    assert!(shown(&b, "signed-out").await, "a reload forgets the tokens");
    sign_in(&b, "alice").await;
    assert_eq!(cards(&b, 1).await, ["red.png"]);

    // Signing out revokes the session's refresh token first: its family (`origin_jti`) is in
    // the revocation list, so the API refuses the session's tokens within the control poll.
    assert!(served.revocations().await.is_empty());
    b.click("#sign-out").await;
    eventually(15, "the signed-out page", || async {
        shown(&b, "signed-out").await.then_some(())
    })
    .await;
    ready(&b).await;
    let revoked = served.revocations().await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(
        matches!(revoked[0].revoked, Revoked::OriginJti { .. }),
        "{revoked:?}"
    );
    sign_in(&b, "bob").await;
    assert_eq!(cards(&b, 0).await, Vec::<String>::new());
    assert!(shown(&b, "empty").await, "bob is told he has no photos");

    b.assert_clean_console(&[]).await;
    b.close().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_in_the_page_even_when_the_revocation_fails() {
    needs_browser!();
    let served = Served::start(&[]).await;
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    b.goto(&format!("{}/", served.address)).await;
    ready(&b).await;
    sign_in(&b, "erin").await;
    // The revocation endpoint unreachable, as on a network failure.
    b.eval(
        "const real = window.fetch;
         window.fetch = (url, init) => String(url).includes('/oauth2/revoke')
           ? Promise.reject(new TypeError('network down')) : real(url, init);",
        vec![],
    )
    .await;
    b.click("#sign-out").await;
    eventually(15, "the signed-out page", || async {
        shown(&b, "signed-out").await.then_some(())
    })
    .await;
    assert!(served.revocations().await.is_empty(), "nothing was revoked");
    b.assert_clean_console(&[]).await;
    b.close().await;
}

#[tokio::test]
async fn a_refused_upload_shows_the_problem_title_and_lists_nothing() {
    needs_browser!();
    let served = Served::start(&[]).await;
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    b.goto(&format!("{}/", served.address)).await;
    ready(&b).await;
    sign_in(&b, "carol").await;

    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image at all").unwrap();
    let input = b.client.find(Locator::Id("files")).await.unwrap();
    input.send_keys(&text.display().to_string()).await.unwrap();

    let problem = eventually(15, "the problem to be shown", || async {
        let v = b
            .eval(
                "const p = document.getElementById('problem');
                 return p.hidden ? null : p.textContent",
                vec![],
            )
            .await;
        v.as_str().map(str::to_string)
    })
    .await;
    let listed = b
        .eval(
            "return document.querySelectorAll('#photos .card').length",
            vec![],
        )
        .await;
    assert_eq!(listed, json!(0));
    // The problem body's title, not a status code or a generic message.
    let (status, title) = refusal_of_text(&served).await;
    assert_eq!(problem, title, "the page shows the title of the {status}");

    b.assert_clean_console(&["/api/uploads - Failed to load resource"])
        .await;
    b.close().await;
}

/// What the API answers to the same text upload: its status and the problem's title.
async fn refusal_of_text(served: &Served) -> (u16, String) {
    let token = served.token("carol");
    let res = served
        .upload(&token, "n.png", b"not an image at all".to_vec())
        .await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (status, &body["type"]),
        (415, &json!("urn:cutover:problem:unsupported-media-type")),
        "{body}"
    );
    (status, body["title"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn scrolling_to_the_end_of_the_list_loads_every_page_newest_first() {
    needs_browser!();
    // Uploads cost 10 of a burst of 60 by default: room for the seeding.
    let served = Served::start(&[("rate_burst", "1000"), ("rate_per_minute", "60000")]).await;
    let token = served.token("dave");
    // More than two of the page's pages (12 each).
    const COUNT: usize = 30;
    for i in 0..COUNT {
        let shade = (i * 8) as u8;
        let bytes = png::gradient(16, 12, [shade, 90, 200], [20, shade, 80]);
        let res = served.upload(&token, &format!("p{i:02}.png"), bytes).await;
        assert_eq!(res.status(), 201);
    }
    let driver = Chromedriver::start().await;
    let b = Browser::open(&driver).await;
    b.goto(&format!("{}/", served.address)).await;
    ready(&b).await;
    sign_in(&b, "dave").await;

    let names = eventually(20, "every page to load while scrolling", || async {
        b.eval("window.scrollTo(0, document.body.scrollHeight)", vec![])
            .await;
        let names = b
            .eval(
                "return [...document.querySelectorAll('#photos .name')].map(n => n.textContent)",
                vec![],
            )
            .await;
        let names: Vec<String> = serde_json::from_value(names).unwrap();
        (names.len() == COUNT).then_some(names)
    })
    .await;
    let newest_first: Vec<String> = (0..COUNT).rev().map(|i| format!("p{i:02}.png")).collect();
    assert_eq!(names, newest_first);
    b.assert_clean_console(&[]).await;
    b.close().await;
}

//! Multipart handling with random part layouts (proptest-generated, bounded): whatever the parts —
//! how many, their names, file names, contents, a missing closing boundary — an upload is never a
//! 5xx, is 201 only when it carried exactly one `file` part of an allowed type, and stores exactly
//! one object when it is 201 and none otherwise. Runs on both backends.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::helpers::{Auth, app, png};

const B: &str = "property-boundary";
/// Cases per run: each is one HTTP upload, so the count stays small.
const CASES: usize = 48;

#[derive(Debug, Clone)]
enum Content {
    Png(usize),
    Text(usize),
    Empty,
}

#[derive(Debug, Clone)]
struct Part {
    name: &'static str,
    filename: Option<&'static str>,
    content: Content,
}

#[derive(Debug, Clone)]
struct Layout {
    parts: Vec<Part>,
    /// The closing boundary is left off: the body ends in the middle of the multipart stream.
    truncated: bool,
}

fn part() -> impl Strategy<Value = Part> {
    let name = prop::sample::select(vec!["file", "file", "caption", "x", ""]);
    let filename = prop::option::of(prop::sample::select(vec![
        "a.png",
        "../../etc/passwd",
        "in\u{202E}gnp.exe",
        "",
    ]));
    let content = prop_oneof![
        (0usize..4096).prop_map(Content::Png),
        (0usize..4096).prop_map(Content::Text),
        Just(Content::Empty),
    ];
    (name, filename, content).prop_map(|(name, filename, content)| Part {
        name,
        filename,
        content,
    })
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        prop::collection::vec(part(), 0..6),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(parts, truncated)| Layout { parts, truncated })
}

fn body(layout: &Layout) -> Vec<u8> {
    let mut body = Vec::new();
    for p in &layout.parts {
        let file = p
            .filename
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        body.extend_from_slice(
            format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"{}\"{file}\r\n\r\n",
                p.name
            )
            .as_bytes(),
        );
        match p.content {
            Content::Png(n) => body.extend_from_slice(&png(&vec![7u8; n])),
            Content::Text(n) => body.extend(std::iter::repeat_n(b'a', n)),
            Content::Empty => {}
        }
        body.extend_from_slice(b"\r\n");
    }
    if !layout.truncated {
        body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    }
    body
}

/// A layout that must be accepted: complete, with exactly one `file` part that is a PNG and has a
/// file name, the other parts being small enough for the allowance.
fn acceptable(layout: &Layout) -> bool {
    let files: Vec<_> = layout.parts.iter().filter(|p| p.name == "file").collect();
    !layout.truncated
        && files.len() == 1
        && matches!(files[0].content, Content::Png(_))
        && files[0].filename.is_some()
}

#[tokio::test]
async fn any_part_layout_is_answered_without_a_5xx_and_stores_an_object_only_when_it_is_201() {
    let app = app().spawn().await;
    let Auth::Bearer(token) = app.user("alice") else {
        unreachable!()
    };
    let mut runner = TestRunner::deterministic();
    let strategy = layout();
    let mut stored = app.stored_object_count().await;
    let (mut created, mut refused) = (0, 0);
    for case in 0..CASES {
        let layout = strategy.new_tree(&mut runner).unwrap().current();
        let res = app
            .client
            .post(format!("{}/api/uploads", app.address))
            .bearer_auth(&token)
            .header("content-type", format!("multipart/form-data; boundary={B}"))
            .body(body(&layout))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert!(status < 500, "case {case}: {status} for {layout:?}");
        let now = crate::support::eventually(10, "the object count settles", || async {
            let now = app.stored_object_count().await;
            let want = stored + usize::from(status == 201);
            (now == want).then_some(now)
        })
        .await;
        stored = now;
        if status == 201 {
            created += 1;
            let files = layout.parts.iter().filter(|p| p.name == "file").count();
            assert_eq!(
                files, 1,
                "case {case}: 201 with {files} file parts: {layout:?}"
            );
            assert!(!layout.truncated, "case {case}: 201 for a truncated body");
        } else {
            refused += 1;
            assert!(
                !acceptable(&layout),
                "case {case}: {status} for an acceptable upload {layout:?}"
            );
        }
    }
    // The generator must reach both outcomes, or the property says nothing.
    assert!(
        created > 0 && refused > 0,
        "{created} created, {refused} refused"
    );
}

//! What the public listener's response framing (`http::parser_errors::ProblemIo`) costs per
//! answer: a list answer (head and a 2 KiB JSON body) written through it, against the same bytes
//! written straight to the sink. `cargo bench --bench parser_errors`; figures in
//! docs/performance.md.

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};

use criterion::{Criterion, criterion_group, criterion_main};
use cutover::http::parser_errors::ProblemIo;
use tokio::io::AsyncWrite;

/// Writes `answer` in the dispatcher's way (one buffer, written until taken whole).
fn send<W: AsyncWrite + Unpin>(w: &mut W, answer: &[u8], cx: &mut Context<'_>) {
    let mut rest = answer;
    while !rest.is_empty() {
        match Pin::new(&mut *w).poll_write(cx, rest) {
            Poll::Ready(Ok(n)) => rest = &rest[n..],
            other => panic!("the sink is always ready: {other:?}"),
        }
    }
}

fn framing(c: &mut Criterion) {
    const ITEM: &str = r#"{"id":"01KC0000000000000000000000","filename":"p.png","size":1234,"content_type":"image/png","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","uploaded_at":"2026-12-03T12:00:00Z","owner":"alice"}"#;
    let body = format!(
        "{{\"items\":[{}],\"next_cursor\":null}}",
        [ITEM; 9].join(",")
    );
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\
         x-request-id: 0561aec50975d141f822726bf03d11a8\r\nratelimit-policy: \"default\";q=600;w=60\r\n\
         ratelimit: \"default\";r=599;t=0\r\ndate: Thu, 03 Dec 2026 17:50:24 GMT\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut g = c.benchmark_group("list_answer_written");
    g.bench_function("straight", |b| {
        let mut sink = tokio::io::sink();
        b.iter(|| send(&mut sink, black_box(&answer), &mut cx))
    });
    g.bench_function("through_problem_io", |b| {
        let mut io = ProblemIo::new(tokio::io::sink());
        b.iter(|| send(&mut io, black_box(&answer), &mut cx))
    });
    g.finish();
}

criterion_group!(benches, framing);
criterion_main!(benches);

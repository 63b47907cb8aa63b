//! What the public listener's response framing (`http::conn::parser_errors::ProblemIo`) costs per
//! answer: a list answer (head and a 2 KiB JSON body) written through it, against the same bytes
//! written straight. Twice: to a sink (the framing's own CPU), and to a loopback TCP socket with
//! NODELAY, a thread draining the other end (what a server pays: the syscalls, and a head
//! written apart from its body would cost a second one). `cargo bench --bench parser_errors`;
//! figures in docs/performance.md.
// Test code: a failed assumption is a failed test (the server code denies these, Cargo.toml).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::hint::black_box;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use cutover::http::conn::parser_errors::ProblemIo;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

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

fn answer() -> Vec<u8> {
    const ITEM: &str = r#"{"id":"01KC0000000000000000000000","filename":"p.png","size":1234,"content_type":"image/png","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","uploaded_at":"2026-12-03T12:00:00Z","owner":"alice"}"#;
    let body = format!(
        "{{\"items\":[{}],\"next_cursor\":null}}",
        [ITEM; 9].join(",")
    );
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\
         x-request-id: 0561aec50975d141f822726bf03d11a8\r\nratelimit-policy: \"default\";q=600;w=60\r\n\
         ratelimit: \"default\";r=599;t=0\r\ndate: Thu, 03 Dec 2026 17:50:24 GMT\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn framing(c: &mut Criterion) {
    let answer = answer();
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

/// A loopback connection whose far end is read and dropped by a thread of its own.
async fn loopback() -> TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut far, _) = listener.accept().unwrap();
        let mut buf = vec![0; 256 * 1024];
        while far.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let stream = TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// `iters` answers written to `w` with `write_all` (the dispatcher's loop, awaiting a full
/// socket buffer).
async fn write_many<W: AsyncWrite + Unpin>(w: &mut W, answer: &[u8], iters: u64) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        w.write_all(black_box(answer)).await.unwrap();
    }
    started.elapsed()
}

fn over_loopback(c: &mut Criterion) {
    let answer = answer();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("list_answer_sent_over_loopback");
    g.bench_function("straight", |b| {
        let mut socket = rt.block_on(loopback());
        b.iter_custom(|iters| rt.block_on(write_many(&mut socket, &answer, iters)))
    });
    g.bench_function("through_problem_io", |b| {
        let mut io = ProblemIo::new(rt.block_on(loopback()));
        b.iter_custom(|iters| rt.block_on(write_many(&mut io, &answer, iters)))
    });
    g.finish();
}

criterion_group!(benches, framing, over_loopback);
criterion_main!(benches);

//! Problem bodies for the answers actix-http's HTTP/1 dispatcher makes by itself, before any
//! service runs: `400` for a request it cannot parse (a malformed request line or header),
//! `431` for a head over its buffer, `408` for a first request whose head did not arrive within
//! the client request timeout. It writes those with an empty body and offers no hook, so the
//! public listener's connections are wrapped in [`ProblemIo`], which follows the responses going
//! out and gives exactly those (status 400, 408 or 431, `content-length: 0`, no
//! `content-type`: the app never sends one, since every error of its own is problem+json) a
//! problem body, a `content-type` and an `x-request-id`.
//!
//! The wrapper frames what is written, response after response: a head (buffered until its
//! blank line, then parsed), then its body by `content-length` or chunk by chunk, so a rewrite
//! only ever happens at a response's start, never inside a body whose bytes happen to look like
//! a head. A response it cannot frame (no length and not chunked: delimited by the close) ends
//! the inspection for that connection, and everything after passes through untouched. Cost per
//! response: copying and parsing its head (httparse), and a counter per body write; the head
//! leaves together with the body bytes behind it, in one vectored write.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, ready};

use actix_web::http::StatusCode;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::conn::request_id::RequestId;
use crate::http::problem::{Problem, ProblemType};

/// A head longer than this is not one actix wrote (its own limit is far lower): pass through.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// The dispatcher's own answers: their row of the problem table and their detail.
const PARSER_PROBLEMS: [(ProblemType, &str); 3] = [
    (
        ProblemType::BadRequest,
        "the request could not be parsed as HTTP/1.1 (request line or headers)",
    ),
    (
        ProblemType::RequestTimeout,
        "the request's head did not arrive in time",
    ),
    (
        ProblemType::RequestHeaderFieldsTooLarge,
        "the request's head is over the server's limit",
    ),
];

/// Their bodies, rendered once: a rewrite copies bytes, it does not serialise.
static PARSER_BODIES: LazyLock<[String; 3]> =
    LazyLock::new(|| PARSER_PROBLEMS.map(|(kind, detail)| Problem::new(kind, detail).to_json()));

/// The problem body for a status the dispatcher makes itself, if it is one. Called on every
/// response head, so a `match` on the status as before the table, its arms the rows' statuses.
fn problem(status: u16) -> Option<&'static str> {
    const BAD: u16 = PARSER_PROBLEMS[0].0.status_u16();
    const TIMEOUT: u16 = PARSER_PROBLEMS[1].0.status_u16();
    const TOO_LARGE: u16 = PARSER_PROBLEMS[2].0.status_u16();
    let at = match status {
        BAD => 0,
        TIMEOUT => 1,
        TOO_LARGE => 2,
        _ => return None,
    };
    PARSER_BODIES.get(at).map(String::as_str)
}

/// Where the outgoing byte stream is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Frame {
    /// At a response's start (or inside its head, buffered in `head`).
    Head,
    /// Inside a body: this many bytes left.
    Body(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// Not framed (a body delimited by the close, or bytes that are not a response): the rest
    /// of the connection passes through.
    Opaque,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line: the size so far, and whether past the digits (extensions).
    Size { size: u64, digits: bool, ext: bool },
    /// Its LF.
    SizeLf { size: u64 },
    /// Data left in the chunk.
    Data(u64),
    /// The CR LF after a chunk's data (`true`: the CR was seen).
    DataCrlf(bool),
    /// After the last chunk: trailer lines until an empty one; `empty` while the current line
    /// has no byte yet, `cr` once its CR was seen.
    Trailer { empty: bool, cr: bool },
}

/// Follows a byte stream of responses; see the module comment.
#[derive(Debug)]
struct Framer {
    frame: Frame,
    head: Vec<u8>,
}

/// What a complete head turned out to be.
enum Head {
    /// Written as it is; the body that follows is framed by this.
    Keep(Frame),
    /// One of the dispatcher's own answers, rewritten (head and body).
    Rewrite(Vec<u8>),
}

impl Framer {
    fn new() -> Self {
        Framer {
            frame: Frame::Head,
            head: Vec::new(),
        }
    }

    /// How many of `bytes` belong to the current body (all of them when not framed).
    fn body_len(&self, bytes: &[u8]) -> usize {
        match &self.frame {
            Frame::Head => 0,
            Frame::Opaque => bytes.len(),
            Frame::Body(left) => bytes
                .len()
                .min(usize::try_from(*left).unwrap_or(usize::MAX)),
            Frame::Chunked(state) => {
                let mut state = state.clone();
                let mut n = 0;
                while n < bytes.len() {
                    match step(&state, &bytes[n..]) {
                        Some((next, used)) => {
                            n += used;
                            match next {
                                Some(next) => state = next,
                                None => return n,
                            }
                        }
                        None => return bytes.len(),
                    }
                }
                n
            }
        }
    }

    /// Moves past `n` bytes of the current body, as [`Framer::body_len`] counted them.
    fn advance_body(&mut self, bytes: &[u8]) {
        match &mut self.frame {
            Frame::Head | Frame::Opaque => {}
            Frame::Body(left) => {
                *left -= bytes.len() as u64;
                if *left == 0 {
                    self.frame = Frame::Head;
                }
            }
            Frame::Chunked(state) => {
                let mut state = state.clone();
                let mut n = 0;
                while n < bytes.len() {
                    match step(&state, &bytes[n..]) {
                        Some((Some(next), used)) => {
                            state = next;
                            n += used;
                        }
                        Some((None, _)) => {
                            self.frame = Frame::Head;
                            return;
                        }
                        None => {
                            self.frame = Frame::Opaque;
                            return;
                        }
                    }
                }
                self.frame = Frame::Chunked(state);
            }
        }
    }

    /// Takes head bytes from `bytes`; returns how many it took and, once the head is complete,
    /// the bytes to write for it.
    fn take_head(&mut self, bytes: &[u8]) -> (usize, Option<Vec<u8>>) {
        // Find the blank line, also across the previous write's end.
        let from = self.head.len().saturating_sub(3);
        self.head.extend_from_slice(bytes);
        let Some(end) = find(&self.head[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
            if self.head.len() > MAX_HEAD {
                self.frame = Frame::Opaque;
                return (bytes.len(), Some(std::mem::take(&mut self.head)));
            }
            return (bytes.len(), None);
        };
        let taken = bytes.len() - (self.head.len() - end);
        self.head.truncate(end);
        let head = std::mem::take(&mut self.head);
        let out = match judge(&head) {
            Head::Keep(frame) => {
                self.frame = frame;
                head
            }
            Head::Rewrite(with) => with,
        };
        (taken, Some(out))
    }

    /// Anything buffered that must go out now (a flush or shutdown in the middle of a head:
    /// not one the dispatcher writes, so the rest passes through).
    fn take_partial(&mut self) -> Option<Vec<u8>> {
        if self.head.is_empty() {
            return None;
        }
        self.frame = Frame::Opaque;
        Some(std::mem::take(&mut self.head))
    }
}

/// One step of a chunked body: the next state (`None`: the body has ended) and the bytes used,
/// or `None` when the bytes are not a chunked body.
fn step(state: &Chunk, bytes: &[u8]) -> Option<(Option<Chunk>, usize)> {
    let b = bytes[0];
    let next = match *state {
        Chunk::Size { size, digits, ext } => match b {
            b'\r' if digits => Chunk::SizeLf { size },
            _ if ext => state.clone(),
            b';' | b' ' | b'\t' if digits => Chunk::Size {
                size,
                digits,
                ext: true,
            },
            _ => {
                let d = (b as char).to_digit(16)? as u64;
                Chunk::Size {
                    size: size.checked_mul(16)?.checked_add(d)?,
                    digits: true,
                    ext: false,
                }
            }
        },
        Chunk::SizeLf { size } => match b {
            b'\n' if size == 0 => Chunk::Trailer {
                empty: true,
                cr: false,
            },
            b'\n' => Chunk::Data(size),
            _ => return None,
        },
        Chunk::Data(left) => {
            let used = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let left = left - used as u64;
            let next = if left == 0 {
                Chunk::DataCrlf(false)
            } else {
                Chunk::Data(left)
            };
            return Some((Some(next), used));
        }
        Chunk::DataCrlf(cr) => match (cr, b) {
            (false, b'\r') => Chunk::DataCrlf(true),
            (true, b'\n') => Chunk::Size {
                size: 0,
                digits: false,
                ext: false,
            },
            _ => return None,
        },
        Chunk::Trailer { empty, cr } => match (cr, b) {
            (false, b'\r') => Chunk::Trailer { empty, cr: true },
            (true, b'\n') if empty => return Some((None, 1)),
            (true, b'\n') => Chunk::Trailer {
                empty: true,
                cr: false,
            },
            (true, _) => return None,
            (false, _) => Chunk::Trailer {
                empty: false,
                cr: false,
            },
        },
    };
    Some((Some(next), 1))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decides what a complete response head is, and how its body is framed.
fn judge(head: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let (Ok(httparse::Status::Complete(_)), Some(code)) = (res.parse(head), res.code) else {
        return Head::Keep(Frame::Opaque);
    };
    let named = |name: &str| {
        res.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let length = named("content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    let chunked = named("transfer-encoding").is_some_and(|v| {
        std::str::from_utf8(v).is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
    });
    if let Some(p) = problem(code)
        && length == Some(0)
        && named("content-type").is_none()
    {
        return Head::Rewrite(rewrite(code, res.headers, p));
    }
    if (100..200).contains(&code) || code == 204 || code == 304 {
        return Head::Keep(Frame::Head);
    }
    Head::Keep(match (chunked, length) {
        (true, _) => Frame::Chunked(Chunk::Size {
            size: 0,
            digits: false,
            ext: false,
        }),
        (false, Some(0)) => Frame::Head,
        (false, Some(n)) => Frame::Body(n),
        (false, None) => Frame::Opaque,
    })
}

/// The dispatcher's empty answer as a problem: its status line and headers, with the body's
/// length, type and a request id.
fn rewrite(code: u16, headers: &[httparse::Header<'_>], body: &str) -> Vec<u8> {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let id = RequestId::generate();
    tracing::info!(id = %id.as_str(), status = code, "answered a request the HTTP parser refused");
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n").into_bytes();
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-type: application/problem+json\r\nx-request-id: {}\r\ncontent-length: {}\r\n\r\n",
            id.as_str(),
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body.as_bytes());
    out
}

/// A connection whose responses are followed by a [`Framer`]; reads pass straight through.
pub struct ProblemIo<T> {
    inner: T,
    framer: Framer,
    /// Head bytes (kept or rewritten) not yet written to `inner`.
    pending: BytesMut,
}

impl<T> ProblemIo<T> {
    pub fn new(inner: T) -> Self {
        ProblemIo {
            inner,
            framer: Framer::new(),
            pending: BytesMut::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending_and(cx, &[]))?;
        Poll::Ready(Ok(()))
    }

    /// Writes the pending head bytes and then `body`, in one vectored write when both are there;
    /// returns how many bytes of `body` went out. A head and the body behind it in the
    /// dispatcher's buffer leave in one syscall, so one TCP segment (the listener sets NODELAY):
    /// written apart they cost a second syscall and a second segment per response.
    fn poll_pending_and(&mut self, cx: &mut Context<'_>, body: &[u8]) -> Poll<io::Result<usize>> {
        while !self.pending.is_empty() {
            let bufs = [IoSlice::new(&self.pending), IoSlice::new(body)];
            let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n > self.pending.len() {
                let sent = n - self.pending.len();
                self.pending.clear();
                return Poll::Ready(Ok(sent));
            }
            self.pending.advance(n);
        }
        if body.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Pin::new(&mut self.inner).poll_write(cx, body)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if buf.is_empty() {
            ready!(me.poll_pending(cx))?;
            return Poll::Ready(Ok(0));
        }
        let mut taken = 0;
        if me.framer.frame == Frame::Head {
            let (n, out) = me.framer.take_head(buf);
            if let Some(out) = out {
                me.pending.extend_from_slice(&out);
            }
            taken = n;
        }
        let rest = &buf[taken..];
        let body = &rest[..me.framer.body_len(rest)];
        match me.poll_pending_and(cx, body) {
            Poll::Ready(Ok(sent)) => {
                me.framer.advance_body(&body[..sent]);
                Poll::Ready(Ok(taken + sent))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // The head is ours now, to go with the next write or the flush.
            Poll::Pending if taken > 0 => Poll::Ready(Ok(taken)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if let Some(partial) = me.framer.take_partial() {
            me.pending.extend_from_slice(&partial);
        }
        ready!(me.poll_pending(cx))?;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if let Some(partial) = me.framer.take_partial() {
            me.pending.extend_from_slice(&partial);
        }
        ready!(me.poll_pending(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything `writes` turn into on the wire, each write given in pieces of `piece` bytes.
    fn wire(writes: &[&[u8]], piece: usize) -> Vec<u8> {
        let mut f = Framer::new();
        let mut out = Vec::new();
        for w in writes {
            for chunk in w.chunks(piece) {
                let mut rest = chunk;
                while !rest.is_empty() {
                    if f.frame == Frame::Head {
                        let (taken, head) = f.take_head(rest);
                        out.extend(head.unwrap_or_default());
                        rest = &rest[taken..];
                    } else {
                        let n = f.body_len(rest);
                        out.extend_from_slice(&rest[..n]);
                        f.advance_body(&rest[..n]);
                        rest = &rest[n..];
                    }
                }
            }
        }
        out.extend(f.take_partial().unwrap_or_default());
        out
    }

    const BAD: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\n\r\n";

    fn body_of(wire: &[u8]) -> serde_json::Value {
        let at = find(wire, b"\r\n\r\n").unwrap() + 4;
        serde_json::from_slice(&wire[at..]).unwrap()
    }

    #[test]
    fn the_dispatchers_empty_answers_get_a_problem_body_and_its_headers() {
        for (code, slug) in [
            (400, "bad-request"),
            (408, "request-timeout"),
            (431, "request-header-fields-too-large"),
        ] {
            let head = String::from_utf8(BAD.to_vec())
                .unwrap()
                .replace("400 Bad Request", &format!("{code} X"));
            for piece in [1, 7, usize::MAX] {
                let out = wire(&[head.as_bytes()], piece);
                let text = String::from_utf8_lossy(&out);
                assert!(text.starts_with(&format!("HTTP/1.1 {code} ")), "{text}");
                assert!(text.contains("content-type: application/problem+json\r\n"));
                assert!(text.contains("connection: close\r\n"), "kept: {text}");
                assert!(text.contains("x-request-id: "));
                let body = body_of(&out);
                assert_eq!(body["type"], format!("urn:cutover:problem:{slug}"));
                assert_eq!(body["status"], code);
                let at = find(&out, b"\r\n\r\n").unwrap() + 4;
                assert!(text.contains(&format!("content-length: {}\r\n", out.len() - at)));
            }
        }
    }

    #[test]
    fn app_answers_and_their_bodies_pass_through_byte_for_byte_even_when_a_body_looks_like_one() {
        let body = [b"\x89PNG....".as_slice(), BAD].concat();
        let ok = [
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
            &body,
        ]
        .concat();
        let problem =
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}";
        let chunked = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".as_slice(),
            format!("{:x}\r\n", BAD.len()).as_bytes(),
            BAD,
            b"\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
        ]
        .concat();
        let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
        let empty = b"HTTP/1.1 204 No Content\r\n\r\n";
        let stream = [cont.as_slice(), &ok, problem, &chunked, empty, &ok].concat();
        for piece in [1, 3, 64, usize::MAX] {
            assert_eq!(wire(&[&stream], piece), stream, "pieces of {piece}");
        }
        // ... and the dispatcher's own answer after them is still found.
        let after = wire(&[&stream, BAD], 5);
        assert_eq!(&after[..stream.len()], &stream[..]);
        assert_eq!(body_of(&after[stream.len()..])["status"], 400);
    }

    #[test]
    fn what_cannot_be_framed_passes_through_from_there_on() {
        let close_delimited = b"HTTP/1.1 200 OK\r\n\r\nthe body until the close";
        let stream = [close_delimited.as_slice(), BAD].concat();
        assert_eq!(wire(&[&stream], 4), stream);
        let not_http = [b"garbage\r\n\r\n".as_slice(), BAD].concat();
        assert_eq!(wire(&[&not_http], 4), not_http);
        let broken_chunk = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".as_slice(),
            BAD,
        ]
        .concat();
        assert_eq!(wire(&[&broken_chunk], 4), broken_chunk);
        let unfinished = b"HTTP/1.1 400 Bad Request\r\ncontent-le";
        assert_eq!(wire(&[unfinished], 4), unfinished);
    }

    /// The socket under the wrapper: records each write call, taking at most `cap` bytes.
    struct Socket {
        writes: Vec<Vec<u8>>,
        cap: usize,
    }

    impl AsyncWrite for Socket {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let me = self.get_mut();
            let mut write = Vec::new();
            for b in bufs {
                let n = b.len().min(me.cap - write.len());
                write.extend_from_slice(&b[..n]);
            }
            let n = write.len();
            me.writes.push(write);
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Each answer written the dispatcher's way (one buffer, offered until taken whole), then
    /// flushed; returns the socket's write calls per answer.
    fn send(answers: &[&[u8]], cap: usize) -> Vec<Vec<Vec<u8>>> {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut io = ProblemIo::new(Socket {
            writes: Vec::new(),
            cap,
        });
        let mut per_answer = Vec::new();
        for answer in answers {
            let mut rest = *answer;
            while !rest.is_empty() {
                match Pin::new(&mut io).poll_write(&mut cx, rest) {
                    Poll::Ready(Ok(n)) => rest = &rest[n..],
                    other => panic!("the socket is always ready: {other:?}"),
                }
            }
            assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
            per_answer.push(std::mem::take(&mut io.inner.writes));
        }
        per_answer
    }

    #[test]
    fn an_answer_leaves_in_one_write_head_and_body_together() {
        let list = b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{\"items\":[]}";
        let chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let answers = [list.as_slice(), BAD, chunked, list];
        let sent = send(&answers, usize::MAX);
        for (answer, writes) in answers.iter().zip(&sent) {
            assert_eq!(writes.len(), 1, "{}", String::from_utf8_lossy(answer));
        }
        assert_eq!(sent[0][0], list);
        assert_eq!(sent[2][0], chunked);
        assert_eq!(body_of(&sent[1][0])["status"], 400);
        // A socket that takes a few bytes at a time still gets every byte, in order.
        for cap in [1, 7, 40] {
            let wire: Vec<u8> = send(&answers, cap).concat().concat();
            let at = list.len();
            assert_eq!(&wire[..at], list, "cap {cap}");
            let problem = &wire[at..wire.len() - chunked.len() - list.len()];
            assert_eq!(body_of(problem)["status"], 400, "cap {cap}");
            assert_eq!(
                &wire[wire.len() - chunked.len() - list.len()..],
                [chunked.as_slice(), list].concat()
            );
        }
    }
}

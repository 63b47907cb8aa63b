//! The upstream's answer as the client receives it: its status and fields, minus what does not
//! cross a hop (and its framing, which the gateway's own connection decides), plus `Via`; its
//! body streamed through as it arrives, each read bounded by the route's timeout.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use crate::common::proxy_headers::{connection_named, is_hop_by_hop_name};
use crate::metrics::Metrics;
use crate::metrics::upstreams::UpstreamFailure;

/// The fields of an upstream's answer that are passed on.
pub fn passed_on(
    headers: &HeaderMap,
) -> impl Iterator<Item = (&header::HeaderName, &header::HeaderValue)> {
    let named: HashSet<String> = headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(connection_named)
        .collect();
    headers.iter().filter(move |(name, _)| {
        let n = name.as_str();
        !(is_hop_by_hop_name(n) || named.contains(n) || **name == header::CONTENT_LENGTH)
    })
}

/// An answer framed by both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3): refused
/// rather than passed on, since the two parsers it meets could read it as two different bodies.
pub fn ambiguous_framing(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH)
}

/// The most an upstream's answer head may carry (names and values), as nginx's default
/// `proxy_buffer_size` bounds it more tightly still: more is refused (502) rather than handed
/// to clients whose own parsers may cut it differently.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Whether an answer's head is over [`MAX_HEAD_BYTES`].
pub fn head_too_large(headers: &HeaderMap) -> bool {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum::<usize>()
        > MAX_HEAD_BYTES
}

/// Why a body passed through ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the upstream sent nothing for {0:?}")]
    Stalled(Duration),
    #[error("the upstream's body broke off")]
    Broken,
}

/// The upstream's body, passed through: each read bounded by `idle`; the upstream's connection
/// permit held until the body ends (or the client goes away, which drops this and the upstream
/// connection with it).
pub struct Body<S> {
    inner: S,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
    upstream: &'static str,
    metrics: Metrics,
    done: bool,
}

impl<S> Body<S> {
    pub fn new(
        inner: S,
        idle: Duration,
        permit: OwnedSemaphorePermit,
        upstream: &'static str,
        metrics: Metrics,
    ) -> Self {
        Body {
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            _permit: permit,
            upstream,
            metrics,
            done: false,
        }
    }

    fn fail(
        &mut self,
        failure: UpstreamFailure,
        e: BodyError,
    ) -> Poll<Option<Result<Bytes, BodyError>>> {
        self.done = true;
        self.metrics.upstream_failed(self.upstream, failure);
        tracing::warn!(upstream = self.upstream, error = %e, "upstream body ended early; the client's connection is closed");
        Poll::Ready(Some(Err(e)))
    }
}

impl<S, E> Stream for Body<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let deadline = Instant::now() + self.idle;
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(_))) => self.fail(UpstreamFailure::Unavailable, BodyError::Broken),
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let idle = self.idle;
                    self.fail(UpstreamFailure::Timeout, BodyError::Stalled(idle))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

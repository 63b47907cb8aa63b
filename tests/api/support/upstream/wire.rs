//! The socket as the upstream's hyper server sees it. hyper will not write a malformed answer, so
//! the raw behaviours (`/garbage`, `/smuggle`, `/close-body`) go around it: the handler leaves
//! the bytes in the connection's [`RawSlot`], and [`Wire`] writes them in place of whatever hyper
//! writes next, then fails that write, which makes hyper drop (close) the connection.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes to put on the wire instead of hyper's next answer on this connection.
#[derive(Clone, Default)]
pub struct RawSlot(Arc<Mutex<Option<RawAnswer>>>);

/// A raw answer and how much of it is on the wire.
struct RawAnswer {
    bytes: Vec<u8>,
    written: usize,
}

impl RawSlot {
    /// Leaves `bytes` for [`Wire`] to write instead of hyper's next answer.
    pub fn put(&self, bytes: Vec<u8>) {
        *self.0.lock().unwrap() = Some(RawAnswer { bytes, written: 0 });
    }
}

/// The socket as hyper sees it: reads pass through; writes too, unless a raw answer is waiting.
pub struct Wire {
    pub inner: TcpStream,
    pub raw: RawSlot,
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut slot = this.raw.0.lock().unwrap();
        let Some(RawAnswer { bytes, written }) = slot.as_mut() else {
            drop(slot);
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        // The raw answer is out: failing hyper's write makes it drop (close) the connection.
        Poll::Ready(Err(io::Error::other("raw answer sent; closing")))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

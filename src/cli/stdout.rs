//! What the commands print on stdout, written so that a reader going away is no failure:
//! `cutover completions bash | head -1` closes the pipe after one line, and `println!` would
//! panic on the `EPIPE` that follows (exit 101 and a panic message). The rest of the output is
//! dropped and the command finishes as it would have, with the same side effects and exit
//! status: whether anyone reads stdout never changes what a command does. The other write
//! errors (a full disk under a redirect) are reported on stderr and make the exit status 1.
//!
//! Restoring `SIGPIPE`'s default action at start was the other way: it needs `unsafe` (the crate
//! forbids it), and it would kill `serve` on a log line to a closed pipe.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `args` to stdout, unless its reader has gone.
pub fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => CLOSED.store(true, Ordering::Relaxed),
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            FAILED.store(true, Ordering::Relaxed);
            eprintln!("error: writing to stdout: {e}");
        }
    }
}

/// Whether a write failed for another reason than a closed pipe.
pub fn failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

/// `print!` without the panic on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` without the panic on a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};

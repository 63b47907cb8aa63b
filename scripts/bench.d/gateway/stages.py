"""Where a proxied request's CPU goes, by stage: reads `perf script -F ip,sym` (whole stacks,
recorded with --call-graph dwarf) on stdin and counts each sample once, under the first stage
in STAGES whose frames are on its stack (so the gate's own tracing counts as tracing, and the
kernel's socket work is split by which side, client or upstream, asked for it). Used by
`PROFILE_CALLGRAPH=dwarf scripts/profile gateway`; the table in docs/performance.md is its output.
"""

import sys
from collections import Counter

# (stage, frames any of which puts a sample there, kernel leaf only)
STAGES = [
    ("the assertion (cache lookup per identity and upstream)", ("Assertions::get_at",), False),
    ("tracing: the request span, its fields, the sampled access log",
     ("tracing_subscriber", "tracing_core", "tracing::span"), False),
    ("the gate (token cache, revocation, quota, ledger)", ("http::gate::gate", "deciding_refusals"), False),
    ("building the upstream's request head", ("outgoing::write", "upstream_url", "Identity::of"), False),
    ("the request id", ("RequestId",), False),
    ("actix's router (the built-in routes' patterns)", ("captures_at", "ResourceDef"), False),
    ("kernel: the upstream's socket", ("awc::", "PlStream"), True),
    ("kernel: the client's socket", ("ProblemIo", "poll_write_vectored", "next_item", "poll_read_priv", "Framed"), True),
    ("kernel: scheduler, epoll, other", ("",), True),
    ("the answer handed back (fields copied, body streamed)", ("answer_of", "incoming::"), False),
    ("awc in user space", ("awc::",), False),
    ("malloc and free elsewhere", ("malloc", "free", "_int_"), False),
    ("actix-web's server, tokio's runtime, other", ("",), False),
]


def stacks(lines):
    stack = None
    for line in lines:
        if not line.strip():
            if stack:
                yield stack
            stack = None
        elif line[0] in "\t ":
            # A frame; with `-F ip,sym` a sample has no header line of its own.
            ip, _, sym = line.strip().partition(" ")
            stack = (stack or []) + [(ip, sym)]
        else:
            stack = []
    if stack:
        yield stack


def stage(stack):
    leaf = stack[0][0]
    kernel = leaf.startswith("ffffffff") and leaf != "ffffffffffffffff"
    for name, frames, kernel_only in STAGES:
        if kernel_only and not kernel:
            continue
        if any(f in sym for _, sym in stack for f in frames):
            return name
    return STAGES[-1][0]


def main():
    counts = Counter(stage(s) for s in stacks(sys.stdin))
    total = sum(counts.values())
    if not total:
        sys.exit("no samples with stacks on stdin (record with --call-graph dwarf)")
    print(f"{total} samples, each under the first stage on its stack:")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()

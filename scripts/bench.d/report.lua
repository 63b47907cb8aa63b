-- Shared by the wrk scripts: one machine-readable line at the end of a run, which scripts/bench
-- parses (requests, non-2xx and socket errors, p50 and p99 in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end

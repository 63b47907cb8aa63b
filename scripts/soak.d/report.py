#!/usr/bin/env python3
"""The soak's report: throughput, latency, answers by kind and status, and the RSS series.
Exits 1 on any 5xx (or a slow upload that got no answer) and when RSS does not level off: the
last third's max more than SOAK_RSS_SLACK_MIB (default 4) above the middle third's."""

import collections
import os
import sys

wrk_out, slow_out, rss_file = sys.argv[1:4]
slack_mib = float(os.environ.get("SOAK_RSS_SLACK_MIB", "4"))

counts = collections.Counter()
facts = {}
for line in open(wrk_out).read().splitlines() + open(slow_out).read().splitlines():
    if not line.startswith("soak-result "):
        continue
    parts = line.split()[1:]
    if parts[0] == "count":
        counts[(parts[1], int(parts[2]))] += int(parts[3])
    elif parts[0] == "slow":
        counts[("slow_upload", int(parts[1]))] += int(parts[2])
    elif parts[0] == "socket_errors":
        facts["socket_errors"] = " ".join(parts[1:])
    else:
        facts[" ".join(parts[:-1])] = parts[-1]

requests = int(facts["requests"])
seconds = float(facts["seconds"])
print(f"requests: {requests} in {seconds:.0f} s = {requests / seconds:.0f} req/s (wrk; slow uploads apart)")
print("latency ms: " + ", ".join(
    f"{p} {facts['latency_ms ' + p]}" for p in ("p50", "p90", "p99", "p99.9", "max")))
print(f"socket errors: {facts.get('socket_errors', '?')}")

by_kind = collections.defaultdict(dict)
for (kind, status), n in counts.items():
    by_kind[kind][status] = n
total = sum(counts.values())
print("answers by kind and status:")
for kind in sorted(by_kind):
    n_kind = sum(by_kind[kind].values())
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(by_kind[kind].items()))
    print(f"  {kind:<12} {n_kind:>9} ({100 * n_kind / total:5.2f} %)  {statuses}")
by_status = collections.Counter()
for (_, status), n in counts.items():
    by_status[status] += n
print("answers by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(by_status.items())))

samples = [tuple(map(int, l.split())) for l in open(rss_file) if l.strip()]
mib = [(t, kib / 1024) for t, kib in samples]
print("rss MiB over time: " + " ".join(f"{t}s:{m:.1f}" for t, m in mib))
values = [m for _, m in mib]
third = max(1, len(values) // 3)
middle, last = values[third : 2 * third] or values, values[2 * third :] or values
growth = max(last) - max(middle)
levels_off = growth <= slack_mib
print(f"rss first {values[0]:.1f} MiB, max {max(values):.1f} MiB, last {values[-1]:.1f} MiB; "
      f"last third's max - middle third's max = {growth:+.1f} MiB "
      f"({'levels off' if levels_off else 'still climbing'}, slack {slack_mib:g} MiB)")

failures = []
fives = sum(n for s, n in by_status.items() if s >= 500)
if fives:
    failures.append(f"{fives} answers were 5xx")
if by_status.get(0):
    failures.append(f"{by_status[0]} slow uploads got no answer")
if not levels_off:
    failures.append("RSS did not level off")
# The split is paired by echoed request ids; an answer without one, or a bad credential let
# through, means the report (or the server) is wrong.
if "unpaired" in by_kind:
    failures.append(f"{sum(by_kind['unpaired'].values())} answers could not be paired with their request")
for kind in ("bad_key", "bad_token"):
    if any(200 <= s < 300 for s in by_kind.get(kind, {})):
        failures.append(f"a {kind} request was answered 2xx")
for f in failures:
    print(f"FAIL: {f}")
sys.exit(1 if failures else 0)

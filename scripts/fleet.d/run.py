"""The fleet run, started by scripts/fleet once the fleet is up: the load driver, the operator's
walk with its convergence probes, the faults, then the checks and the figures.

Standard library only. Everything the fleet does is driven through `$OUT/cutover` (the binary
with the instances' settings) and `$OUT/start` (restarts an instance or Redis and rewrites its
pid file, so the shell's trap still stops it by pid).
"""
import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import apis

CFG = json.load(open(sys.argv[1]))
OUT = CFG["out"]
QUICK = CFG["quick"]
POLL = CFG["poll_secs"]
FLUSH = CFG["flush_secs"]
LB = ("127.0.0.1", CFG["lb_port"])
INST = {name: ("127.0.0.1", port) for name, port in CFG["instances"].items()}
DENIED, KEPT = CFG["apis"]["denied"], CFG["apis"]["kept"]   # the upstreams (see apis.py)
UPSTREAMS = (DENIED, KEPT)
CUTOVER = os.path.join(OUT, "cutover")
START = os.path.join(OUT, "start")
# Timing budgets are a benchmark's: the full run checks them, --quick only reports them, so
# that a quick run on a busy machine fails on what is wrong, never on what is slow.
BUDGET = POLL + 1.0               # every instance answers by a stored change within this
P99_BUDGET_MS = float(os.environ.get("FLEET_P99_BUDGET_MS", "1000"))
# Correctness deadlines, in both modes: long enough for a machine several times slower than
# an idle one, so that reaching one means "did not happen", not "happened late".
DEADLINE = 30.0                   # for a step to converge on every instance at all
# A 503 with Retry-After this long after moto resumes is still the pause's: moto (one Python
# process) works off what queued during SIGSTOP first, slower on a busy machine.
# How long after a SIGKILL a request through HAProxy may still be sent to the dying instance:
# the kernel tears its listening socket down in milliseconds, and HAProxy learns of it only from
# the refused connection (a run saw one upload 4.5 ms after the kill end this way).
KILL_NOTICE = 0.5
MOTO_GRACE = 1.0 if not QUICK else 15.0
T0 = time.time()


def now():
    return time.time()


def log(msg):
    print(f"fleet: t={now() - T0:6.1f}s {msg}", file=sys.stderr, flush=True)


def pid_of(name):
    return int(open(os.path.join(OUT, "pids", f"{name}.pid")).read())


# ---------------------------------------------------------------- answers

ANSWERS = []
ALOCK = threading.Lock()


def record(**a):
    with ALOCK:
        ANSWERS.append(a)


# Beyond HAProxy's `timeout server` (60 s), so that a request that slow shows as HAProxy's 504
# (an unexpected 5xx) rather than as the driver giving up first.
WORKER_TIMEOUT = 90


class Conn:
    """One keep-alive connection, reopened after any error."""

    def __init__(self, addr, timeout=WORKER_TIMEOUT):
        self.addr, self.timeout, self.c = addr, timeout, None

    def request(self, method, path, headers, body=None):
        if self.c is None:
            self.c = http.client.HTTPConnection(*self.addr, timeout=self.timeout)
        try:
            self.c.request(method, path, body=body, headers=headers)
            r = self.c.getresponse()
            data = r.read()
            h = {k.lower(): v for k, v in r.getheaders()}
            if h.get("connection", "").lower() == "close":
                self.close()
            return r.status, h, data, None
        except Exception as e:  # noqa: BLE001 -- every failure is recorded by its class
            self.close()
            return None, {}, b"", type(e).__name__

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


def call(conn, src, kind, who, key_id, method, path, headers, body=None, extra=None):
    t0 = now()
    status, h, data, err = conn.request(method, path, headers, body)
    t1 = now()
    a = dict(t0=t0, t1=t1, src=src, kind=kind, who=who, key=key_id, status=status, err=err,
             server=h.get("x-fleet-server") if src == "lb" else src,
             retry_after=("retry-after" in h), ctype=h.get("content-type", ""),
             ptype="", api=apis.api_of(path, UPSTREAMS), papi=None)
    if status and status >= 400 and a["ctype"].startswith("application/problem+json"):
        try:
            j = json.loads(data)
            a["ptype"], a["papi"] = j.get("type", ""), j.get("api")
        except ValueError:
            pass
    if extra:
        a.update(extra)
    record(**a)
    return status, h, data


def png(n):
    return b"\x89PNG\r\n\x1a\n" + os.urandom(n)


def multipart(content):
    b = "fleet" + os.urandom(8).hex()
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + content + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


# ---------------------------------------------------------------- principals

TOKENS = dict(CFG["tokens"])          # sub -> token
KEYS = dict(CFG["keys"])              # key id -> key (the current one; rotation replaces it)
AGENTS = {k: f"fleet-{k}/1.{i} (legacy)" for i, k in enumerate(sorted(KEYS))}
KLOCK = threading.Lock()
# k-tiny has its own phase (its quota); k-once makes one request only, to the instance that is
# then killed at once (the durable first use: readiness must still name it).
LOAD_KEYS = [k for k in KEYS if k not in ("k-tiny", "k-once")]
UPLOADS = []                           # (id, sha256, owner, who, key)


def key_headers(k):
    with KLOCK:
        return {"X-API-KEY": KEYS[k], "User-Agent": AGENTS[k]}


def jwt_headers(sub):
    return {"Authorization": f"Bearer {TOKENS[sub]}", "User-Agent": "fleet-app/2.0"}


STOP = threading.Event()


def worker(seed):
    rnd = random.Random(seed)
    conn = Conn(LB)
    mine = []
    while not STOP.is_set():
        r = rnd.random()
        sub = rnd.choice(list(TOKENS))
        k = rnd.choice(LOAD_KEYS)
        if r < 0.30:
            call(conn, "lb", "list", sub, None, "GET", "/api/photos?limit=10", jwt_headers(sub))
        elif r < 0.55:
            call(conn, "lb", "list", k, k, "GET", "/api/photos?limit=10", key_headers(k))
        elif r < 0.71:   # the upstreams: 0.55-0.63 with a key, 0.63-0.71 with a token
            by_key = r < 0.63
            api = rnd.choice(UPSTREAMS)
            h = key_headers(k) if by_key else jwt_headers(sub)
            who, kid = (k, k) if by_key else (sub, None)
            if rnd.random() < 0.25:
                h["Content-Type"] = "application/json"
                call(conn, "lb", "gateway", who, kid, "POST", f"/{api}/items", h,
                     json.dumps({"n": rnd.randint(0, 1 << 30)}).encode())
            else:
                call(conn, "lb", "gateway", who, kid, "GET", f"/{api}/items/{rnd.randint(1, 999)}", h)
        elif r < 0.89:   # uploads: 0.71-0.84 with a token, 0.84-0.89 with a key
            by_key = r >= 0.84
            content = png(rnd.randint(1024, 16384))
            body, ctype = multipart(content)
            h = key_headers(k) if by_key else jwt_headers(sub)
            h["Content-Type"] = ctype
            sha = hashlib.sha256(content).hexdigest()
            status, _, data = call(conn, "lb", "upload", k if by_key else sub, k if by_key else None,
                                   "POST", "/api/uploads", h, body)
            if status == 201:
                j = json.loads(data)
                with ALOCK:
                    UPLOADS.append(dict(id=j["id"], sha256=sha, reported=j.get("sha256"),
                                        owner=j["owner"], by_key=k if by_key else None))
                if not by_key:
                    mine.append((sub, j["id"]))
        elif mine:
            s, pid = rnd.choice(mine)
            call(conn, "lb", "content", s, None, "GET", f"/api/photos/{pid}/content", jwt_headers(s))
        else:
            call(conn, "lb", "me", sub, None, "GET", "/api/me", jwt_headers(sub))
        time.sleep(CFG["delay_ms"] / 1000)
    conn.close()


# ---------------------------------------------------------------- the operator

STEPS = []   # dict(step, secs per instance, max, ok, cmd_secs)


def cli(*args):
    t = now()
    p = subprocess.run([CUTOVER, *args], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"cutover {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout.strip(), p.stderr, now() - t


def converge(step, cond, since, cmd_secs):
    """Polls every instance directly until `cond.check(conn, instance)` holds; per instance
    the seconds from `since` (the moment the change was stored) to its first such answer.
    Converging within DEADLINE is required in both modes; within BUDGET only in the full run.
    Returns the step's record (its `max` is None when an instance never got there)."""
    res = {}

    def one(name):
        conn = Conn(INST[name], timeout=DEADLINE)
        while now() - since < DEADLINE:
            if cond.check(conn, name):
                res[name] = max(0.0, now() - since)
                break
            time.sleep(0.05)
        conn.close()

    ts = [threading.Thread(target=one, args=(n,)) for n in INST]
    [t.start() for t in ts]
    [t.join() for t in ts]
    worst = max(res.values()) if len(res) == len(INST) else None
    in_budget = worst is not None and worst <= BUDGET
    ok = worst is not None and (QUICK or in_budget)
    STEPS.append(dict(step=step, secs=res, max=worst, ok=ok, in_budget=in_budget,
                      cmd_secs=round(cmd_secs, 2)))
    log(f"step {step}: {'converged in %.2fs' % worst if worst is not None else 'NOT converged'}"
        f" (command {cmd_secs:.2f}s) {res}")
    return STEPS[-1]


class Probe:
    def __init__(self, path, headers_fn, ok, kind, who, key_id):
        self.path, self.headers_fn, self.ok_fn = path, headers_fn, ok
        self.kind, self.who, self.key_id = kind, who, key_id

    def probe(self, conn, name):
        return call(conn, name, "probe-" + self.kind, self.who, self.key_id, "GET", self.path,
                    self.headers_fn())

    def ok(self, s, h, d):
        return self.ok_fn(s, h, d)

    def check(self, conn, name):
        return self.ok(*self.probe(conn, name))


class AllOf:
    """Several probes of one instance in one poll: it has converged when all hold at once (in
    order, stopping at the first that does not)."""

    def __init__(self, *probes):
        self.probes = probes

    def check(self, conn, name):
        return all(p.check(conn, name) for p in self.probes)


def key_probe(k, ok, path="/api/me"):
    return Probe(path, lambda: key_headers(k), ok, "key", k, k)


def ptype(d):
    try:
        return json.loads(d).get("type", "")
    except ValueError:
        return ""


def problem_api(d):
    try:
        return json.loads(d).get("api")
    except ValueError:
        return None


# Where and when keys may be refused (apis.py): "per-api" and "global", each from the moment its
# first command was sent to the moment every instance answered by its last one.
WINDOWS = {}
# Answers through HAProxy while orders was denied everywhere: per API, the instances that
# answered (each instance must have answered each API by its own state, under the load).
HELD = {}


def accepted(s, h, d):
    return s == 200


def refused_on(api):
    return lambda s, h, d: s == 401 and ptype(d).endswith("api-key-disabled") and problem_api(d) == api


def each_api(k, denied):
    """One key on every API of one instance: refused on `denied` (None: on none), accepted on
    the others."""
    return AllOf(*(key_probe(k, refused_on(api) if api == denied else accepted,
                             path=f"/{api}/fleet-probe" if api != apis.BUILTIN else "/api/me")
                   for api in (*UPSTREAMS, apis.BUILTIN)))


def through_lb(k, secs):
    """For `secs` at least, and until each instance has answered each API (DEADLINE at most):
    the key on every API through HAProxy, beside the load. classify() judges the answers."""
    conn = Conn(LB)
    t = now()
    seen = {api: set() for api in (*UPSTREAMS, apis.BUILTIN)}
    while now() - t < DEADLINE and (now() - t < secs or any(len(v) < len(INST) for v in seen.values())):
        for api in seen:
            path = f"/{api}/fleet-lb" if api != apis.BUILTIN else "/api/me"
            s, h, _ = call(conn, "lb", "walk", k, k, "GET", path, key_headers(k))
            if s is not None and h.get("x-fleet-server") in INST:
                seen[api].add(h["x-fleet-server"])
        time.sleep(0.05)
    conn.close()
    HELD.update({api: sorted(v) for api, v in seen.items()})


def per_api_walk():
    """One API (orders) to deny on its own and back, while the other upstream (billing), the
    built-in API and the global flag stay on allow. Before the global walk, so that the two
    never overlap and each window's refusals are its own."""
    k = "k-web"
    w = WINDOWS["per-api"] = dict(start=now())
    _, _, c = cli("fallback", "set", "deny", "--api", DENIED)
    st = converge(f"deny --api {DENIED}", each_api(k, DENIED), now(), c)
    if st["max"] is not None:
        w["all_denied"] = now()
    out, err, _ = cli("fallback", "get")
    log(f"fallback get: {out!r} {err.strip()!r}")
    through_lb(k, CFG["per_api_hold_secs"])
    w["clear_start"] = now()
    _, _, c = cli("fallback", "clear", "--api", DENIED)
    converge(f"clear --api {DENIED}", each_api(k, None), now(), c)
    w["end"] = now()


def operator():
    per_api_walk()
    ka = "k-mobile"
    t = now(); _, _, c = cli("fallback", "set", "warn")
    converge("warn", key_probe(ka, lambda s, h, d: s == 200 and "deprecation" in h), now(), c)

    # An instance sees the brownout only while it lasts: in --quick it lasts long enough for a
    # busy machine's slowest poll, so that "never seen" means the poll failed, not that it lagged.
    dur = CFG["brownout_secs"]
    g = WINDOWS["global"] = dict(start=now())
    _, _, c = cli("brownouts", "add", "--start", "now", "--duration", f"{dur}s", "--key", "k-brown")
    opened = now()
    converge("brownout opens", key_probe("k-brown", lambda s, h, d: s == 401 and "brownout" in ptype(d)), opened, c)
    converge("brownout ends", key_probe("k-brown", lambda s, h, d: s == 200), opened + dur, 0)

    _, err, c = cli("fallback", "canary", "--percent", "50")
    refused = [k for k in KEYS if k in err and k != "k-tiny"]
    log(f"canary 50%: refuses {refused}")
    if refused:
        converge("canary 50%", Probe("/api/me", lambda: key_headers(refused[0]),
                                     lambda s, h, d: s == 401, "key",
                                     refused[0], refused[0]), now(), c)
    else:
        STEPS.append(dict(step="canary 50%", secs={}, max=None, ok=False, in_budget=False, cmd_secs=c,
                          note="no key of the run in the canary"))

    _, _, c = cli("fallback", "set", "deny")
    converge("deny", key_probe(ka, lambda s, h, d: s == 401), now(), c)

    _, _, c1 = cli("fallback", "set", "allow")
    _, _, c2 = cli("fallback", "canary", "--percent", "0")
    back = refused[0] if refused else ka
    converge("allow + canary 0", key_probe(back, lambda s, h, d: s == 200), now(), c1 + c2)
    g["end"] = now()

    new, _, c = cli("keys", "rotate", "--id", "k-rot")
    rotated = now()
    converge("rotate k-rot", Probe("/api/me", lambda: {"X-API-KEY": new, "User-Agent": AGENTS["k-rot"]},
                                   lambda s, h, d: s == 200, "key", "k-rot", "k-rot"), rotated, c)
    with KLOCK:
        KEYS["k-rot"] = new

    # The owner is stored first (the line saying so), then the uploads move, then the command
    # waits out the key refresh and moves again: convergence counts from the owner's write.
    t = now()
    link = subprocess.Popen([CUTOVER, "keys", "link", "--id", "k-link", "--owner", "fleet-user-1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = ""
    while "now acts as" not in said:
        line = link.stderr.readline()
        if not line:
            break
        said += line
    stored = now()
    converge("link k-link", key_probe("k-link", lambda s, h, d: s == 200 and
                                      json.loads(d).get("principal") == "fleet-user-1"),
             stored, stored - t)
    out, err = link.communicate(timeout=120)
    if link.returncode != 0:
        raise RuntimeError(f"cutover keys link: exit {link.returncode}: {said}{err}")
    log(f"link k-link: {out.strip().splitlines()[-1]}")

    victim = "fleet-user-3"
    _, _, c = cli("revoke", "--sub", victim)
    converge("revoke fleet-user-3", Probe("/api/me", lambda: jwt_headers(victim),
                                          lambda s, h, d: s == 401, "jwt", victim, None), now(), c)


# ---------------------------------------------------------------- limits

LIMITS = []


_OPERATOR = {}


def operator_headers():
    """The admin listener is for operators: a dev-issuer token in the operators' group, minted
    again when it is half-way through its life."""
    if _OPERATOR.get("until", 0) < time.time():
        token = subprocess.run([CUTOVER, "token", "--sub", "fleet-operator", "--group",
                                "cutover-operators", "--ttl", "1800"],
                               capture_output=True, text=True, check=True).stdout.strip()
        _OPERATOR.update(token=token, until=time.time() + 900)
    return {"Authorization": "Bearer " + _OPERATOR["token"]}


def local_decisions():
    """Rate-limit decisions the instances made on their own share because Redis did not answer
    in time (its time limit is tens of milliseconds: on a busy machine, some do not)."""
    n = 0
    for name, port in CFG["admin"].items():
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
            c.request("GET", "/metrics", headers=operator_headers())
            text = c.getresponse().read().decode()
            c.close()
        except OSError:
            continue   # an instance being restarted: what it decided alone counts from zero again
        for line in text.splitlines():
            if line.startswith('cutover_rate_limit_store_fallbacks_total{limit="principal"}'):
                n += int(float(line.split()[-1]))
    return n


def hammer(label, n=36, shared=True):
    """n requests of the small-quota key through HAProxy, as fast as 6 connections go."""
    res = []
    before = local_decisions()
    t = now()

    def go(i):
        conn = Conn(LB)
        for _ in range(n // 6):
            s, _, _ = call(conn, "lb", "hammer", "k-tiny", "k-tiny", "GET", "/api/me",
                           key_headers("k-tiny"))
            res.append(s)
        conn.close()

    ts = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    secs = now() - t
    q = CFG["tiny_quota"]
    bound = q["burst"] + int(q["rate_per_minute"] * secs / 60) + 1
    if shared:
        # A decision made locally (Redis late) spends an instance's share, not the shared
        # bucket: the fleet then allows at most the shared quota plus the local shares (which
        # add up to the quota again), and no more than one request per local decision.
        bound += min(max(0, local_decisions() - before), bound)
    ok200 = res.count(200)
    bad = [s for s in res if s not in (200, 429)]
    LIMITS.append(dict(phase=label, sent=len(res), accepted=ok200, bound=bound, secs=round(secs, 2),
                       other=bad, ok=ok200 <= bound and not bad and ok200 > 0))
    log(f"limits ({label}): {ok200} of {len(res)} accepted in {secs:.2f}s, bound {bound}, other {bad}")


# ---------------------------------------------------------------- faults

FAULTS = {}


def wait_ready(name, limit=60):
    t = now()
    while now() - t < limit:
        try:
            c = http.client.HTTPConnection(*INST[name], timeout=10)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return now() - t
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {limit}s")


def slow_upload(name, out):
    """An upload sent directly to `name` that never finishes its body: in flight when the
    instance is killed."""
    s = None
    t0 = now()
    try:
        body, ctype = multipart(png(1 << 20))
        c = http.client.HTTPConnection(*INST[name], timeout=30)
        c.putrequest("POST", "/api/uploads")
        for k, v in {**jwt_headers("fleet-user-1"), "Content-Type": ctype,
                     "Content-Length": str(len(body))}.items():
            c.putheader(k, v)
        c.endheaders()
        c.send(body[:65536])
        out["sent"] = now()
        while True:
            time.sleep(0.2)
            c.send(b"")
            c.sock.settimeout(0.2)
            try:
                r = c.getresponse()
                s = r.status
                break
            except TimeoutError:
                continue
    except Exception as e:  # noqa: BLE001
        record(t0=t0, t1=now(), src=name, kind="slow-upload", who="fleet-user-1", key=None,
               status=s, err=type(e).__name__, server=name, retry_after=False, ctype="", ptype="")
        return
    record(t0=t0, t1=now(), src=name, kind="slow-upload", who="fleet-user-1", key=None,
           status=s, err=None, server=name, retry_after=False, ctype="", ptype="")


def fault_kill(name):
    st = {}
    th = threading.Thread(target=slow_upload, args=(name, st))
    th.start()
    while "sent" not in st and th.is_alive():
        time.sleep(0.05)
    time.sleep(0.3)
    # k-once's only request, answered by `name` right before the kill: between two flushes, so
    # only the durable first use can keep it.
    once = Conn(INST[name])
    status, _, _ = call(once, name, "once", "k-once", "k-once", "GET", "/api/photos?limit=1",
                        key_headers("k-once"))
    once.close()
    if status != 200:
        raise RuntimeError(f"k-once's request got {status}")
    pid = pid_of(name)
    t = now()
    os.kill(pid, signal.SIGKILL)
    FAULTS["kill"] = dict(instance=name, at=t)
    log(f"SIGKILL {name} (pid {pid}) with an upload in flight")
    th.join(10)
    time.sleep(1)
    subprocess.run([START, name], check=True)
    FAULTS["kill"]["ready_secs"] = round(wait_ready(name), 2)
    FAULTS["kill"]["back"] = now()
    log(f"{name} restarted, ready in {FAULTS['kill']['ready_secs']}s")


def fault_term(name):
    pid = pid_of(name)
    t = now()
    os.kill(pid, signal.SIGTERM)
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
        if now() - t > 60:
            # the drain is 5 s: a minute is a hung shutdown, and a restart would not get the port
            raise RuntimeError(f"{name} (pid {pid}) still running 60 s after SIGTERM")
        time.sleep(0.05)
    FAULTS["term"] = dict(instance=name, at=t, exit_secs=round(now() - t, 2))
    log(f"SIGTERM {name}: exited in {FAULTS['term']['exit_secs']}s")
    subprocess.run([START, name], check=True)
    FAULTS["term"]["ready_secs"] = round(wait_ready(name), 2)
    FAULTS["term"]["back"] = now()


def fault_redis(secs):
    if secs <= 0:
        return
    pid = pid_of("redis")
    t = now()
    os.kill(pid, signal.SIGTERM)
    FAULTS["redis"] = dict(at=t, secs=secs)
    log(f"redis stopped for {secs}s")
    time.sleep(secs / 2)
    hammer("redis down: local shares", shared=False)
    time.sleep(max(0, secs - (now() - t)))
    subprocess.run([START, "redis"], check=True)
    FAULTS["redis"]["back"] = now()
    log("redis back")


def fault_moto(secs):
    if secs <= 0:
        return
    pid = CFG["moto_pid"]
    t = now()
    os.kill(pid, signal.SIGSTOP)
    FAULTS["moto"] = dict(at=t, secs=secs)
    log(f"moto paused (SIGSTOP) for {secs}s")
    try:
        time.sleep(secs)
    finally:
        os.kill(pid, signal.SIGCONT)
    FAULTS["moto"]["back"] = now()
    log("moto resumed")


# ---------------------------------------------------------------- checks

# What a SIGKILL may take from the ledger: the killed instance's answers since its last flush
# that landed, at most a flush interval plus that flush's own write before the kill (the write
# is slower on a busy machine: --quick, which runs on one, allows more for it).
CRASH_WINDOW = 2 * FLUSH + (1 if not QUICK else 6)


def ledger_rows(answers, clients, kill):
    """Per key, the driver's count of accepted answers against the ledger's, with its bounds."""
    rows = []
    for k in sorted(KEYS):
        seen = [a for a in answers if a["key"] == k and a["err"] is None and a["status"] is not None
                and not (a["status"] >= 500 and not a["ctype"].startswith("application/problem+json"))]
        accepted = [a for a in seen if a["status"] not in (401, 403, 429)]
        allowance = 0
        inflight = 0
        if kill:
            allowance = sum(1 for a in accepted if a["server"] == kill["instance"]
                            and kill["at"] - CRASH_WINDOW <= a["t1"] <= kill["at"])
            inflight = sum(1 for a in answers if a["key"] == k and a["server"] == kill["instance"]
                           and a["t0"] <= kill["at"] <= a["t1"] + 0.05)
        fleet = clients.get(k, {}).get("accepted", 0)
        ok = len(accepted) - allowance <= fleet <= len(accepted) + inflight
        rows.append(dict(key=k, driver=len(accepted), fleet=fleet, allowance=allowance,
                         inflight=inflight, ok=ok))
    return rows


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def classify(a):
    """None for an answer that is no error; else its cause."""
    s, err = a["status"], a["err"]
    lb_made = s is not None and s >= 500 and not a["ctype"].startswith("application/problem+json")
    if err is None and s is not None and s < 500:
        return apis.cause(a, DENIED, WINDOWS.get("per-api"), WINDOWS.get("global"))
    k = FAULTS.get("kill")
    if k and (err or lb_made) and a["server"] == k["instance"] and a["t0"] <= k["at"] <= a["t1"] + 0.05:
        return "in flight on the killed instance"
    # HAProxy closes the client's connection when its server dies after a request was sent, and
    # then names no server: a connection error through HAProxy in flight at the kill, or sent in
    # the moments after it, while the dying process's socket still took connections and before
    # HAProxy could know (an upload is too large for its `retry-on` to send again)
    if k and err and a["src"] == "lb" and a["server"] is None \
            and a["t0"] - KILL_NOTICE <= k["at"] <= a["t1"] + 0.05:
        return "in flight on the killed instance"
    m = FAULTS.get("moto")
    if m and s == 503 and a["retry_after"] and not lb_made and \
            a["t0"] <= m["back"] + MOTO_GRACE and a["t1"] >= m["at"]:
        return "503 + Retry-After during the moto pause"
    what = f"{s}" if s else err
    return f"UNEXPECTED {what} {a['kind']} via {a['src']} on {a['server']} {a['ptype'] or a['ctype']}"


B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def when(ids):
    """Each photo id (a ULID) with its time relative to the faults, to tell which one made it."""
    out = []
    for i in ids:
        ms = 0
        for ch in i[:10]:
            ms = ms * 32 + B32.index(ch)
        t = ms / 1000
        near = [f"{n} {t - f['at']:+.1f}s" for n, f in FAULTS.items()
                if "at" in f and abs(t - f["at"]) < 15]   # (the orphans' entry has no time)
        out.append(f"{i} ({', '.join(near) or 'no fault near'})")
    return out


def pct(xs, p):
    if not xs:
        return 0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def verify_uploads():
    """Every 201 is listed by its owner and its bytes come back with the same SHA-256."""
    subs = set(TOKENS)
    fresh = {}
    time.sleep(1.1)   # a token issued after the revocation (`--before now`) is a new one
    for sub in subs:
        fresh[sub] = subprocess.run([CUTOVER, "token", "--sub", sub, "--ttl", "600"],
                                    capture_output=True, text=True, check=True).stdout.strip()
    with KLOCK:
        keys = dict(KEYS)

    def headers_for(u):
        owner = u["owner"]
        if owner.startswith("apikey:"):
            kid = owner[len("apikey:"):]
            # a linked key's uploads moved to its owner
            if kid == "k-link":
                return {"Authorization": f"Bearer {fresh['fleet-user-1']}"}
            return {"X-API-KEY": keys[kid]}
        return {"Authorization": f"Bearer {fresh[owner]}"}

    key_of = {v: k for k, v in keys.items()}
    listed = {}
    conn = Conn(LB)
    principals = {}
    for u in UPLOADS:
        h = headers_for(u)
        principals[json.dumps(h, sort_keys=True)] = h
    for hk, h in principals.items():
        ids, cursor = set(), None
        while True:
            q = "/api/photos?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            s, _, d = call(conn, "lb", "verify-list", None, key_of.get(h.get("X-API-KEY")), "GET", q, h)
            if s != 200:
                break
            j = json.loads(d)
            ids |= {i["id"] for i in j["items"]}
            cursor = j.get("next_cursor")
            if not cursor:
                break
        listed[hk] = ids
    missing, bad_sha, unreadable = [], [], []
    for u in UPLOADS:
        h = headers_for(u)
        if u["id"] not in listed[json.dumps(h, sort_keys=True)]:
            missing.append(u["id"])
        s, rh, d = call(conn, "lb", "verify-content", None, key_of.get(h.get("X-API-KEY")), "GET",
                        f"/api/photos/{u['id']}/content", h)
        if s == 302:
            loc = urllib.parse.urlsplit(rh["location"])
            c2 = http.client.HTTPConnection(loc.hostname, loc.port, timeout=30)
            c2.request("GET", loc.path + ("?" + loc.query if loc.query else ""))
            r = c2.getresponse()
            s, d = r.status, r.read()
            c2.close()
        if s != 200:
            unreadable.append((u["id"], s))
        elif hashlib.sha256(d).hexdigest() != u["sha256"] or u["reported"] != u["sha256"]:
            bad_sha.append(u["id"])
    conn.close()
    return missing, bad_sha, unreadable


def main():
    n_workers = CFG["workers"]
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_workers)]
    [w.start() for w in workers]
    log(f"load: {n_workers} connections through HAProxy on {LB[1]}")
    failures = []
    try:
        time.sleep(CFG["warmup_secs"])
        operator()
        hammer("redis up: shared")
        time.sleep(CFG["gap_secs"])
        fault_kill("i1")
        time.sleep(CFG["gap_secs"])
        fault_term("i2")
        time.sleep(CFG["gap_secs"])
        fault_redis(CFG["redis_secs"])
        time.sleep(CFG["gap_secs"])
        fault_moto(CFG["moto_secs"])
        time.sleep(CFG["tail_secs"])
    except Exception as e:  # noqa: BLE001 -- stop the load and report what ran
        failures.append(f"the run stopped: {e}")
        log(f"ERROR {e}")
    rss = {n: rss_kib(pid_of(n)) for n in INST}
    STOP.set()
    [w.join(WORKER_TIMEOUT + 5) for w in workers]
    load_secs = now() - T0
    log(f"load stopped after {load_secs:.0f}s")

    with ALOCK:
        answers = list(ANSWERS)
    with open(os.path.join(OUT, "answers.jsonl"), "w") as f:
        for a in answers:
            f.write(json.dumps(a) + "\n")

    # errors by cause
    causes = {}
    for a in answers:
        c = classify(a)
        if c:
            causes[c] = causes.get(c, 0) + 1
    unexpected = {c: n for c, n in causes.items() if c.startswith("UNEXPECTED")}
    for c, n in unexpected.items():
        failures.append(f"error: {n} x {c}")
    statuses = {}
    for a in answers:
        k = str(a["status"] or a["err"])
        statuses[k] = statuses.get(k, 0) + 1

    # convergence: within DEADLINE in both modes, within BUDGET in the full run
    for s in STEPS:
        if s["max"] is None:
            failures.append(f"convergence: {s['step']} not converged on every instance within "
                            f"{DEADLINE} s {s['secs']} {s.get('note', '')}")
        elif not s["ok"]:
            failures.append(f"convergence: {s['step']} took {s['max']:.2f} s (budget {BUDGET} s) "
                            f"{s.get('note', '')}")

    # one API denied alone: every instance answered each API through HAProxy meanwhile
    w = WINDOWS.get("per-api", {})
    if "all_denied" in w:
        short = {api: sorted(set(INST) - set(v)) for api, v in HELD.items() if set(v) != set(INST)}
        if short or not HELD:
            failures.append(f"per API: while {DENIED} was denied, instances that did not answer an "
                            f"API through HAProxy: {short or 'no answer at all'}")
    per_api = dict(window={k: round(v - T0, 2) for k, v in w.items()}, lb_instances=HELD,
                   held=apis.held(answers, w or None))

    # limits
    for lim in LIMITS:
        if not lim["ok"]:
            failures.append(f"limits ({lim['phase']}): {lim['accepted']} accepted, bound {lim['bound']}, other {lim['other']}")

    # nothing lost (the verification's own key requests are recorded: the ledger counts them)
    missing, bad_sha, unreadable = verify_uploads()
    with ALOCK:
        answers = list(ANSWERS)
    for what, xs in (("not listed", missing), ("SHA-256 differs", bad_sha), ("not readable", unreadable)):
        if xs:
            failures.append(f"uploads {what}: {len(xs)} {xs[:5]}")
    # What the SIGKILL can leave: objects of uploads between their object and their item. The
    # operator's `cutover orphans --delete` removes them (the load has stopped: no grace needed);
    # at most the uploads the kill cut off can be among them.
    p = subprocess.run([CUTOVER, "orphans", "--older-than", "0", "--delete", "--format", "json"],
                       capture_output=True, text=True)
    swept = json.loads(p.stdout) if p.stdout.strip() else {}
    orphans = len(swept.get("report", {}).get("objects_without_item", []))
    cut_off = 0
    if FAULTS.get("kill"):
        k_at = FAULTS["kill"]["at"]
        # The slow upload is the one the kill aims at (an upload in flight): it counts too.
        cut_off = sum(1 for a in answers if a["kind"] in ("upload", "slow-upload")
                      and a["status"] != 201
                      and a["t0"] <= k_at <= a["t1"] + 0.05)
    FAULTS["orphans"] = dict(removed=swept.get("removed"), cut_off_uploads=cut_off)
    if p.returncode != 0:
        failures.append(f"cutover orphans --delete: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    if orphans > cut_off:
        failures.append(f"orphans: {orphans} objects without their item, more than the {cut_off} "
                        "uploads the SIGKILL cut off")
    audit = json.loads(subprocess.run([CFG["venv_python"], CFG["aws_py"], "audit", CFG["name"]],
                                      capture_output=True, text=True, check=True).stdout)
    if audit["objects_without_item"] or audit["items_without_object"]:
        failures.append(f"S3 vs DynamoDB: objects without item {when(audit['objects_without_item'][:5])}, "
                        f"items without object {when(audit['items_without_object'][:5])}")
    ours = {u["id"] for u in UPLOADS}
    not_stored = ours - set(audit["items"])
    if not_stored:
        failures.append(f"uploads answered 201 but not in DynamoDB: {sorted(not_stored)[:5]}")

    # the ledger: each instance flushes every FLUSH s (later on a busy machine), so it is read
    # until every key is within its bounds, or DEADLINE passes (an over-count never settles)
    kill = FAULTS.get("kill")
    deadline = now() + DEADLINE
    while True:
        p = subprocess.run([CUTOVER, "clients", "--days", "1", "--format", "json"],
                           capture_output=True, text=True)
        clients = {c["key_id"]: c for c in json.loads(p.stdout)["clients"]} if p.returncode == 0 else {}
        ledger = ledger_rows(answers, clients, kill)
        if (p.returncode == 0 and all(r["ok"] for r in ledger)) or now() > deadline:
            break
        time.sleep(0.5)
    log(f"ledger read {now() - deadline + DEADLINE:.1f}s after the load's last answer was counted")
    if p.returncode != 0:
        failures.append(f"cutover clients: exit {p.returncode}: {p.stderr.strip()}")
    for row in ledger:
        if not row["ok"]:
            what = "under-count beyond the crash allowance" if row["fleet"] < row["driver"] else "over-count"
            failures.append(f"ledger {row['key']}: {what}: fleet {row['fleet']}, driver {row['driver']} "
                            f"(allowance -{row['allowance']}/+{row['inflight']})")
    p = subprocess.run([CUTOVER, "readiness", "--days", "1", "--format", "json"], capture_output=True,
                       text=True)
    readiness_ok = p.returncode == 1
    try:
        # the keys readiness holds as still used (it lists every configured key, used or not)
        named = {r["key_id"] for r in json.loads(p.stdout)["keys"] if r["requests_window"] > 0}
    except (ValueError, KeyError):
        named = set()
    once = clients.get("k-once", {}).get("accepted", 0)
    if FAULTS.get("kill") and once < 1:
        failures.append("ledger k-once: its one request, answered just before the SIGKILL, is not "
                        f"in the ledger (accepted {once}): the durable first use failed")
    used = [row["key"] for row in ledger if row["driver"] > 0]
    not_named = [k for k in used if k not in named]
    if not readiness_ok or not_named:
        failures.append(f"readiness: exit {p.returncode} (want 1, not ready), keys not named {not_named}")

    lat = [(a["t1"] - a["t0"]) * 1000 for a in answers
           if a["src"] == "lb" and a["status"] and not a["kind"].startswith("verify")]
    lb_n = sum(1 for a in answers if a["src"] == "lb")
    p99 = pct(lat, 99)
    latency_ok = p99 <= P99_BUDGET_MS
    if not latency_ok and not QUICK:
        failures.append(f"latency: p99 {p99:.1f} ms through HAProxy, budget {P99_BUDGET_MS:.0f} ms")
    with open(os.path.join(OUT, "answers.jsonl"), "w") as f:
        for a in answers:
            f.write(json.dumps(a) + "\n")
    summary = dict(
        mode="quick" if QUICK else "full", seconds=round(load_secs),
        requests=sum(1 for a in answers if not a["kind"].startswith("verify")),
        through_lb=lb_n - sum(1 for a in answers if a["kind"].startswith("verify")), statuses=statuses, causes=causes, steps=STEPS, limits=LIMITS,
        per_api=per_api,
        faults=FAULTS, uploads=len(UPLOADS), ledger=ledger, audit_counts=dict(
            objects=len(audit["objects"]), items=len(audit["items"]),
            open_multipart=audit["open_multipart_uploads"]),
        p50_ms=round(pct(lat, 50), 1), p99_ms=round(p99, 1), latency_ok=latency_ok,
        rss_mib={n: round(v / 1024) for n, v in rss.items()}, failures=failures)
    json.dump(summary, open(os.path.join(OUT, "summary.json"), "w"), indent=1)
    report(summary)
    return 1 if failures else 0


def report(s):
    print("\n## fleet summary\n")
    print(f"requests {s['requests']} ({s['through_lb']} through HAProxy), {s['uploads']} uploads answered 201, "
          f"{s['seconds']} s of load")
    print("answers by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items())))
    print("errors by cause:")
    for c, n in sorted(s["causes"].items()):
        print(f"  {n:6d}  {c}")
    checked = "reported, not checked in --quick" if s["mode"] == "quick" else "checked"
    print("convergence (seconds from the stored change to every instance answering by it; "
          f"required within {DEADLINE} s; budget {BUDGET} s, {checked}):")
    for st in s["steps"]:
        per = " ".join(f"{k}={v:.2f}" for k, v in sorted(st["secs"].items()))
        mark = "ok  " if st["ok"] else "FAIL"
        over = "" if st["in_budget"] or st["max"] is None else "  over budget"
        print(f"  {mark} {st['step']:22s} max {st['max']}  [{per}]  (command {st['cmd_secs']} s){over}")
    pa = s["per_api"]
    print(f"one API at a time ({DENIED} denied alone; seconds from the run's start {pa['window']}):")
    print("  key answers through HAProxy while it was denied everywhere, by API: "
          + (", ".join(f"{api} {json.dumps(v, sort_keys=True)}" for api, v in sorted(pa["held"].items()))
             or "none"))
    print("  instances that answered each API through HAProxy then: "
          + ", ".join(f"{api} {'/'.join(v)}" for api, v in sorted(pa["lb_instances"].items())))
    print("limits (k-tiny through HAProxy):")
    for lim in s["limits"]:
        print(f"  {'ok  ' if lim['ok'] else 'FAIL'} {lim['phase']}: {lim['accepted']}/{lim['sent']} accepted, bound {lim['bound']}")
    print("faults: " + json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ('at', 'back')}
                                   for k, v in s["faults"].items()}))
    print("ledger (accepted, driver vs `cutover clients`):")
    for row in s["ledger"]:
        print(f"  {'ok  ' if row['ok'] else 'FAIL'} {row['key']:10s} driver {row['driver']:6d} fleet {row['fleet']:6d}"
              f"  (crash allowance -{row['allowance']}/+{row['inflight']})")
    print(f"S3 vs DynamoDB: {s['audit_counts']}")
    print(f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms through HAProxy (p99 budget {P99_BUDGET_MS:.0f} ms, "
          f"{checked}{'' if s['latency_ok'] else ': over'}); RSS MiB {s['rss_mib']}")
    conv = max((99.0 if st["max"] is None else st["max"]) for st in s["steps"]) if s["steps"] else 0.0
    moto = s["causes"].get("503 + Retry-After during the moto pause", 0)
    killed = s["causes"].get("in flight on the killed instance", 0)
    unexp = sum(n for c, n in s["causes"].items() if c.startswith("UNEXPECTED"))
    rss = "/".join(str(s["rss_mib"][n]) for n in sorted(s["rss_mib"]))
    one = {st["step"]: st["max"] for st in s["steps"]}
    walk = " / ".join("—" if one.get(f"{v} --api {DENIED}") is None else f"{one[f'{v} --api {DENIED}']:.2f} s"
                      for v in ("deny", "clear"))
    row = (f"| {time.strftime('%Y-%m-%d')} | {s['mode']} | {s['seconds']} s | {s['requests']} | {s['uploads']} | "
           f"{moto} / {killed} / {unexp} | {conv:.2f} s | {walk} | {s['p50_ms']} / {s['p99_ms']} ms | {rss} | "
           f"{'pass' if not s['failures'] else 'FAIL'} |")
    print("\n| date | mode | load | requests | uploads 201 | 5xx: moto pause / killed in flight / unexpected "
          f"| worst convergence | {DENIED} alone: deny / clear | p50 / p99 | RSS MiB i1/i2/i3 | result |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(row)
    open(os.path.join(OUT, "row.md"), "w").write(row + "\n")
    if s["failures"]:
        print("\nFAILED:")
        for f in s["failures"]:
            print(f"  - {f}")
    else:
        print("\nall checks passed")


if __name__ == "__main__":
    sys.exit(main())

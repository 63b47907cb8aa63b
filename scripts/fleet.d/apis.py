"""One cutover per API, as the fleet run checks it: which API an answer belongs to, and where and
when the operator's walk allows a key to be refused.

The walk has two windows in which keys may be refused: the per-API one (`orders` alone set to
`deny`, then cleared: only keys on `orders`, with a body naming it) and the global one (from the
brownout's command to `allow` + canary 0 in force everywhere: any key on any API). A key refused
by the deprecation policy anywhere else (on `billing` or the built-in photos API during the
per-API window, on any API outside both) is an error, and so is a key accepted on `orders` after
every instance was seen denying it and before the operator cleared it. Standard library only,
no state of its own: run.py passes the windows it recorded.
"""
import math

BUILTIN = "photos"
# The problem types of the key path's policy (flag, canary, brownout), not of a bad credential:
# a rotated key's old value (`invalid-api-key`) or a revoked token is refused on every API.
POLICY_TYPES = ("api-key-disabled", "key-path-brownout")


def api_of(path, upstreams):
    """The API a request path belongs to: an upstream's name by its prefix, else the built-in."""
    first = path.split("?", 1)[0].split("/")[1:2]
    return first[0] if first and first[0] in upstreams else BUILTIN


def by_policy(a):
    """A key refused by the deprecation policy (not by a bad or rotated credential)."""
    return a["status"] == 401 and a["key"] is not None and a["ptype"].endswith(POLICY_TYPES)


def overlaps(a, w):
    return w is not None and a["t1"] >= w["start"] and a["t0"] <= w.get("end", math.inf)


def cause(a, denied, per_api, global_):
    """None when a key's answer is what the walk allows at its time; else why it is not.

    `per_api`: dict(start, end, all_denied, clear_start) or None; `global_`: dict(start, end) or
    None. A window the run did not finish has no `end`: it lasts to the end of the run.
    """
    if a["key"] is None or a["status"] is None:
        return None
    api = a.get("api", BUILTIN)
    where = f"via {a['src']} on {a['server']}"
    if by_policy(a):
        if overlaps(a, global_):
            return None
        if api == denied and overlaps(a, per_api):
            if not a["ptype"].endswith("api-key-disabled") or a.get("papi") != denied:
                return (f"UNEXPECTED 401 {a['ptype']} naming API {a.get('papi')!r} for a key on "
                        f"{api} in its deny {where}")
            return None
        return f"UNEXPECTED 401 {a['ptype']} for a key on {api} (not walked to deny then) {where}"
    held = per_api is not None and "all_denied" in per_api
    if held and api == denied and 200 <= a["status"] < 300 \
            and a["t0"] >= per_api["all_denied"] and a["t1"] <= per_api.get("clear_start", math.inf):
        return f"UNEXPECTED {a['status']} for a key on {api} after every instance denied it {where}"
    return None


def held(answers, per_api):
    """The key answers through HAProxy while `orders` was denied everywhere, per API and status."""
    out = {}
    if per_api is None or "all_denied" not in per_api:
        return out
    for a in answers:
        if a["src"] != "lb" or a["key"] is None or a["status"] is None:
            continue
        if a["t0"] >= per_api["all_denied"] and a["t1"] <= per_api.get("clear_start", math.inf):
            per = out.setdefault(a.get("api", BUILTIN), {})
            per[str(a["status"])] = per.get(str(a["status"]), 0) + 1
    return out

-- The soak mix for wrk: per request, a weighted draw of
--   lists with a user's JWT, lists with the legacy key, small uploads (multipart, JWT),
--   and bad credentials (a wrong key or a garbled token, ~2 %).
-- Tokens and the key come from the environment (scripts/soak sets them). Every request carries
-- an X-Request-Id that names its kind, which the server (trusting loopback as a proxy) echoes,
-- so every response is counted by the kind of the request it answers, and by status; done() prints the counts and the latency percentiles as
-- `soak-result` lines that scripts/soak reads.

local tokens = {}
for t in string.gmatch(os.getenv("SOAK_TOKENS") or "", "%S+") do tokens[#tokens + 1] = t end
local key = os.getenv("SOAK_KEY")
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
-- Cumulative weights in percent: list_jwt, list_key, upload, bad (the rest).
local w_list_jwt = tonumber(os.getenv("SOAK_W_LIST_JWT") or "60")
local w_list_key = w_list_jwt + tonumber(os.getenv("SOAK_W_LIST_KEY") or "30")
local w_upload = w_list_key + tonumber(os.getenv("SOAK_W_UPLOAD") or "8")

local boundary = "soak-7e1f0c2b"
-- A 1x1 PNG header and 1 KiB of payload: sniffed as image/png, like the API tests' png().
local png = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0" .. string.rep("s", 1024)
local upload_body = "--" .. boundary .. "\r\n"
    .. "Content-Disposition: form-data; name=\"file\"; filename=\"soak.png\"\r\n"
    .. "Content-Type: image/png\r\n\r\n" .. png .. "\r\n--" .. boundary .. "--\r\n"

local threads = {}
function setup(thread)
    thread:set("id", #threads + 1)
    threads[#threads + 1] = thread
end

counts = {}
local sent = 0

function init(args)
    math.randomseed(os.time() + id * 7919)
end

function delay()
    return delay_ms
end

local function bearer()
    return "Bearer " .. tokens[math.random(#tokens)]
end

function request()
    local r = math.random() * 100
    local kind, method, path, headers, body = nil, "GET", "/api/photos?limit=20", {}, nil
    if r < w_list_jwt then
        kind = "list_jwt"; headers["Authorization"] = bearer()
    elseif r < w_list_key then
        kind = "list_key"; headers["X-API-KEY"] = key
    elseif r < w_upload then
        kind = "upload"; method = "POST"; path = "/api/uploads"
        headers["Authorization"] = bearer()
        headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
        body = upload_body
    elseif math.random(2) == 1 then
        kind = "bad_key"; headers["X-API-KEY"] = "ck_wrong" .. string.rep("x", 40)
    else
        local t = tokens[1]
        kind = "bad_token"; headers["Authorization"] = "Bearer " .. t:sub(1, -6) .. "AAAAA"
    end
    sent = sent + 1
    headers["X-Request-Id"] = kind .. "." .. id .. "." .. sent
    return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
    -- Paired by the echoed id, not by order: wrk does not call response() in step with the
    -- request() that produced it once requests are delayed.
    local echoed = headers["x-request-id"] or headers["X-Request-Id"] or ""
    local kind = string.match(echoed, "^([%a_]+)%.") or "unpaired"
    local k = kind .. " " .. status
    counts[k] = (counts[k] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for k, n in pairs(t:get("counts")) do total[k] = (total[k] or 0) + n end
    end
    for k, n in pairs(total) do
        io.write(string.format("soak-result count %s %d\n", k, n))
    end
    io.write(string.format("soak-result requests %d\n", summary.requests))
    io.write(string.format("soak-result seconds %.1f\n", summary.duration / 1e6))
    local e = summary.errors
    io.write(string.format("soak-result socket_errors connect=%d read=%d write=%d timeout=%d\n",
        e.connect, e.read, e.write, e.timeout))
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("soak-result latency_ms p%s %.2f\n", p, latency:percentile(p) / 1000))
    end
    io.write(string.format("soak-result latency_ms max %.2f\n", latency.max / 1000))
end

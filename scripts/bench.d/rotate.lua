-- A different user's JWT per request, drawn at random from $BENCH_TOKENS (one token a line), so a
-- per-token cache sees 1,000 principals as production would rather than one hot entry.
dofile(os.getenv("BENCH_D") .. "/report.lua")

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end
assert(#tokens > 0, "no tokens in BENCH_TOKENS")

function init(args)
  math.randomseed(os.time())
end

function request()
  return wrk.format("GET", nil, { Authorization = tokens[math.random(#tokens)] })
end

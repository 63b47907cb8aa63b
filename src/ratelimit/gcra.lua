-- One GCRA bucket, decided on the server's clock so that every instance sees the same time.
-- KEYS[1]: the bucket. ARGV: interval (microseconds per cell, fractional above a million cells a
-- second), burst (cells), cost (cells),
-- write ("1": spend the cells when they conform; "0": only look).
-- Returns {allowed (1 or 0), whole cells left after the spend, microseconds until it conforms}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, 0, allow_at - now}
end
if ARGV[4] == '1' then
  -- Written with every digit a double holds (a Lua number converts with only 14; a double
  -- near today's time in microseconds resolves 0.25 µs) and forgotten once the bucket is full
  -- again, when it is indistinguishable from a new one (at least 1 ms: PX 0 is refused).
  local ttl = math.max(1, math.ceil((new_tat - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
end
return {1, math.floor((now - allow_at) / interval), 0}

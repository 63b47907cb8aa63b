-- One GCRA bucket, decided on the server's clock so that every instance sees the same time.
-- KEYS[1]: the bucket. ARGV: interval (microseconds per cell), burst (cells), cost (cells),
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
  -- Stored as an integer (a Lua number would be printed with 14 digits) and forgotten once
  -- the bucket is full again, when it is indistinguishable from a new one.
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
end
return {1, math.floor((now - allow_at) / interval), 0}

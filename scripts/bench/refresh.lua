-- POST /refresh where every request spends its own refresh token: wrk -t1 ... -s refresh.lua URL -- TOKEN_FILE
-- Refresh tokens are single-use (a reused one revokes its family), so the pool starts with tokens from
-- prior logins, one per line, and each answer's new refresh token goes back into it. With -t1 all
-- connections share this pool; it needs more tokens than connections so a request never waits for one.
local pool = {}

function init(args)
  for line in io.lines(args[1]) do pool[#pool + 1] = line end
end

function request()
  local token = table.remove(pool)
  -- An empty pool means answers came back without a token: send none, so wrk counts the 401s.
  local headers = token and { Authorization = "Bearer " .. token } or {}
  return wrk.format("POST", "/refresh", headers)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then pool[#pool + 1] = token end
end

-- SigV4 for the wrk scripts, so the bench can load a kinesd that checks
-- signatures. wrk's LuaJIT has no hashing, and every body is built once in
-- init(), so the few digests per body are asked of the openssl command: a
-- second of set-up, nothing during the run.
--
-- Credentials come from the environment: KINESD_BENCH_ACCESS_KEY and
-- KINESD_BENCH_SECRET_KEY (and KINESD_BENCH_REGION, default us-east-1).
-- Without them, sign() returns nil and the scripts send the well-formed
-- unsigned header every SDK-shaped request carries.

local sigv4 = {}

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function tmpname()
  local name = os.tmpname()
  return name
end

-- Hex SHA-256 of `data`, or HMAC-SHA256 with a key given in hex.
local function digest(data, hex_key)
  local path = tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  local cmd = "openssl dgst -sha256 -r"
  if hex_key then cmd = cmd .. " -mac HMAC -macopt hexkey:" .. hex_key end
  local p = assert(io.popen(cmd .. " " .. shell_quote(path)))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local hex = out:match("^(%x+)")
  assert(hex and #hex == 64, "openssl dgst failed: " .. tostring(out))
  return hex
end

local function to_hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function sigv4.credentials()
  local key, secret = os.getenv("KINESD_BENCH_ACCESS_KEY"), os.getenv("KINESD_BENCH_SECRET_KEY")
  if not key or key == "" or not secret or secret == "" then return nil end
  return { key = key, secret = secret, region = os.getenv("KINESD_BENCH_REGION") or "us-east-1" }
end

-- The Authorization value for a POST / whose headers are `headers` (name ->
-- value; every one is signed) and whose body is `body`.
function sigv4.sign(creds, service, date, headers, body)
  local names = {}
  for name in pairs(headers) do names[#names + 1] = name:lower() end
  table.sort(names)
  local by_lower = {}
  for name, value in pairs(headers) do by_lower[name:lower()] = value end
  local canonical_headers = {}
  for _, name in ipairs(names) do
    canonical_headers[#canonical_headers + 1] = name .. ":" .. by_lower[name] .. "\n"
  end
  local signed = table.concat(names, ";")
  local canonical = table.concat({ "POST", "/", "", table.concat(canonical_headers), signed, digest(body) }, "\n")
  local day = date:sub(1, 8)
  local scope = day .. "/" .. creds.region .. "/" .. service .. "/aws4_request"
  local to_sign = table.concat({ "AWS4-HMAC-SHA256", date, scope, digest(canonical) }, "\n")
  local k = digest(day, to_hex("AWS4" .. creds.secret))
  k = digest(creds.region, k)
  k = digest(service, k)
  k = digest("aws4_request", k)
  return "AWS4-HMAC-SHA256 Credential=" .. creds.key .. "/" .. scope .. ", SignedHeaders=" .. signed ..
         ", Signature=" .. digest(to_sign, k)
end

return sigv4

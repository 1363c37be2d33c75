-- Shared helpers for the wrk scripts: random payloads, per-thread counters
-- and the machine-readable summary line.
--
-- Every request body is built once in init(), so the Lua side only hands out
-- pre-formatted requests during the run and never becomes the bottleneck.

local common = {}
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local sigv4 = dofile(dir .. "sigv4.lua")

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- byte -> base64 character. 256 is a multiple of 64, so random bytes map to
-- uniformly random characters and the decoded data stays incompressible.
local byte_to_char = {}
for b = 0, 255 do
  local i = b % 64 + 1
  byte_to_char[string.char(b)] = alphabet:sub(i, i)
end

-- Characters allowed right before the padding: the bits they carry past the
-- end of the data must be zero, or strict decoders reject the string.
local last_before_two_pads = "AQgw"
local last_before_one_pad = "AEIMQUYcgkosw048"

local function urandom(n)
  local f = assert(io.open("/dev/urandom", "rb"))
  local raw = f:read(n)
  f:close()
  return raw
end

function common.seed()
  local raw = urandom(4)
  local seed = 0
  for i = 1, 4 do seed = seed * 256 + raw:byte(i) end
  math.randomseed(seed)
end

-- A source of base64 strings that each decode to exactly `size` random bytes.
-- Records are slices of one random pool taken at random offsets: cheap to
-- make, and no record compresses, so storage engines get no free ride.
function common.payload_source(size)
  local groups = math.floor(size / 3)
  local rest = size % 3
  -- Full groups, then the leading characters of a final partial group; the
  -- character that completes it and the padding are added per record.
  local body_chars = groups * 4 + rest
  local pool_len = math.max(1048576, body_chars * 4)
  local pool = urandom(pool_len):gsub(".", byte_to_char)
  return function()
    local off = math.random(1, pool_len - body_chars + 1)
    local s = pool:sub(off, off + body_chars - 1)
    if rest == 1 then
      local i = math.random(1, #last_before_two_pads)
      return s .. last_before_two_pads:sub(i, i) .. "=="
    elseif rest == 2 then
      local i = math.random(1, #last_before_one_pad)
      return s .. last_before_one_pad:sub(i, i) .. "="
    end
    return s
  end
end

-- The same for raw bytes (CBOR bodies carry Data as a byte string).
function common.raw_payload_source(size)
  local pool_len = math.max(1048576, size * 4)
  local pool = urandom(pool_len)
  return function()
    local off = math.random(1, pool_len - size + 1)
    return pool:sub(off, off + size - 1)
  end
end

-- CBOR item heads, shortest form, and the strings built on them.
function common.cbor_head(major, n)
  local m = major * 32
  if n < 24 then return string.char(m + n) end
  if n < 256 then return string.char(m + 24, n) end
  if n < 65536 then return string.char(m + 25, math.floor(n / 256), n % 256) end
  return string.char(m + 26, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                     math.floor(n / 256) % 256, n % 256)
end
function common.cbor_text(s) return common.cbor_head(3, #s) .. s end
function common.cbor_bytes(s) return common.cbor_head(2, #s) .. s end

-- The unsigned integer whose head starts at byte i of s, or nil.
function common.cbor_uint_at(s, i)
  local b = s:byte(i)
  if not b or b >= 32 then return nil end
  if b < 24 then return b end
  local len = ({ [24] = 1, [25] = 2, [26] = 4, [27] = 8 })[b]
  if not len or i + len > #s then return nil end
  local n = 0
  for k = 1, len do n = n * 256 + s:byte(i + k) end
  return n
end

local content_types = { json = "application/x-amz-json-1.1", cbor = "application/x-amz-cbor-1.1" }

function common.partition_key()
  return string.format("pk-%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end

-- A well-formed but unsigned SigV4 header, as every SDK sends one: kinesalite
-- refuses requests without it, and no server under test checks the signature.
local function auth_headers()
  local date = os.date("!%Y%m%dT%H%M%SZ")
  return date, "AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/" .. date:sub(1, 8) ..
    "/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, " ..
    "Signature=" .. string.rep("0", 64)
end

-- format: "json" (default) or "cbor".
function common.request(action, body, format)
  local headers = {
    ["Content-Type"] = assert(content_types[format or "json"], "format must be json or cbor"),
    ["X-Amz-Target"] = "Kinesis_20131202." .. action,
  }
  local creds = sigv4.credentials()
  if creds then
    -- The Host wrk sends is part of what is signed.
    headers["Host"] = wrk.headers["Host"]
    headers["X-Amz-Date"] = os.date("!%Y%m%dT%H%M%SZ")
    headers["Authorization"] = sigv4.sign(creds, "kinesis", headers["X-Amz-Date"], headers, body)
  else
    headers["X-Amz-Date"], headers["Authorization"] = auth_headers()
  end
  return wrk.format("POST", "/", headers, body)
end

-- wrk runs one Lua state per thread; done() runs in the main state and reads
-- the per-thread counters through these handles.
common.threads = {}

function common.register_thread(thread)
  table.insert(common.threads, thread)
  thread:set("thread_no", #common.threads)
end

function common.sum(name)
  local total = 0
  for _, t in ipairs(common.threads) do total = total + (t:get(name) or 0) end
  return total
end

function common.first(name)
  local t = common.threads[1]
  return t and t:get(name) or 0
end

local function ms(us) return us / 1000.0 end

-- One line, `RESULT key=value ...`, that run.sh parses. Latencies are wrk's
-- histogram (with its coordinated-omission correction), in milliseconds.
function common.print_result(kind, fields, summary, latency)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local parts = {
    "RESULT kind=" .. kind,
    string.format("duration_s=%.3f", secs),
    string.format("requests=%d", summary.requests),
    string.format("requests_per_s=%.1f", summary.requests / secs),
  }
  for _, kv in ipairs(fields) do
    table.insert(parts, string.format("%s=%s", kv[1], kv[2]))
  end
  table.insert(parts, string.format("p50_ms=%.3f", ms(latency:percentile(50))))
  table.insert(parts, string.format("p90_ms=%.3f", ms(latency:percentile(90))))
  table.insert(parts, string.format("p99_ms=%.3f", ms(latency:percentile(99))))
  table.insert(parts, string.format("max_ms=%.3f", ms(latency.max)))
  table.insert(parts, string.format("socket_errors=%d",
    e.connect + e.read + e.write + e.timeout))
  io.write(table.concat(parts, " "), "\n")
end

return common

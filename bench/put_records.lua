-- wrk script: PutRecords with N records of S random bytes each and random
-- partition keys, so the records spread over every shard of the stream.
--
--   wrk -t2 -c4 -d10s --latency -s put_records.lua http://127.0.0.1:PORT/ \
--       -- STREAM [RECORDS_PER_REQUEST=500] [RECORD_SIZE=100] [BODIES=0] [FORMAT=json]
--
-- FORMAT cbor sends CBOR 1.1 bodies as the Java SDKs write them (maps and
-- arrays of indefinite length, Data as a byte string). BODIES 0 picks the
-- number of distinct pre-built bodies itself.
--
-- records/s counts only records the server accepted: 200 responses times N,
-- minus the per-record failures reported in FailedRecordCount.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "wrk_common.lua")

local requests = {}
local cursor = 0
local per_request = 500
local record_size = 100
local format = "json"

-- Per-thread state; done() runs in wrk's main Lua state, where init() never
-- ran, and reads these through thread:get().
accepted_records = 0
non200 = 0
failed_records = 0
unparsed = 0
records_per_request = 0
record_bytes = 0

function setup(thread)
  common.register_thread(thread)
end

local function build_body(stream, next_payload)
  local parts = { '{"StreamName":"', stream, '","Records":[' }
  for i = 1, per_request do
    if i > 1 then parts[#parts + 1] = "," end
    parts[#parts + 1] = '{"Data":"'
    parts[#parts + 1] = next_payload()
    parts[#parts + 1] = '","PartitionKey":"'
    parts[#parts + 1] = common.partition_key()
    parts[#parts + 1] = '"}'
  end
  parts[#parts + 1] = "]}"
  return table.concat(parts)
end

local function build_cbor_body(stream, next_payload)
  local text, bytes = common.cbor_text, common.cbor_bytes
  local parts = { "\191", text("StreamName"), text(stream), text("Records"), "\159" }
  for i = 1, per_request do
    parts[#parts + 1] = "\191" .. text("Data") .. bytes(next_payload()) ..
                        text("PartitionKey") .. text(common.partition_key()) .. "\255"
  end
  parts[#parts + 1] = "\255\255"
  return table.concat(parts)
end

function init(args)
  local stream = assert(args[1], "usage: -- STREAM [RECORDS_PER_REQUEST] [RECORD_SIZE] [BODIES] [FORMAT]")
  per_request = tonumber(args[2] or 500)
  record_size = tonumber(args[3] or 100)
  format = args[5] or "json"
  records_per_request = per_request
  record_bytes = record_size
  common.seed()
  local build = build_body
  local next_payload
  if format == "cbor" then
    build = build_cbor_body
    next_payload = common.raw_payload_source(record_size)
  else
    next_payload = common.payload_source(record_size)
  end
  local first = build(stream, next_payload)
  -- Enough distinct bodies for key variety, bounded to ~32 MiB per thread.
  local count = tonumber(args[4] or 0)
  if count <= 0 then
    count = math.max(2, math.min(64, math.floor(32 * 1048576 / #first)))
  end
  requests[1] = common.request("PutRecords", first, format)
  for i = 2, count do
    requests[i] = common.request("PutRecords", build(stream, next_payload), format)
  end
end

function request()
  cursor = cursor % #requests + 1
  return requests[cursor]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    return
  end
  if format == "cbor" then
    -- The count's head follows its key: "FailedRecordCount" is a 17-byte text (head 0x71).
    local key = "\113FailedRecordCount"
    local at = body:find(key, 1, true)
    local n = at and common.cbor_uint_at(body, at + #key)
    if n then
      failed_records = failed_records + n
      accepted_records = accepted_records + per_request - n
    else
      unparsed = unparsed + 1
    end
    return
  end
  -- The common case is a plain substring test; only a failing batch is parsed.
  if body:find('"FailedRecordCount":0', 1, true) then
    accepted_records = accepted_records + per_request
    return
  end
  local n = body:match('"FailedRecordCount"%s*:%s*(%d+)')
  if n then
    failed_records = failed_records + tonumber(n)
    accepted_records = accepted_records + per_request - tonumber(n)
  else
    unparsed = unparsed + 1
  end
end

function done(summary, latency, requests_stats)
  local secs = summary.duration / 1e6
  local records = common.sum("accepted_records")
  local size = common.first("record_bytes")
  common.print_result("put_records", {
    { "records_per_request", common.first("records_per_request") },
    { "record_size", size },
    { "records", records },
    { "records_per_s", string.format("%.1f", records / secs) },
    { "mb_per_s", string.format("%.3f", records * size / secs / 1e6) },
    { "non200", common.sum("non200") },
    { "failed_records", common.sum("failed_records") },
    { "unparsed", common.sum("unparsed") },
  }, summary, latency)
end

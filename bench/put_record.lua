-- wrk script: single-record PutRecord calls with random partition keys.
--
--   wrk -t1 -c1 -d10s --latency -s put_record.lua http://127.0.0.1:PORT/ \
--       -- STREAM [RECORD_SIZE=100] [BODIES=1024]
--
-- records/s counts 200 responses that carry a SequenceNumber.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "wrk_common.lua")

local requests = {}
local cursor = 0
local record_size = 100

-- Per-thread state, read from done() in wrk's main Lua state.
ok_responses = 0
non200 = 0
unparsed = 0
record_bytes = 0

function setup(thread)
  common.register_thread(thread)
end

function init(args)
  local stream = assert(args[1], "usage: -- STREAM [RECORD_SIZE] [BODIES]")
  record_size = tonumber(args[2] or 100)
  record_bytes = record_size
  local count = tonumber(args[3] or 1024)
  common.seed()
  local next_payload = common.payload_source(record_size)
  for i = 1, count do
    requests[i] = common.request("PutRecord", table.concat({
      '{"StreamName":"', stream, '","Data":"', next_payload(),
      '","PartitionKey":"', common.partition_key(), '"}' }))
  end
end

function request()
  cursor = cursor % #requests + 1
  return requests[cursor]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif body:find('"SequenceNumber"', 1, true) then
    ok_responses = ok_responses + 1
  else
    unparsed = unparsed + 1
  end
end

function done(summary, latency, requests_stats)
  local secs = summary.duration / 1e6
  local records = common.sum("ok_responses")
  local size = common.first("record_bytes")
  common.print_result("put_record", {
    { "record_size", size },
    { "records", records },
    { "records_per_s", string.format("%.1f", records / secs) },
    { "mb_per_s", string.format("%.3f", records * size / secs / 1e6) },
    { "non200", common.sum("non200") },
    { "failed_records", 0 },
    { "unparsed", common.sum("unparsed") },
  }, summary, latency)
end

// Reads [{"partitionKey", "data"}...] (data as text) on stdin and prints the
// KPL aggregated records aws-kinesis-agg builds from them, one JSON object a
// line: {"partitionKey", "explicitHashKey", "data" (base64)}.
'use strict';
const agg = require('aws-kinesis-agg');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const records = JSON.parse(input).map((r) => ({ partitionKey: r.partitionKey, data: Buffer.from(r.data) }));
  const out = [];
  agg.aggregate(records, (encoded, callback) => {
    out.push({
      partitionKey: encoded.partitionKey,
      explicitHashKey: encoded.explicitHashKey,
      data: Buffer.from(encoded.data).toString('base64'),
    });
    callback();
  }, () => {
    for (const o of out) process.stdout.write(JSON.stringify(o) + '\n');
  }, (err) => {
    process.stderr.write(String(err) + '\n');
    process.exit(1);
  });
});

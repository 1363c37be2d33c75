#!/usr/bin/env python3
"""Copies every Kinesis data stream from one kinesd to another, through the
Kinesis API: typically from a kinesd on its RocksDB data directory into one
running on a NATS JetStream cluster.

  scripts/migrate_rocksdb_to_nats.py --source http://127.0.0.1:4567 --target http://127.0.0.1:4568

For each stream (or those named with --stream): create it on the target
with the source's open shard count (or on-demand mode), retention period,
encryption and tags; then read every shard of the source from its oldest
record, parents before children, and put the records into the target in
the order read. Records of one partition key keep their order: one
PutRecords call never holds two records of the same key, so retrying the
entries a call refused cannot overtake a later record of that key.

What changes: sequence numbers (the target numbers records afresh),
arrival timestamps (the time of the copy; records then live a full
retention period on the target) and shard ids after a reshard on the source.
What is not copied: enhanced fan-out consumers, Firehose delivery streams,
event source mappings, resource policies and checkpoints of applications
(KCL leases name sequence numbers of the source). Stop the producers first:
records put to the source during the copy may be missed.

Needs boto3. Credentials: any (kinesd checks them only when started with a
credentials file; then use the AWS_* variables of a key it knows).
"""
import argparse
import sys
import time

import boto3
import botocore.config

MAX_RECORDS = 500
MAX_BYTES = 5 * 1024 * 1024


def client(endpoint, region):
    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 10},
                                    connect_timeout=10, read_timeout=120)
    return boto3.client("kinesis", endpoint_url=endpoint, region_name=region, config=config)


def list_streams(kinesis):
    names, token = [], None
    while True:
        page = kinesis.list_streams(NextToken=token) if token else kinesis.list_streams(Limit=1000)
        names += page["StreamNames"]
        token = page.get("NextToken")
        if not page.get("HasMoreStreams") or not token:
            return names


def list_shards(kinesis, stream):
    shards, token = [], None
    while True:
        page = kinesis.list_shards(NextToken=token) if token else kinesis.list_shards(StreamName=stream)
        shards += page["Shards"]
        token = page.get("NextToken")
        if not token:
            return shards


def parents_first(shards):
    """Shards ordered so that every parent (and adjacent parent) comes before its children."""
    by_id = {s["ShardId"]: s for s in shards}
    done, order = set(), []

    def visit(shard):
        if shard["ShardId"] in done:
            return
        done.add(shard["ShardId"])
        for key in ("ParentShardId", "AdjacentParentShardId"):
            parent = by_id.get(shard.get(key))
            if parent:
                visit(parent)
        order.append(shard)
    for shard in shards:
        visit(shard)
    return order


def wait_active(kinesis, stream, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        time.sleep(0.2)
    raise RuntimeError("%s not ACTIVE on the target after %d s" % (stream, timeout))


def create_like(source, target, stream):
    summary = source.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    mode = (summary.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        target.create_stream(StreamName=stream, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    else:
        target.create_stream(StreamName=stream, ShardCount=summary["OpenShardCount"])
    wait_active(target, stream)
    hours = summary.get("RetentionPeriodHours", 24)
    if hours > 24:
        target.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=hours)
        wait_active(target, stream)
    if summary.get("EncryptionType") == "KMS":
        target.start_stream_encryption(StreamName=stream, EncryptionType="KMS", KeyId=summary["KeyId"])
        wait_active(target, stream)
    tags = source.list_tags_for_stream(StreamName=stream).get("Tags", [])
    if tags:
        target.add_tags_to_stream(StreamName=stream, Tags={t["Key"]: t.get("Value", "") for t in tags})


def read_shard(source, stream, shard_id):
    """Yields the shard's records from its oldest, until it is read to the
    end (closed) or caught up (open)."""
    iterator = source.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    while iterator:
        page = source.get_records(ShardIterator=iterator, Limit=10000)
        yield from page["Records"]
        if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
            return
        iterator = page.get("NextShardIterator")


def batches(records):
    """PutRecords entries in read order, no partition key twice in one batch."""
    batch, keys, size = [], set(), 0
    for record in records:
        key, data = record["PartitionKey"], record["Data"]
        entry_size = len(key.encode()) + len(data)
        if batch and (len(batch) == MAX_RECORDS or size + entry_size > MAX_BYTES or key in keys):
            yield batch
            batch, keys, size = [], set(), 0
        batch.append({"PartitionKey": key, "Data": data})
        keys.add(key)
        size += entry_size
    if batch:
        yield batch


def put_in_order(target, stream, batch):
    pending, delay = batch, 0.05
    for _ in range(100):
        answer = target.put_records(StreamName=stream, Records=pending)
        if not answer.get("FailedRecordCount"):
            return
        pending = [entry for entry, result in zip(pending, answer["Records"]) if "ErrorCode" in result]
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise RuntimeError("%d records of %s still refused after 100 attempts" % (len(pending), stream))


def copy_stream(source, target, stream, create):
    if create:
        create_like(source, target, stream)
    copied = 0
    for shard in parents_first(list_shards(source, stream)):
        in_shard = 0
        for batch in batches(read_shard(source, stream, shard["ShardId"])):
            put_in_order(target, stream, batch)
            in_shard += len(batch)
        copied += in_shard
        print("  %s %s: %d records" % (stream, shard["ShardId"], in_shard), file=sys.stderr)
    return copied


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="endpoint of the kinesd to copy from")
    p.add_argument("--target", required=True, help="endpoint of the kinesd to copy into")
    p.add_argument("--stream", action="append", help="copy only this stream (repeatable)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--existing", action="store_true",
                   help="put into streams that already exist on the target instead of refusing")
    args = p.parse_args()

    source, target = client(args.source, args.region), client(args.target, args.region)
    streams = args.stream or list_streams(source)
    present = set(list_streams(target))
    clash = [s for s in streams if s in present]
    if clash and not args.existing:
        p.error("already on the target: %s (pass --existing to put into them)" % ", ".join(clash))
    total = 0
    for stream in streams:
        copied = copy_stream(source, target, stream, create=stream not in present)
        total += copied
        print("%s: %d records copied" % (stream, copied))
    print("%d streams, %d records" % (len(streams), total))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Control-plane helpers for run.sh: free ports, port waits, stream setup."""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kinesis_client import KinesisClient, KinesisError  # noqa: E402


def free_port(args):
    ports, socks = [], []
    # Hold every socket until all are bound so one call never returns duplicates.
    for _ in range(args.count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(map(str, ports)))
    return 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_port(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.pid and not pid_alive(args.pid):
            print(f"process {args.pid} exited before listening on port {args.port}", file=sys.stderr)
            return 1
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=1):
                return 0
        except OSError:
            time.sleep(0.1)
    print(f"port {args.port} not open after {args.timeout:.0f} s", file=sys.stderr)
    return 1


def stream_status(client, stream):
    # DescribeStream with Limit 1 works on every server, whatever the shard count.
    desc = client.call("DescribeStream", {"StreamName": stream, "Limit": 1})
    return desc["StreamDescription"]["StreamStatus"]


def create_stream(args):
    client = KinesisClient("127.0.0.1", args.port)
    deadline = time.monotonic() + args.timeout
    try:
        client.call("CreateStream", {"StreamName": args.stream, "ShardCount": args.shards})
    except KinesisError as e:
        if e.error_type != "ResourceInUseException":
            print(f"CreateStream failed: {e}", file=sys.stderr)
            return 1
    status = "?"
    while time.monotonic() < deadline:
        try:
            status = stream_status(client, args.stream)
        except KinesisError as e:
            # Some servers answer ResourceNotFound for a moment after CreateStream.
            if e.error_type != "ResourceNotFoundException":
                print(f"DescribeStream failed: {e}", file=sys.stderr)
                return 1
            status = "NOT_FOUND"
        if status == "ACTIVE":
            return 0
        time.sleep(0.1)
    print(f"stream {args.stream} still {status} after {args.timeout:.0f} s", file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    fp = sub.add_parser("free-port")
    fp.add_argument("--count", type=int, default=1)
    wp = sub.add_parser("wait-port")
    wp.add_argument("--port", type=int, required=True)
    wp.add_argument("--pid", type=int, default=0)
    wp.add_argument("--timeout", type=float, default=60.0)
    cs = sub.add_parser("create-stream")
    cs.add_argument("--port", type=int, required=True)
    cs.add_argument("--stream", required=True)
    cs.add_argument("--shards", type=int, required=True)
    cs.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    try:
        return {"free-port": free_port, "wait-port": wait_port, "create-stream": create_stream}[args.cmd](args)
    except OSError as e:
        print(f"{args.cmd} failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

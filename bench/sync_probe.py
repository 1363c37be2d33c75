#!/usr/bin/env python3
"""The disk's sync time: appends of 200 bytes, each followed by fdatasync,
to a new file in DIR (on the same filesystem as the server's data), as a
write-ahead log does. Prints "p50_ms p99_ms" of write + fdatasync."""
import os
import sys
import time

COUNT = 2000


def main():
    directory = sys.argv[1]
    path = os.path.join(directory, "sync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    took = []
    try:
        record = b"x" * 200
        for _ in range(COUNT):
            start = time.perf_counter()
            os.write(fd, record)
            os.fdatasync(fd)
            took.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()
    print("%.3f %.3f" % (took[len(took) // 2] * 1e3, took[len(took) * 99 // 100] * 1e3))


if __name__ == "__main__":
    main()

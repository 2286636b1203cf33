#!/usr/bin/env python3
"""journald's ingest ceiling for one client (bench/sinks-syslog-journald.mjs), in Python.

    python3 bench/journald-ceiling.py N CONTAINER_ID_FULL PREFIX IMAGE SOCKET spin|block

Sends N native-protocol datagrams (the fields Docker's journald driver sends; MESSAGE is PREFIX +
the line number) over one AF_UNIX SOCK_DGRAM socket connected to SOCKET. spin: non-blocking,
send retried at once on EAGAIN/ENOBUFS; block: a blocking socket. Prints
{"cpuSeconds": ..., "eagain": ...} on stdout at the end.
"""
import errno
import json
import socket
import sys
import time


def main() -> None:
    n, idf, prefix, image, path, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(path)
    if mode == "spin":
        s.setblocking(False)
    id12 = idf[:12]
    tail = (
        f"CONTAINER_ID={id12}\nCONTAINER_ID_FULL={idf}\nCONTAINER_NAME=bench-ceiling\nCONTAINER_TAG={id12}\n"
        f"IMAGE_NAME={image}\nSYSLOG_IDENTIFIER={id12}\n"
    ).encode()
    head = b"PRIORITY=6\nMESSAGE=" + prefix.encode()
    send = s.send
    eagain = 0
    for i in range(1, n + 1):
        m = head + str(i).encode() + b"\n" + tail
        while True:
            try:
                send(m)
                break
            except (BlockingIOError, InterruptedError):
                eagain += 1
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                eagain += 1
    print(json.dumps({"cpuSeconds": round(time.process_time(), 3), "eagain": eagain}))


main()

#!/usr/bin/env python3
"""Hostile /snapshot.json readers for bench/serve.sh (loopback only).

  hostile_readers.py PORT --stuck N --slow M --rate BYTES_PER_S --seconds S

N clients send the request and never read; M clients read at RATE bytes/s each
(below the server's minimum rate, so it drops them) and reconnect when dropped,
so the pressure stays the same for S seconds. All receive buffers are 4 KiB, so
the kernel cannot absorb answers for them. Prints one line of counts at the end.
"""
import argparse
import selectors
import socket
import time

REQ = b"GET /snapshot.json HTTP/1.1\r\nHost: bench\r\n\r\n"


def connect(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(REQ)
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--stuck", type=int, default=8)
    ap.add_argument("--slow", type=int, default=80)
    ap.add_argument("--rate", type=int, default=16384)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    end = time.monotonic() + a.seconds
    stuck, slow = [], []
    reconnects = dropped_stuck = 0
    for _ in range(a.stuck):
        stuck.append(connect(a.port))
    for _ in range(a.slow):
        slow.append(connect(a.port))
    tick = 0.1
    per_tick = max(1, int(a.rate * tick))
    while time.monotonic() < end:
        t0 = time.monotonic()
        for i, s in enumerate(slow):
            try:
                data = s.recv(per_tick)
                if data == b"":
                    raise ConnectionError
            except BlockingIOError:
                pass
            except (ConnectionError, OSError):
                s.close()
                reconnects += 1
                try:
                    slow[i] = connect(a.port)
                except OSError:
                    pass
        # A stuck client that the server dropped connects again and is stuck anew.
        for i, s in enumerate(stuck):
            # Without reading (the server would see progress): a reset shows as
            # a pending socket error, a close as a TCP state other than
            # ESTABLISHED (1) in tcp_info's first byte.
            state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0 or state != 1:
                s.close()
                dropped_stuck += 1
                try:
                    stuck[i] = connect(a.port)
                except OSError:
                    pass
        time.sleep(max(0.0, tick - (time.monotonic() - t0)))
    print(f"slow readers reconnected {reconnects} times, never-reading ones {dropped_stuck} times")


if __name__ == "__main__":
    main()

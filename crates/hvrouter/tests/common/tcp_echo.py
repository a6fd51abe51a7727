"""A timed TCP echo stream for the namespace tests (common/traffic.rs runs it with
/usr/bin/python3; standard library only).

  tcp_echo.py server PORT
      Echoes every connection until stdin closes. Prints "ready" once listening.
  tcp_echo.py client HOST PORT
      One connection: sends SIZE bytes every INTERVAL seconds and notes the monotonic
      time of every echo received. Prints "ready" after the first echo. A stdin line
      "mark NAME" notes the time; end of stdin stops sending, waits up to 3 s for the echoes
      still on their way, then prints one line:
        sent N echoed N after_mark N longest_gap_ms G gap_at_ms T error E
      then "mark NAME AT_MS" per mark, and "gap AT_MS LEN_MS" per interval over 100 ms
      without an echo. after_mark counts the bytes echoed after the last mark. A gap
      is the time between two echoes, or between the last echo and the stop; times are
      from the first echo. error is "-" or the exception (a reset, a timeout).
"""

import socket
import sys
import threading
import time

SIZE = 1000
INTERVAL = 0.01


def server(port):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", port))
    lsock.listen(4)

    def echo(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                return

    def accept():
        while True:
            conn, _ = lsock.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A stream that stalls for this long is dead: recv and send fail with a timeout.
        self.sock.settimeout(10)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.first = threading.Event()
        self.sent = 0
        self.echoed = 0
        self.marks = []  # (name, monotonic time, bytes echoed then)
        self.error = None
        self.times = []  # (monotonic time, bytes) of every echo

    def fail(self, e):
        with self.lock:
            if self.error is None:
                self.error = repr(e)

    def send_loop(self):
        payload = bytes(range(256)) * (SIZE // 256) + bytes(SIZE % 256)
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                self.sock.sendall(payload)
                with self.lock:
                    self.sent += len(payload)
                next_at += INTERVAL
                time.sleep(max(0.0, next_at - time.monotonic()))
        except OSError as e:
            self.fail(e)

    def recv_loop(self):
        try:
            while True:
                data = self.sock.recv(65536)
                now = time.monotonic()
                if not data:
                    if not self.stop.is_set():
                        self.fail("closed by the peer")
                    return
                with self.lock:
                    self.echoed += len(data)
                    self.times.append((now, len(data)))
                self.first.set()
        except OSError as e:
            if not self.stop.is_set():
                self.fail(e)

    def run(self):
        sender = threading.Thread(target=self.send_loop, daemon=True)
        receiver = threading.Thread(target=self.recv_loop, daemon=True)
        sender.start()
        receiver.start()
        if not self.first.wait(5):
            print("error no echo within 5 s", flush=True)
            return
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if words and words[0] == "mark":
                name = words[1] if len(words) > 1 else "-"
                with self.lock:
                    self.marks.append((name, time.monotonic(), self.echoed))
        stopped = time.monotonic()
        self.stop.set()
        sender.join(11)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with self.lock:
                if self.echoed >= self.sent or self.error:
                    break
            time.sleep(0.01)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.report(stopped)

    def report(self, stopped):
        with self.lock:
            times = [t for t, _ in self.times if t <= stopped] + [stopped]
            t0 = times[0]
            gaps = [(a - t0, b - a) for a, b in zip(times, times[1:])]
            at, longest = max(gaps, key=lambda g: g[1], default=(0.0, 0.0))
            after = self.echoed - self.marks[-1][2] if self.marks else 0
            print(
                f"sent {self.sent} echoed {self.echoed} after_mark {after} "
                f"longest_gap_ms {longest * 1000:.0f} gap_at_ms {at * 1000:.0f} "
                f"error {(self.error or '-').replace(' ', '_')}",
                flush=True,
            )
            for name, t, _ in self.marks:
                print(f"mark {name} {(t - t0) * 1000:.0f}", flush=True)
            for at, length in gaps:
                if length > 0.1:
                    print(f"gap {at * 1000:.0f} {length * 1000:.0f}", flush=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "server":
        server(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        Client(sys.argv[2], int(sys.argv[3])).run()
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 proxy for S3 tests (python3 standard library only).

Listens on 127.0.0.1:PORT and forwards each request to an upstream S3 endpoint (e.g. the test RGW),
injecting faults per request:
  pass                 forward untouched
  fail   (--status)    answer 500 InternalError / 503 SlowDown (or any status) without forwarding
  reset                reset the connection (TCP RST) in the middle of the request or response body
  stall  (--stall S)   accept the request, then send nothing for S seconds (a hung server) and close
Which requests get the fault: --first N (requests 1..N), --every K (every Kth), else all of them.

The rule can be changed while running through a control file (--control FILE) holding one line such as
  mode=fail status=500 first=3
It is re-read before every request; a changed rule restarts the request count. --stats FILE receives
"requests=N faults=M" (since the last rule change) after every request, so tests can check that faults
were really injected. The chosen port is printed on stdout and written to --port-file; the PID goes to
--pid-file. Stop it with SIGTERM.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time
from urllib.parse import urlparse

CHUNK = 256 * 1024
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
           429: "Too Many Requests", 403: "Forbidden", 404: "Not Found", 400: "Bad Request"}
CODES = {500: "InternalError", 503: "SlowDown", 429: "SlowDown", 502: "BadGateway", 504: "GatewayTimeout"}


class Rule:
    def __init__(self, mode="pass", status=503, first=0, every=0, stall=30.0):
        if mode not in ("pass", "fail", "reset", "stall"):
            raise ValueError("unknown mode %r" % mode)
        self.mode, self.status, self.first, self.every, self.stall = mode, status, first, every, stall

    @classmethod
    def parse(cls, text):
        kw = {}
        for tok in text.split():
            name, _, value = tok.partition("=")
            if name == "mode":
                kw["mode"] = value
            elif name in ("status", "first", "every"):
                kw[name] = int(value)
            elif name == "stall":
                kw["stall"] = float(value)
            else:
                raise ValueError("unknown control field %r" % name)
        return cls(**kw)

    def applies(self, n):
        if self.mode == "pass":
            return False
        if self.first:
            return n <= self.first
        if self.every:
            return n % self.every == 0
        return True


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.control = args.control
        self.stats = args.stats
        self.text = None
        self.rule = Rule(args.mode, args.status, args.first, args.every, args.stall)
        self.requests = 0
        self.faults = 0

    def next(self):
        """Count one request; return (rule, inject?)."""
        with self.lock:
            if self.control:
                try:
                    with open(self.control) as f:
                        text = f.read().strip()
                except FileNotFoundError:
                    text = None
                if text is not None and text != self.text:
                    try:
                        self.rule = Rule.parse(text)
                    except ValueError as e:
                        print("faultproxy: bad control file: %s" % e, file=sys.stderr)
                    self.text = text
                    self.requests = self.faults = 0
            self.requests += 1
            inject = self.rule.applies(self.requests)
            if inject:
                self.faults += 1
            if self.stats:
                tmp = self.stats + ".tmp"
                with open(tmp, "w") as f:
                    f.write("requests=%d faults=%d\n" % (self.requests, self.faults))
                os.replace(tmp, self.stats)
            return self.rule, inject


def read_head(sock, buf):
    """Read up to the end of an HTTP head. Returns (head, rest) or (None, b"") at EOF."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(CHUNK)
        if not data:
            return None, b""
        buf += data
        if len(buf) > 1 << 20:
            raise ValueError("head too large")
    i = buf.index(b"\r\n\r\n") + 4
    return buf[:i], buf[i:]


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def relay_exact(src, dst, n, rest):
    """Copy n body bytes (starting with the already-read `rest`) from src to dst; return leftover bytes."""
    first = rest[:n]
    if first and dst:
        dst.sendall(first)
    left = n - len(first)
    while left > 0:
        data = src.recv(min(CHUNK, left))
        if not data:
            raise ConnectionError("eof in body")
        if dst:
            dst.sendall(data)
        left -= len(data)
    return rest[n:]


def read_exact(src, n, rest):
    out = bytearray(rest[:n])
    while len(out) < n:
        data = src.recv(min(CHUNK, n - len(out)))
        if not data:
            raise ConnectionError("eof in body")
        out += data
    return bytes(out), rest[n:]


def read_chunked(src, rest):
    """Read a chunked body; return (raw bytes as received, leftover)."""
    raw = bytearray()
    buf = rest
    while True:
        while b"\r\n" not in buf:
            data = src.recv(CHUNK)
            if not data:
                raise ConnectionError("eof in chunked body")
            buf += data
        i = buf.index(b"\r\n")
        size = int(buf[:i].split(b";")[0], 16)
        raw += buf[:i + 2]
        buf = buf[i + 2:]
        if size == 0:  # optional trailer lines, then an empty line
            while True:
                while b"\r\n" not in buf:
                    data = src.recv(CHUNK)
                    if not data:
                        raise ConnectionError("eof in trailers")
                    buf += data
                j = buf.index(b"\r\n")
                raw += buf[:j + 2]
                line, buf = buf[:j], buf[j + 2:]
                if not line:
                    return bytes(raw), buf
        chunk, buf = read_exact(src, size + 2, buf)
        raw += chunk


def rst(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def error_response(status, method):
    code = CODES.get(status, "InjectedFault")
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
            "<Message>fault injected by faultproxy</Message></Error>" % code).encode()
    if method == "HEAD":
        body = b""
    head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
            "x-amz-request-id: faultproxy\r\n\r\n" % (status, REASONS.get(status, "Error"), len(body)))
    return head.encode() + body


class Conn:
    def __init__(self, client, upstream_addr, state):
        self.client, self.addr, self.state = client, upstream_addr, state
        self.up = None
        self.up_buf = b""

    def upstream(self):
        if self.up is None:
            self.up = socket.create_connection(self.addr)
            self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.up_buf = b""
        return self.up

    def close_upstream(self):
        if self.up is not None:
            self.up.close()
            self.up = None

    def response(self, method):
        """Read one upstream response: (head, status, body-kind, length, headers)."""
        head, self.up_buf = read_head(self.up, self.up_buf)
        if head is None:
            raise ConnectionError("upstream closed")
        line, headers = parse_head(head)
        status = int(line.split()[1])
        return head, status, headers

    def body_kind(self, method, status, headers):
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return "none", 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return "chunked", 0
        if "content-length" in headers:
            return "length", int(headers["content-length"])
        return "close", 0

    def forward(self, head, method, length, rest):
        up = self.upstream()
        up.sendall(head)
        rest = relay_exact(self.client, up, length, rest)
        while True:
            rhead, status, rheaders = self.response(method)
            self.client.sendall(rhead)
            kind, n = self.body_kind(method, status, rheaders)
            if kind == "length":
                self.up_buf = relay_exact(self.up, self.client, n, self.up_buf)
            elif kind == "chunked":
                raw, self.up_buf = read_chunked(self.up, self.up_buf)
                self.client.sendall(raw)
            elif kind == "close":
                if self.up_buf:
                    self.client.sendall(self.up_buf)
                while True:
                    data = self.up.recv(CHUNK)
                    if not data:
                        break
                    self.client.sendall(data)
                self.close_upstream()
                return rest, False
            if status >= 200:
                break
        keep = rheaders.get("connection", "").lower() != "close"
        if not keep:
            self.close_upstream()
        return rest, keep

    def reset_midway(self, head, method, length, rest):
        if length > 0:  # reset while the client is still sending the body
            try:
                read_exact(self.client, length // 2, rest)
            except ConnectionError:
                pass
            rst(self.client)
            return
        up = self.upstream()
        up.sendall(head)
        rhead, status, rheaders = self.response(method)
        kind, n = self.body_kind(method, status, rheaders)
        body = b""
        if kind == "length":
            body, self.up_buf = read_exact(self.up, n, self.up_buf)
        elif kind == "chunked":
            body, self.up_buf = read_chunked(self.up, self.up_buf)
        if body:
            self.client.sendall(rhead + body[:len(body) // 2])
        else:  # no body to cut: cut the head instead
            self.client.sendall(rhead[:len(rhead) // 2])
        rst(self.client)

    def run(self):
        rest = b""
        try:
            while True:
                head, rest = read_head(self.client, rest)
                if head is None:
                    return
                line, headers = parse_head(head)
                method = line.split()[0].upper()
                length = int(headers.get("content-length", "0"))
                rule, inject = self.state.next()
                if not inject:
                    rest, keep = self.forward(head, method, length, rest)
                    if not keep:
                        return
                    continue
                if rule.mode == "fail":
                    rest = relay_exact(self.client, None, length, rest)
                    self.client.sendall(error_response(rule.status, method))
                    continue
                if rule.mode == "stall":
                    time.sleep(rule.stall)
                    rst(self.client)
                    return
                if rule.mode == "reset":
                    self.reset_midway(head, method, length, rest)
                    return
        except (OSError, ValueError, ConnectionError):
            pass
        finally:
            self.close_upstream()
            try:
                self.client.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="http://host:port of the real S3 endpoint")
    ap.add_argument("--port", type=int, default=0, help="listen port (0: any free port)")
    ap.add_argument("--mode", default="pass", choices=["pass", "fail", "reset", "stall"])
    ap.add_argument("--status", type=int, default=503)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--stall", type=float, default=30.0)
    ap.add_argument("--control", help="file holding the current rule (re-read per request)")
    ap.add_argument("--stats", help="file receiving request/fault counts")
    ap.add_argument("--port-file")
    ap.add_argument("--pid-file")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM) ...")
    ap.add_argument("--tls-key", help="... and this key: for tests of TLS verification")
    args = ap.parse_args()
    tls = None
    if args.tls_cert:
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    u = urlparse(args.upstream)
    if u.scheme != "http" or not u.hostname:
        ap.error("--upstream must be http://host:port")
    upstream_addr = (u.hostname, u.port or 80)
    state = State(args)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(128)
    port = srv.getsockname()[1]

    def cleanup(*_):
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)

    while True:
        client, _ = srv.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(client, tls, upstream_addr, state), daemon=True).start()


def serve(client, tls, upstream_addr, state):
    if tls:
        try:
            client = tls.wrap_socket(client, server_side=True)
        except (OSError, ValueError):  # the client refused our certificate: that is the test
            client.close()
            return
    Conn(client, upstream_addr, state).run()


if __name__ == "__main__":
    main()

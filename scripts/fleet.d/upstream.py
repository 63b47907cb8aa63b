"""The fleet's upstream: the API behind the gateway routes `orders` and `billing` (both point
here; the gateway, not the upstream, decides who gets through).

  upstream.py PORT_FILE   binds 127.0.0.1 on a free port, writes the port to PORT_FILE, serves

Any method, any path: the request body is read to its end (so that the gateway's streaming and
keep-alive are exercised as with a real API), then 200 with a small body naming what was asked.
Standard library only; threads, since the three instances keep a pool of connections each.
"""
import http.server
import os
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the gateway's pool expects

    def answer(self):
        self.drain()
        body = f"{self.command} {self.path} {self.headers.get('X-Cutover-Upstream', '-')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drain(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # the trailer section, up to its empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                self.rfile.read(size + 2)   # the chunk and its CRLF
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            got = self.rfile.read(min(n, 65536))
            if not got:
                return
            n -= len(got)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer

    def log_message(self, *args):
        # every request would be a line: the driver records the answers itself
        pass


def main(port_file):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, port_file)   # the script waits for the file: it appears whole or not at all
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])

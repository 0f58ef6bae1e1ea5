"""A loopback HTTP server that records every request (method, path, query, JSON body, and
which of the API's own headers it carries) and answers `{}`: what Huawei's SDK puts on the
wire, without a cloud behind it."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


# The headers the DRS and DNS APIs read (auth, project, date, body type); transport headers
# (host, user-agent, accept, connection, length) are the HTTP library's business.
API_HEADERS = {"authorization", "content-type", "x-project-id", "x-sdk-date",
               "x-security-token", "x-auth-token"}


class Capture:
    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                url = urlsplit(self.path)
                outer.requests.append({
                    "method": self.command,
                    "path": url.path,
                    "query": sorted(parse_qsl(url.query, keep_blank_values=True)),
                    "body": json.loads(raw) if raw else None,
                    "headers": sorted(k.lower() for k in self.headers.keys()
                                      if k.lower() in API_HEADERS),
                    # Everything a signature covers, exactly as sent (for signing vectors).
                    "wire": {
                        "query": url.query,
                        "headers": [[k, v] for k, v in self.headers.items()],
                        "body": raw.decode("utf-8"),
                    },
                })
                out = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = _record

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self):
        """The requests recorded since the last take."""
        out, self.requests = self.requests, []
        return out

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

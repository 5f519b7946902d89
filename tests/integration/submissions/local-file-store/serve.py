"""A placeholder server: this submission is about where training logs, not about serving."""

from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")


HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()

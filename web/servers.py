"""The two WSGI servers that serve the phone page and the API, with one interface
(effective_port, run(), close()) so App starts and stops either the same way:
- HttpServer: waitress, plain HTTP (the default);
- TlsServer: with web.tls_cert set (browsers allow microphone recording only over HTTPS);
  waitress has no TLS, so the same Flask app is served by cheroot (CherryPy's production
  WSGI server) with its built-in ssl adapter."""
from __future__ import annotations

import logging
import threading
from typing import Any

from web.config import WebConfig

logger = logging.getLogger(__name__)


def make_server(app: Any, web: WebConfig) -> "HttpServer | TlsServer":
    """Bind now, so a busy port fails at build time (OSError)."""
    if web.tls_cert:
        return TlsServer(app, web.host, web.port, web.threads, web.tls_cert, web.tls_key)
    return HttpServer(app, web.host, web.port, web.threads)


class HttpServer:
    def __init__(self, app: Any, host: str, port: int, threads: int):
        from waitress.server import create_server

        # poll(), not select(): a descriptor closed under select() raises EBADF
        self._server = create_server(app, host=host, port=port, threads=threads, ident="langso", asyncore_use_poll=True)
        self.effective_port = self._server.effective_port
        self._ended = threading.Event()

    def run(self) -> None:
        try:
            self._server.run()
        finally:
            self._ended.set()

    def close(self, timeout: float = 2) -> None:
        """Stop taking connections, let the running requests finish (up to `timeout`), then
        close every connection from inside waitress's own loop and wait for the loop to end.
        (waitress's own close() leaves open connections to the loop, and closing sockets from
        another thread races its poll().)"""
        from waitress import wasyncore

        server = self._server
        server.accepting = False  # readable() turns false: no new connections
        server.task_dispatcher.shutdown(timeout=timeout)
        connections = server._map  # the loop's own map: the listener, the trigger, each connection
        if self._ended.is_set():
            wasyncore.close_all(connections)
            return
        server.trigger.pull_trigger(lambda: wasyncore.close_all(connections))
        if not self._ended.wait(timeout + 3):
            logger.warning("web server loop did not end within %.0f s of close", timeout + 3)


class TlsServer:
    def __init__(self, app: Any, host: str, port: int, threads: int, cert: str, key: str):
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        from controller.config import ConfigError

        problems = []
        for field, path in (("web.tls_cert", cert), ("web.tls_key", key)):
            try:
                open(path, "rb").close()
            except OSError as err:
                problems.append(f"{field}: cannot read {path} ({err.strerror}); make it with `langso web cert`")
        if problems:  # a config error (exit 2, no restart), not a busy port
            raise ConfigError(problems, "web")
        self._server = wsgi.Server((host, port), app, numthreads=threads, server_name="langso")
        self._server.ssl_adapter = BuiltinSSLAdapter(cert, key)
        self._server.prepare()  # binds now, so a busy port fails at build time
        self.effective_port = self._server.bind_addr[1]
        logger.info("https ready port=%s cert=%s", self.effective_port, cert)

    def run(self) -> None:
        self._server.serve()

    def close(self) -> None:
        """cheroot's stop() closes its connections and joins its own threads."""
        self._server.stop()

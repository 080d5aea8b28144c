"""HTTPS for the phone page (browsers allow microphone recording only over HTTPS).
waitress has no TLS, so with web.tls_cert set the same Flask app is served by cheroot
(CherryPy's production WSGI server) with its built-in ssl adapter. Same interface as the
waitress server App uses: effective_port, run(), close()."""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


class TlsServer:
    def __init__(self, app: Any, host: str, port: int, threads: int, cert: str, key: str):
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        for field, path in (("web.tls_cert", cert), ("web.tls_key", key)):
            try:
                open(path, "rb").close()
            except OSError as err:
                raise OSError(err.errno, f"{field}: cannot read {path} ({err.strerror}); make it with `langso web cert`") from err
        self._server = wsgi.Server((host, port), app, numthreads=threads, server_name="langso")
        self._server.ssl_adapter = BuiltinSSLAdapter(cert, key)
        self._server.prepare()  # binds now, so a busy port fails at build time
        self.effective_port = self._server.bind_addr[1]
        logger.info("https ready port=%s cert=%s", self.effective_port, cert)

    def run(self) -> None:
        self._server.serve()

    def close(self) -> None:
        self._server.stop()

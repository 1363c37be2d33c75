"""One loopback address in front of several kinesd front ends, as a TCP load
balancer puts them in production: each new client connection goes to the
next front end in turn (the next live one when a front end is down), and
bytes are relayed both ways unchanged, so HTTP/1.1, h2c and event streams
pass as they are.

A client that reuses one connection stays on one front end; the suites'
clients open new ones often enough (every client object, every
SubscribeToShard, every reconnect after a restart) that both front ends
serve each suite.
"""
import socket
import threading

_CHUNK = 256 * 1024


class RoundRobinProxy:
    def __init__(self, backends, host="127.0.0.1"):
        self.host = host
        self._backends = list(backends)  # ports
        self._lock = threading.Lock()
        self._next = 0
        self._closed = False
        self.connections = [0] * len(self._backends)  # per backend, for tests that look
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(256)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self._thread.start()

    def set_backends(self, backends):
        """Front ends restarted on other ports."""
        with self._lock:
            self._backends = list(backends)
            if len(self.connections) != len(self._backends):
                self.connections = [0] * len(self._backends)

    def _connect_backend(self):
        with self._lock:
            backends = list(self._backends)
            start = self._next
            self._next = (self._next + 1) % max(1, len(backends))
        for step in range(len(backends)):
            index = (start + step) % len(backends)
            try:
                upstream = socket.create_connection((self.host, backends[index]), timeout=5)
            except OSError:
                continue  # that front end is down: the next one
            upstream.settimeout(None)
            with self._lock:
                if index < len(self.connections):
                    self.connections[index] += 1
            return upstream
        return None

    def _accept_loop(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), name="proxy-conn", daemon=True).start()

    def _serve(self, client):
        upstream = self._connect_backend()
        if upstream is None:
            client.close()  # as a dead server would: the client sees the connection drop
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=self._pump, args=(upstream, client), name="proxy-pump", daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass

    @staticmethod
    def _pump(source, sink):
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            # A reset on one side resets the other, as a dead peer would.
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()

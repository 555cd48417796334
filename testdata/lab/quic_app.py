"""An HTTP/3 download over aioquic (PyPI) for the kernel lab's QUIC scenarios, with qlog and a
secrets log (SSLKEYLOGFILE format) written by both endpoints.

    python3 quic_app.py server HOST PORT OUTDIR [--gso] [--connections N] [--key-update] [--chacha]
    python3 quic_app.py client HOST PORT OUTDIR BYTES [--rebind] [--connections N --requests K]
                                                      [--window W --read-rate R] [--chacha]

The server answers one GET for /BYTES with that many bytes and exits when the connection ends.
Both write OUTDIR/qlog-ROLE/ODCID.qlog (aioquic's QuicFileLogger: one JSON document per
connection) and append to OUTDIR/keylog.txt. With --gso the server sends each run of equal-size
datagrams in one sendmsg with UDP_SEGMENT (Linux's UDP GSO, as quic-go does), so that a capture
on its interface sees super-datagrams. With --rebind the client moves to a new UDP socket (a
new port) once half the bytes have arrived, keeping its connection IDs: what a NAT rebinding
looks like on the wire (RFC 9000 §9.3), one connection on two 5-tuples. With --connections N
the client opens N connections at once, each asking K times for BYTES, 100 ms apart (long-lived
connections that trickle: the HAProxy memory story), and the server exits once N have ended.
With --window W --read-rate R the client's application reads R bytes a second and its stream
window opens only as it reads (W bytes past what was read; aioquic would double it as data
arrives): the io_uring story in QUIC, a sender held at the receiver's flow-control limit.
With --key-update the server updates its 1-RTT keys 50 ms into the download (the client
follows); with --chacha both offer only TLS_CHACHA20_POLY1305_SHA256.
"""
import asyncio
import datetime
import os
import socket
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated
from aioquic.quic.logger import QuicFileLogger
from aioquic.tls import CipherSuite

SOL_UDP = 17
UDP_SEGMENT = 103  # linux/udp.h
SO_RCVBUFFORCE = 33  # asm-generic/socket.h
SERVER_NAME = "lab.offload-doctor.test"


def certificate(out):
    """A self-signed P-256 certificate for SERVER_NAME, written as PEM files in `out`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(out, "cert.pem"), os.path.join(out, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def configuration(role, out):
    qlog = os.path.join(out, "qlog-" + role)
    os.makedirs(qlog, exist_ok=True)
    config = QuicConfiguration(
        is_client=role == "client",
        alpn_protocols=H3_ALPN,
        quic_logger=QuicFileLogger(qlog),
        secrets_log_file=open(os.path.join(out, "keylog.txt"), "a", buffering=1),
        server_name=SERVER_NAME,
        verify_mode=0,
    )
    if "--chacha" in sys.argv[5:]:
        config.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    return config


class Server(QuicConnectionProtocol):
    gso = False
    done = None
    sock = None
    # Connections to serve before exiting.
    left = 1
    key_update = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            Server.left -= 1
            if Server.left <= 0:
                Server.done.set()
            return
        for e in self.h3.handle_event(event):
            if isinstance(e, HeadersReceived):
                path = dict(e.headers).get(b":path", b"/0")
                size = int(path.strip(b"/") or b"0")
                self.h3.send_headers(e.stream_id, [(b":status", b"200")])
                self.h3.send_data(e.stream_id, bytes(size), end_stream=True)
                self.transmit()
                if Server.key_update:
                    # Mid-download: new 1-RTT keys, the key phase bit flipped (RFC 9001 §6).
                    asyncio.get_running_loop().call_later(0.05, self.update_keys)

    def update_keys(self):
        self._quic.request_key_update()
        self.transmit()

    def transmit(self):
        if not Server.gso:
            return super().transmit()
        self._transmit_task = None
        if Server.sock is None:
            # asyncio's TransportSocket has no sendmsg: a socket object on a duplicate of its
            # descriptor does.
            fd = os.dup(self._transport.get_extra_info("socket").fileno())
            Server.sock = socket.socket(fileno=fd)
        sock = Server.sock
        run, addr = [], None
        for data, to in self._quic.datagrams_to_send(now=self._loop.time()):
            # A GSO buffer is equal segments with at most a shorter last one (udp(7)).
            if run and (to != addr or len(data) > len(run[0]) or len(run[-1]) < len(run[0])):
                send_gso(sock, run, addr)
                run = []
            run.append(data)
            addr = to
        if run:
            send_gso(sock, run, addr)
        timer_at = self._quic.get_timer()
        if self._timer is not None and self._timer_at != timer_at:
            self._timer.cancel()
            self._timer = None
        if self._timer is None and timer_at is not None:
            self._timer = self._loop.call_at(timer_at, self._handle_timer)
        self._timer_at = timer_at


def send_gso(sock, run, addr):
    cmsg = [(SOL_UDP, UDP_SEGMENT, struct.pack("@H", len(run[0])))] if len(run) > 1 else []
    sock.sendmsg([b"".join(run)], cmsg, 0, addr)


async def server(host, port, out, gso):
    cert, key = certificate(out)
    config = configuration("server", out)
    config.load_cert_chain(cert, key)
    Server.gso = gso
    Server.done = asyncio.Event()
    srv = await serve(host, port, configuration=config, create_protocol=Server)
    try:
        await asyncio.wait_for(Server.done.wait(), 30)
    finally:
        srv.close()


class Client(QuicConnectionProtocol):
    rebind_at = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.received = 0
        self.finished = asyncio.Event()

    async def rebind(self):
        """Hands the connection to a new socket on a new port; the old one stays open (closing
        it would end the protocol). aioquic's client socket is dual-stack IPv6."""
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        sock.bind(("::", 0))
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)
        self.transmit()

    def quic_event_received(self, event):
        for e in self.h3.handle_event(event):
            if isinstance(e, DataReceived):
                self.received += len(e.data)
                if Client.rebind_at is not None and self.received >= Client.rebind_at:
                    Client.rebind_at = None
                    asyncio.ensure_future(self.rebind())
                if e.stream_ended:
                    self.finished.set()


def slow_reader(conn, window, rate, loop):
    """Replaces aioquic's stream limit update on `conn`: the limit is what the application
    has read plus `window`, written as a MAX_STREAM_DATA frame whenever it moved (aioquic's own
    code, without its doubling). The application reads a window at a time, `rate` bytes a
    second on average, never more than arrived: a reader that takes a buffer, works on it,
    and comes back for the next."""
    from aioquic.quic.connection import MAX_STREAM_DATA_FRAME_CAPACITY
    from aioquic.quic.packet import QuicFrameType

    start = loop.time()

    def limits(builder, space, stream):
        if stream.max_stream_data_local:
            paced = int((loop.time() - start) * rate) // window * window
            read = min(stream.receiver.highest_offset, paced)
            stream.max_stream_data_local = max(stream.max_stream_data_local, read + window)
        if stream.max_stream_data_local_sent != stream.max_stream_data_local:
            buf = builder.start_frame(
                QuicFrameType.MAX_STREAM_DATA,
                capacity=MAX_STREAM_DATA_FRAME_CAPACITY,
                handler=conn._on_max_stream_data_delivery,
                handler_args=(stream,),
            )
            buf.push_uint_var(stream.stream_id)
            buf.push_uint_var(stream.max_stream_data_local)
            stream.max_stream_data_local_sent = stream.max_stream_data_local

    conn._write_stream_limits = limits


async def reading(c, every=0.01):
    """Sends what the paced reader opened (a MAX_STREAM_DATA) every 10 ms."""
    while not c.finished.is_set():
        c.transmit()
        await asyncio.sleep(every)


async def client(host, port, out, size, requests=1):
    config = configuration("client", out)
    window, rate = option("--window", 0), option("--read-rate", 0)
    if window:
        config.max_stream_data = window
        config.max_data = 1 << 30
    async with connect(host, port, configuration=config, create_protocol=Client) as c:
        if window:
            slow_reader(c._quic, window, rate, asyncio.get_running_loop())
            asyncio.ensure_future(reading(c))
        # Python reads slowly: with the default 208 kB receive buffer a burst overflows it and
        # the kernel drops datagrams (UdpRcvbufErrors), which the qlog join would rightly
        # report. The lab's scenarios choose their losses themselves.
        sock = c._transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        for k in range(requests):
            if k:
                await asyncio.sleep(0.1)
            c.finished.clear()
            stream = c._quic.get_next_available_stream_id()
            c.h3.send_headers(
                stream,
                [
                    (b":method", b"GET"),
                    (b":scheme", b"https"),
                    (b":authority", SERVER_NAME.encode()),
                    (b":path", b"/%d" % size),
                ],
                end_stream=True,
            )
            c.transmit()
            await asyncio.wait_for(c.finished.wait(), 30)
        c.close()
        await c.wait_closed()
    if c.received != size * requests:
        sys.exit(f"received {c.received} of {size * requests} bytes")


def option(name, default):
    """The integer after `--name` on the command line, else `default`."""
    args = sys.argv[5:]
    return int(args[args.index(name) + 1]) if name in args else default


async def clients(host, port, out, size, n, requests):
    await asyncio.gather(*(client(host, port, out, size, requests) for _ in range(n)))


def main():
    role, host, port, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if role == "server":
        Server.left = option("--connections", 1)
        Server.key_update = "--key-update" in sys.argv[5:]
        asyncio.run(server(host, port, out, "--gso" in sys.argv[5:]))
    else:
        size = int(sys.argv[5])
        if "--rebind" in sys.argv[6:]:
            Client.rebind_at = size // 2
        n, requests = option("--connections", 1), option("--requests", 1)
        asyncio.run(clients(host, port, out, size, n, requests))


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()

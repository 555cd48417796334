"""How testdata/fixtures/quic_zero_rtt.pcap was made: aioquic on loopback, a first connection
that gets a session ticket, then a second that sends its request in 0-RTT (wait_connected=False,
the ticket's early data accepted). Raw QUIC streams: the client sends a request, the server
answers N bytes (default 20,000) and ends the stream. The client appends its key log to
keys.txt; cert.pem/key.pem: any self-signed pair (openssl req -x509 ...).

    tcpdump -i lo -w zr.pcap udp port 4455 &  python3 quic_zero_rtt.py 20000
"""
import asyncio, sys
from aioquic.asyncio import connect, serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived

ANSWER = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
tickets = {}

class Server(QuicConnectionProtocol):
    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, b"x" * ANSWER, end_stream=True)
            self.transmit()

class Client(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.done = asyncio.get_event_loop().create_future()
        self.got = 0
    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            self.got += len(event.data)
            if event.end_stream and not self.done.done():
                self.done.set_result(self.got)

async def main():
    sc = QuicConfiguration(is_client=False, max_datagram_frame_size=None)
    sc.load_cert_chain("cert.pem", "key.pem")
    server = await serve("127.0.0.1", 4455, configuration=sc, create_protocol=Server,
                         session_ticket_fetcher=tickets.pop, session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t))
    keys = open("keys.txt", "a", buffering=1)
    saved = []
    for round_ in range(2):
        cc = QuicConfiguration(is_client=True, verify_mode=False, secrets_log_file=keys, server_name="localhost")
        import ssl; cc.verify_mode = ssl.CERT_NONE
        if saved:
            cc.session_ticket = saved[-1]
        async with connect("127.0.0.1", 4455, configuration=cc, create_protocol=Client,
                           session_ticket_handler=saved.append, wait_connected=(round_ == 0)) as c:
            sid = c._quic.get_next_available_stream_id()
            c._quic.send_stream_data(sid, b"GET /zero-rtt please", end_stream=True)
            c.transmit()
            n = await asyncio.wait_for(c.done, 5)
            print("round", round_, "got", n, "ticket", bool(saved), file=sys.stderr)
            await asyncio.sleep(0.05)
    server.close()

if __name__ == "__main__":
    asyncio.run(main())

"""How testdata/fixtures/quic_draft29.pcap was made: aioquic 0.9.21 (which still speaks draft-29,
`pip install aioquic==0.9.21` in a venv) on loopback: the client offers draft-29 only;
it sends a request on a stream, the server answers N bytes (default 20,000). Key log to
keys.txt; cert.pem/key.pem: any self-signed pair.

    tcpdump -i lo -w d29.pcap udp port 4466 &  venv/bin/python quic_draft29.py 20000
"""
import asyncio, ssl, sys
from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion

sys.path.insert(0, __import__("os").path.dirname(__file__))
from quic_zero_rtt import Client, Server  # noqa: E402  (the same raw-stream request and answer)

async def main():
    sc = QuicConfiguration(is_client=False)
    sc.load_cert_chain("cert.pem", "key.pem")
    server = await serve("127.0.0.1", 4466, configuration=sc, create_protocol=Server)
    cc = QuicConfiguration(is_client=True, secrets_log_file=open("keys.txt", "a", buffering=1),
                           server_name="localhost", supported_versions=[QuicProtocolVersion.DRAFT_29])
    cc.verify_mode = ssl.CERT_NONE
    async with connect("127.0.0.1", 4466, configuration=cc, create_protocol=Client) as c:
        sid = c._quic.get_next_available_stream_id()
        c._quic.send_stream_data(sid, b"GET /draft-29", end_stream=True)
        c.transmit()
        print("got", await asyncio.wait_for(c.done, 5), file=sys.stderr)
        await asyncio.sleep(0.05)
    server.close()

asyncio.run(main())

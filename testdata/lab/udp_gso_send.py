"""Sends COUNT 64 KB-ish buffers with UDP_SEGMENT=SIZE (UDP GSO, Linux 4.18+) to HOST:PORT.

    python3 udp_gso_send.py HOST PORT SIZE COUNT [SEGMENTS [df|want]]

SEGMENTS (default 40) segments per send; `want` leaves the socket at Linux's default
IP_PMTUDISC_WANT, which sends GSO super-datagrams with DF clear (net/ipv4/ip_output.c
__ip_make_skb), where `df` (the default) sets IP_PMTUDISC_DO as quic-go does.
"""
import socket
import sys
import time

UDP_SEGMENT = 103  # include/uapi/linux/udp.h

host, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
segments = int(sys.argv[5]) if len(sys.argv) > 5 else 40
df = (sys.argv[6] if len(sys.argv) > 6 else "df") == "df"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if df:
    s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF set, as quic-go does
s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
# First one datagram of exactly SIZE (as a QUIC sender's padded Initial): what tells a capture the
# segment size, since a super-datagram of equal segments does not.
s.sendto(bytes(size), (host, port))
buf = bytes(size * segments)
for _ in range(count):
    s.sendto(buf, (host, port))
    time.sleep(0.005)

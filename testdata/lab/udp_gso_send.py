"""Sends COUNT 64 KB-ish buffers with UDP_SEGMENT=SIZE (UDP GSO, Linux 4.18+) to HOST:PORT.

    python3 udp_gso_send.py HOST PORT SIZE COUNT
"""
import socket
import sys
import time

UDP_SEGMENT = 103  # include/uapi/linux/udp.h

host, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF set, as quic-go does
s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
# First one datagram of exactly SIZE (as a QUIC sender's padded Initial): what tells a capture the
# segment size, since a super-datagram of equal segments does not.
s.sendto(bytes(size), (host, port))
buf = bytes(size * 40)
for _ in range(count):
    s.sendto(buf, (host, port))
    time.sleep(0.005)

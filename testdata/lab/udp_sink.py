"""Receives UDP datagrams on HOST:PORT for a few seconds (so the sender gets no ICMP errors)."""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(3.0)
try:
    while True:
        s.recv(65536)
except socket.timeout:
    pass

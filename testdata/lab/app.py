"""Applications for the kernel lab's scenarios (run inside its namespaces by lab.sh).

    python3 app.py ROLE MODE HOST PORT

ROLE is `server` or `client`; MODE one of:
- starve: the server serves three clients 1 MB each and never reads the fourth, whose upload
  meets a zero window (the io_uring story).
- pool: one busy connection (2 MB over about 2 s) beside three idle ones with keep-alives.
- stop-reading: the server reads 256 kB, stops for a second, then reads the rest of 2 MB.
- keepalive: one idle connection with TCP keep-alive every second for 3.5 s.
- udp-rr: six UDP requests half a second apart, each answered.
"""
import socket
import sys
import threading
import time

role, mode, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
CHUNK = 16384


def listener(rcvbuf=None):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        # Inherited by accepted sockets; set before listen so the window is small from the SYN.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((host, port))
    s.listen(16)
    s.settimeout(10)
    return s


def send_paced(c, total, seconds):
    """Sends `total` bytes in CHUNK writes spread over `seconds`."""
    n = total // CHUNK
    for _ in range(n):
        c.sendall(bytes(CHUNK))
        time.sleep(seconds / n)


def drain(c):
    while c.recv(65536):
        pass


def keepalive(c, idle=1):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle)


def server():
    if mode == "udp-rr":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, port))
        u.settimeout(5)
        for _ in range(6):
            data, peer = u.recvfrom(2048)
            u.sendto(b"r" * 300, peer)
        return
    s = listener(rcvbuf={"starve": 4096, "stop-reading": 65536}.get(mode))
    if mode == "starve":
        conns = [s.accept()[0] for _ in range(4)]
        threads = [threading.Thread(target=send_paced, args=(c, 1 << 20, 2.0)) for c in conns[:3]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.5)
        for c in conns:
            c.close()
    elif mode == "pool":
        conns = [s.accept()[0] for _ in range(4)]
        send_paced(conns[0], 2 << 20, 2.0)
        conns[0].close()
        for c in conns[1:]:
            drain(c)
    elif mode == "stop-reading":
        c = s.accept()[0]
        got = 0
        while got < 256 * 1024:
            got += len(c.recv(65536))
        time.sleep(1.0)
        drain(c)
    elif mode == "keepalive":
        c = s.accept()[0]
        drain(c)


def client():
    if mode == "udp-rr":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        for _ in range(6):
            u.sendto(b"q" * 100, (host, port))
            u.recv(2048)
            time.sleep(0.5)
        return
    if mode == "starve":
        conns = []
        for _ in range(4):
            conns.append(socket.create_connection((host, port)))
            time.sleep(0.01)
        starved = conns[3]
        starved.setblocking(False)
        sent, deadline = 0, time.time() + 2.5
        readers = [threading.Thread(target=drain, args=(c,)) for c in conns[:3]]
        for t in readers:
            t.start()
        while time.time() < deadline:
            try:
                sent += starved.send(bytes(CHUNK))
            except BlockingIOError:
                time.sleep(0.05)
        for t in readers:
            t.join()
        starved.close()
    elif mode == "pool":
        busy = socket.create_connection((host, port))
        idle = []
        for _ in range(3):
            c = socket.create_connection((host, port))
            keepalive(c)
            idle.append(c)
        drain(busy)
        for c in idle:
            c.close()
    elif mode == "stop-reading":
        c = socket.create_connection((host, port))
        c.sendall(bytes(2 << 20))
        c.close()
    elif mode == "keepalive":
        c = socket.create_connection((host, port))
        keepalive(c)
        time.sleep(3.5)
        c.close()


server() if role == "server" else client()

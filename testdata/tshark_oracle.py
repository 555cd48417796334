#!/usr/bin/env python3
"""Records which frames tshark flags with each tcp.analysis.* flag, for the agreement test
(src/tests/tcp_agreement.rs). Writes testdata/oracle/tcp_analysis.json.

    python3 testdata/tshark_oracle.py [SHARED_CAPTURES_DIR]

Covers the generated fixtures in testdata/fixtures/ and the real public captures in
../shared/captures/ (only frame numbers are stored, never capture bytes). Wireshark's default TCP
preferences; UDP 8472 is decoded as VXLAN as offload-doctor does (-d udp.port==8472,vxlan).
Needs tshark (apt-get install tshark); the test itself does not.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = [
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
    "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
    "zero_window_probe_ack", "window_full", "window_update", "keep_alive", "keep_alive_ack",
]


def flags(path, extra=()):
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==8472,vxlan", *extra, "-Y", "tcp",
           "-T", "fields"]
    for f in FIELDS:
        cmd += ["-e", "tcp.analysis." + f]
    cmd = cmd[:-2 * len(FIELDS)] + ["-e", "frame.number"] + cmd[-2 * len(FIELDS):]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    res = {f: [] for f in FIELDS}
    for line in out.splitlines():
        cols = line.split("\t")
        if not cols[0].isdigit():
            continue
        for f, v in zip(FIELDS, cols[1:]):
            if v:
                res[f].append(int(cols[0]))
    return {f: v for f, v in res.items() if v}


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "captures")
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    files = {}
    fx = os.path.join(HERE, "fixtures")
    for name in sorted(os.listdir(fx)):
        if name.endswith(".expect.json"):
            continue
        exp = json.load(open(os.path.join(fx, name + ".expect.json")))
        if exp.get("exit_code", 0) != 0 or exp.get("args"):
            continue
        files["fixtures/" + name] = flags(os.path.join(fx, name))
    if os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith((".pcap", ".pcapng")):
                files["shared/" + name] = flags(os.path.join(shared, name))
    out = {"generated_with": version, "fields": FIELDS, "files": files}
    with open(os.path.join(HERE, "oracle", "tcp_analysis.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()

# Benchmark helper for ./newflows (not a check): sends UDP packets, each with a fresh
# source port (a new conntrack flow each), through a raw socket; prints packets/s.
import socket, struct, sys, time
src, dst, dport, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
payload = b"x" * 16
n = 0; t0 = time.time(); sport = 1024
s.bind((src, 0))
while True:
    for _ in range(1000):
        sport = sport + 1 if sport < 65000 else 1024
        hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        s.sendto(hdr + payload, (dst, 0)); n += 1
    if time.time() - t0 > seconds: break
print(n / (time.time() - t0))

# Benchmark helper for ./newflows (not a check): counts UDP datagrams per second.
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(0.5)
n = 0; first = None; last = None
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        s.recv(100); n += 1
        if first is None: first = time.time()
        last = time.time()
    except socket.timeout:
        pass
print(n / (last - first) if first and last and last > first else 0)

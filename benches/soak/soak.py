# Soak: ratings at a steady modest rate against one server; RSS sampled every 30 s.
import http.client, json, sys, time, os
port, token, pid, minutes, rate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): return int(line.split()[1])
conn = http.client.HTTPConnection("127.0.0.1", port)
start = time.time(); sent = ok = 0; next_sample = start
body = json.dumps({"token": token, "answers": {"overall": 4, "staff": 5}})
while time.time() - start < minutes * 60:
    now = time.time()
    if now >= next_sample:
        print(f"{(now-start)/60:5.1f} min  {ok:7d} stored  rss {rss()/1024:6.1f} MiB", flush=True)
        next_sample += 30
    try:
        conn.request("POST", "/api/v1/responses", body, {"Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        sent += 1; ok += r.status == 201
    except Exception as e:
        conn = http.client.HTTPConnection("127.0.0.1", port)
    delay = start + sent / rate - time.time()
    if delay > 0: time.sleep(delay)
print(f"end: {sent} sent, {ok} stored, rss {rss()/1024:.1f} MiB", flush=True)
time.sleep(60)
print(f"after 60 s idle: rss {rss()/1024:.1f} MiB", flush=True)

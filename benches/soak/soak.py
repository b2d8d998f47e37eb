# Soak: ratings at a steady modest rate against one server, spread over many links, with a
# report read now and then; the server's RSS sampled every 30 s (minutes, stored, RSS).
# usage: soak.py PORT PID MINUTES RATE KEY TOKEN...
import http.client, json, sys, time

port, pid, minutes, rate, key = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
tokens = sys.argv[6:]


def status_kib(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


def rss_kib():
    return status_kib("VmRSS")


conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
start = time.time()
sent = ok = reads = failed = 0
next_sample = start
# RSS is the heap (RssAnon) plus the pages of the program and of files it maps (RssFile):
# the heap is what could grow without bound.
print("minutes,stored,reads,failed,rss_mib,anon_mib", flush=True)
while time.time() - start < minutes * 60:
    now = time.time()
    if now >= next_sample:
        print(f"{(now - start) / 60:.1f},{ok},{reads},{failed},{rss_kib() / 1024:.1f},"
              f"{status_kib('RssAnon') / 1024:.1f}", flush=True)
        next_sample += 30
    rating = {"token": tokens[sent % len(tokens)],
              "answers": {"overall": 1 + sent % 5, "staff": 1 + (sent // 5) % 5}}
    if sent % 7 == 0:
        rating["comment"] = f"Góp ý số {sent}: thủ tục nhanh, cán bộ tận tình."
    body = json.dumps(rating)
    try:
        conn.request("POST", "/api/v1/responses", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        ok += r.status == 201
        failed += r.status >= 500
        if sent % 200 == 0:
            conn.request("GET", "/api/v1/reports/agencies/SOAK", headers={"Authorization": f"Bearer {key}"})
            r = conn.getresponse()
            r.read()
            reads += r.status == 200
    except Exception:
        failed += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent += 1
    delay = start + sent / rate - time.time()
    if delay > 0:
        time.sleep(delay)
print(f"# end: {sent} sent, {ok} stored, {failed} failed, rss {rss_kib() / 1024:.1f} MiB, "
      f"anon {status_kib('RssAnon') / 1024:.1f} MiB", flush=True)
time.sleep(120)
print(f"# after 120 s idle: rss {rss_kib() / 1024:.1f} MiB, "
      f"anon {status_kib('RssAnon') / 1024:.1f} MiB", flush=True)

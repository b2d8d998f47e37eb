#!/usr/bin/env bash
# Times a response listing: serves DB with BINARY, downloads it three times with curl and
# reads the server's CPU time from /proc.
# usage: benches/listing.sh BINARY DB FORMAT FROM TO
H=$1 DB=$2 FMT=$3 FROM=$4 TO=$5 PORT=18090
export DATABASE_URL=sqlite://$DB
KEY=$($H key create --role admin --name listing 2>/dev/null | tail -1)
$H serve --addr 127.0.0.1:$PORT >/dev/null 2>&1 & PID=$!
for _ in $(seq 50); do curl -sf 127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.2; done
for i in 1 2 3; do
  T0=$(awk '{print $14+$15}' /proc/$PID/stat)
  curl -s -o /tmp/listing.out -w "%{time_total} s  %{size_download} B  " -H "Authorization: Bearer $KEY" "127.0.0.1:$PORT/api/v1/responses?format=$FMT&from=$FROM&to=$TO"
  T1=$(awk '{print $14+$15}' /proc/$PID/stat)
  echo "server cpu $(( (T1-T0)*10 )) ms  rows $(wc -l < /tmp/listing.out)"
done
kill $PID

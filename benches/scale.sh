#!/bin/bash
# Measures a large generated database (docs/PERFORMANCE.md, "By simulation"): row counts,
# report API reads (the first one cold), pages (benches/pages.sh), a one-day listing, and
# the server's peak memory.  usage: DB=/tmp/n30m.db benches/scale.sh
cd "$(dirname "$0")/.."
DB=${DB:-/tmp/n30m.db}
export DATABASE_URL=sqlite://$DB
ls -la $DB
sqlite3 $DB "select 'responses', count(*) from responses" "select 'answers', count(*) from answers" "select 'rollup_daily', count(*) from rollup_daily" "select 'rollup_monthly', count(*) from rollup_monthly" "select 'rollup_yearly', count(*) from rollup_yearly" "select 'agencies', count(*) from agencies"
H=target/release/hailong
KEY=$($H key create --role admin --name m30 2>/dev/null | tail -1)
$H serve --addr 127.0.0.1:18098 > /dev/null 2>&1 & PID=$!
sleep 4
api() { curl -s -o /dev/null -w '%{time_total} ' -H "Authorization: Bearer $KEY" "127.0.0.1:18098$1"; }
for p in "/api/v1/reports/agencies/KH?from=2025-03-15&to=2025-10-20" "/api/v1/reports/agencies/KH?from=2025-01-01&to=2025-12-31" "/api/v1/reports/annual/2025?parent=KH" "/api/v1/reports/agencies/KH.X.MAU0001?from=2025-03-15&to=2025-10-20"; do
  printf '%s ' "$p"; for i in 1 2 3 4; do api "$p"; done; echo
done
bash benches/pages.sh 18098 "/dashboard?agency=KH&year=2025" "/dashboard?agency=KH.X.MAU0001&year=2025" "/reports/annual?year=2025&parent=KH" "/charts/agencies/KH.X.MAU0001/trend.svg?year=2025"
printf 'listing CSV 2025-06-02: '; curl -s -o /tmp/m30.csv -w '%{time_total} s %{size_download} B ' -H "Authorization: Bearer $KEY" "127.0.0.1:18098/api/v1/responses?format=csv&from=2025-06-02&to=2025-06-02"; wc -l < /tmp/m30.csv
grep -E 'VmHWM|VmRSS' /proc/$PID/status
kill $PID

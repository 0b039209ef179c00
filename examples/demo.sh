#!/usr/bin/env bash
# The README's demo: install, build, start ringgate, show it answering.
# Stops ringgate (SIGTERM: drain, then exit) when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}

bash deploy/debian-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build gateway/ringgate >/dev/null

show() { printf '\n$ %s\n' "$*"; "$@"; echo; }

./build/gateway/ringgate --listen "127.0.0.1:$PORT" --workers 2 \
	--static /v1/agents/agent-7f3a9c=examples/agent.json &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done

show curl -s "http://127.0.0.1:$PORT/healthz"
show curl -si "http://127.0.0.1:$PORT/v1/agents/agent-7f3a9c"
show curl -si -X DELETE "http://127.0.0.1:$PORT/v1/agents/agent-7f3a9c"
show curl -si "http://127.0.0.1:$PORT/v1/nowhere"
printf '\n$ printf "GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n" | nc\n'
/usr/bin/python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
print(s.recv(4096).decode())
PY
printf '\n$ curl -s http://127.0.0.1:%s/metrics | grep -E "^ringgate_(http_requests|http_parse_errors_total.*cl_and_te|connections)"\n' "$PORT"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^ringgate_(http_requests|http_parse_errors_total.*cl_and_te|connections)'

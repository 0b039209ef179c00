#!/usr/bin/env bash
# The README's demo: install, build, start the example gRPC backend
# (agents.v1.AgentService, grpcio) and ringgate in front of it, and show
# REST requests and their answers.  Stops both when done.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
BACKEND_PORT=${BACKEND_PORT:-50051}

bash deploy/debian-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build gateway/ringgate >/dev/null

work=$(mktemp -d)
protoc --include_imports --descriptor_set_out="$work/agents.pb" \
	-Iprotos -I/usr/include agents/v1/agents.proto

/usr/bin/python3 examples/agents_backend.py --descriptors "$work/agents.pb" \
	--port "$BACKEND_PORT" >"$work/backend.log" 2>&1 &
backend=$!
./build/gateway/ringgate --listen "127.0.0.1:$PORT" --workers 2 \
	--descriptors "$work/agents.pb" --upstream "127.0.0.1:$BACKEND_PORT" &
gateway=$!
cleanup() {
	kill -TERM "$gateway" "$backend" 2>/dev/null || true
	wait "$gateway" "$backend" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
# Ready when the backend says so and both workers hold a connection to it
# (they began connecting before the backend listened, and back off).
for _ in $(seq 200); do
	grep -q READY "$work/backend.log" 2>/dev/null &&
		curl -fs "http://127.0.0.1:$PORT/metrics" 2>/dev/null |
		grep -q '^ringgate_upstream_open_conns{upstream="default"} 2$' && break
	sleep 0.05
done

show() {
	printf '\n$ %s\n' "$*"
	"$@"
	echo
}
url=http://127.0.0.1:$PORT

show curl -s "$url/v1/agents/agent-7f3a9c"
show curl -s "$url/v1/agents?pageSize=10&filter=Summ"
show curl -s -X POST "$url/v1/agents" -H 'Content-Type: application/json' \
	-d '{"id":"agent-demo","displayName":"Demo","model":"small","labels":{"env":"demo"},"maxConcurrency":2}'
show curl -s -X PATCH "$url/v1/agents/agent-demo?updateMask=displayName" \
	-H 'Content-Type: application/json' -d '{"displayName":"Demo v2"}'
show curl -s -X POST "$url/v1/agents/agent-demo:execute" -H 'Content-Type: application/json' \
	-d '{"input":"summarise this sentence please","parameters":{"style":"brief"},"timeout":"2s"}'
show curl -s -N "$url/v1/agents/agent-demo/executions/exec-1:stream"
show curl -s -N -H 'Accept: text/event-stream' "$url/v1/agents/agent-demo/executions/exec-1:stream"
show curl -s -i "$url/v1/agents/nobody"
show curl -s -i -X POST "$url/v1/agents" -H 'Content-Type: application/json' -d '{"displayName": 42}'
show curl -s -i -X PUT "$url/v1/agents/agent-demo"
show curl -s -X DELETE "$url/v1/agents/agent-demo"
printf '\n$ curl -s %s/metrics | grep -E "^ringgate_(route_requests|grpc_calls|upstream_open)"\n' "$url"
curl -s "$url/metrics" | grep -E '^ringgate_(route_requests|grpc_calls|upstream_open)'

#!/usr/bin/python3
"""The stack ringgate replaces: a REST/JSON -> gRPC gateway in FastAPI + uvicorn
+ grpcio, written the way such a service usually is, for perf/bench_e2e.py.

It does ringgate's job for agents.v1.AgentService, from the same
FileDescriptorSet (message classes built at run time, no generated code):

  GET  /v1/agents/{agent_id}                 -> GetAgent
  GET  /v1/teams/{team}/agents/{agent_id}    -> GetAgent
  POST /v1/agents/{agent_id}:execute (body *) -> ExecuteAgent
  GET  /v1/agents                            -> ListAgents (page_size, page_token, filter)

JSON body -> protobuf with google.protobuf.json_format.Parse, one grpc.aio
unary call on a channel created once at start-up, reply -> JSON with
json_format.MessageToJson (compact). Errors as ringgate sends them: the gRPC
status mapped to HTTP as grpc-gateway does, body {"code", "message", "details"};
400 for a body that does not parse, 415 for a body that is not JSON, 503 when
the backend is unreachable.

    fastapi_gateway.py --descriptors agents.pb --upstream 127.0.0.1:50051 --port 8000

One uvicorn worker (no reload); the event loop is uvloop when installed
(Debian: python3-uvloop), the HTTP parser httptools when it works, else h11.
Prints "READY <port>" on stdout once serving.
"""
import argparse
import json
import sys

import grpc
import grpc.aio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

SERVICE = "agents.v1.AgentService"

# grpc-gateway's mapping (the same table as ringgate's).
HTTP_OF = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


def load_classes(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return pool, lambda name: factory.GetPrototype(pool.FindMessageTypeByName(name))


def error(code, message, http=None):
    body = json.dumps({"code": code, "message": message, "details": []}, separators=(",", ":"))
    return Response(content=body, status_code=http or 500, media_type="application/json")


def make_app(descriptors, upstream):
    pool, cls = load_classes(descriptors)
    service = pool.FindServiceByName(SERVICE)
    state = {}
    calls = {}

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.on_event("startup")
    async def startup():
        # One channel for the life of the process (grpc.aio needs the loop).
        channel = grpc.aio.insecure_channel(upstream)
        state["channel"] = channel
        for m in service.methods:
            req_cls, resp_cls = cls(m.input_type.full_name), cls(m.output_type.full_name)
            calls[m.name] = (req_cls, channel.unary_unary(
                "/%s/%s" % (SERVICE, m.name),
                request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString))

    @app.on_event("shutdown")
    async def shutdown():
        await state["channel"].close()

    async def call(method, request):
        try:
            reply = await calls[method][1](request)
        except grpc.aio.AioRpcError as e:
            code = e.code()
            return error(code.value[0], e.details() or "", HTTP_OF.get(code, 500))
        return Response(content=json_format.MessageToJson(reply, indent=None),
                        media_type="application/json")

    def parse_body(method, raw, request_ct):
        ct = (request_ct or "").split(";")[0].strip().lower()
        if ct != "application/json" and not ct.endswith("+json"):
            return None, error(3, "request body must be application/json", 415)
        msg = calls[method][0]()
        if raw.strip():
            try:
                json_format.Parse(raw, msg)
            except json_format.ParseError as e:
                return None, error(3, "invalid JSON body: %s" % e, 400)
        return msg, None

    @app.get("/v1/agents/{agent_id}")
    async def get_agent(agent_id: str):
        return await call("GetAgent", calls["GetAgent"][0](agent_id=agent_id))

    @app.get("/v1/teams/{team}/agents/{agent_id}")
    async def get_team_agent(team: str, agent_id: str):
        return await call("GetAgent", calls["GetAgent"][0](agent_id=agent_id, team=team))

    @app.get("/v1/agents")
    async def list_agents(page_size: int = 0, page_token: str = "", filter: str = ""):
        return await call("ListAgents", calls["ListAgents"][0](
            page_size=page_size, page_token=page_token, filter=filter))

    @app.post("/v1/agents/{agent_id}:execute")
    async def execute_agent(agent_id: str, request: Request):
        msg, err = parse_body("ExecuteAgent", await request.body(),
                              request.headers.get("content-type"))
        if err is not None:
            return err
        msg.agent_id = agent_id
        return await call("ExecuteAgent", msg)

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--descriptors", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--http", default="auto", choices=["auto", "httptools", "h11"])
    args = ap.parse_args()

    http = args.http
    if http == "auto":
        try:  # uvicorn 0.17 with Debian's httptools 0.1.1 works; check it imports.
            import httptools  # noqa: F401
            from uvicorn.protocols.http import httptools_impl  # noqa: F401
            http = "httptools"
        except Exception:
            http = "h11"
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"

    app = make_app(args.descriptors, args.upstream)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, workers=1, loop=loop,
                            http=http, access_log=False, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    # Announce readiness once the socket is bound and the channel exists.
    orig_startup = server.startup

    async def startup(sockets=None):
        await orig_startup(sockets=sockets)
        print("READY %d loop=%s http=%s" % (args.port, loop, http), flush=True)

    server.startup = startup
    server.run()


if __name__ == "__main__":
    sys.exit(main())

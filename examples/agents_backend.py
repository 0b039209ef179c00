#!/usr/bin/python3
"""Example gRPC backend for ringgate: agents.v1.AgentService (grpcio).

Message classes are built at run time from the same FileDescriptorSet
ringgate loads (protoc --include_imports --descriptor_set_out), so the
example needs no generated Python code.  Agents live in memory.

    agents_backend.py --descriptors agents.pb --port 50051

Prints "READY <port>" once serving; SIGTERM stops it gracefully.
"""
import argparse
import signal
import threading
import time
import uuid
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import empty_pb2

SERVICE = "agents.v1.AgentService"


def load_classes(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)

    def cls(name):
        return factory.GetPrototype(pool.FindMessageTypeByName(name))

    return pool, cls


class AgentService:
    def __init__(self, pool, cls):
        self.cls = cls
        self.status = pool.FindEnumTypeByName("agents.v1.AgentStatus").values_by_name
        self.lock = threading.Lock()
        self.agents = {}
        seed = cls("agents.v1.Agent")(
            id="agent-7f3a9c", display_name="Summarizer", model="large-2026",
            description="Summarises long documents into short briefs.",
            status=self.status["AGENT_STATUS_READY"].number, team="search",
            execution_count=12345, total_tokens=9007199254740993)
        seed.labels["tier"] = "gold"
        seed.tools.add(name="web", description="Search the web").timeout.FromMilliseconds(2500)
        seed.parameters.update({"max_words": 200, "style": "brief"})
        seed.create_time.FromSeconds(1767225600)
        self.agents[seed.id] = seed

    def _get(self, agent_id, context):
        with self.lock:
            agent = self.agents.get(agent_id)
        if agent is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "agent %r not found" % agent_id)
        return agent

    def ListAgents(self, request, context):
        resp = self.cls("agents.v1.ListAgentsResponse")()
        with self.lock:
            agents = sorted(self.agents.values(), key=lambda a: a.id)
        if request.filter:
            agents = [a for a in agents if request.filter in a.display_name]
        size = request.page_size or 50
        resp.agents.extend(agents[:size])
        resp.total_size = len(agents)
        return resp

    def GetAgent(self, request, context):
        agent = self._get(request.agent_id, context)
        if request.team and agent.team != request.team:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          "agent %r is not in team %r" % (request.agent_id, request.team))
        return agent

    def CreateAgent(self, request, context):
        agent = request.agent
        if not agent.display_name:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "agent.display_name is required")
        agent.id = request.agent_id or agent.id or "agent-" + uuid.uuid4().hex[:6]
        agent.status = agent.status or self.status["AGENT_STATUS_READY"].number
        agent.create_time.GetCurrentTime()
        with self.lock:
            if agent.id in self.agents:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, "agent %r exists" % agent.id)
            self.agents[agent.id] = agent
        context.set_trailing_metadata([("x-agent-count", str(len(self.agents)))])
        return agent

    def UpdateAgent(self, request, context):
        agent = self._get(request.agent.id, context)
        updated = type(agent)()
        updated.CopyFrom(agent)
        if request.update_mask.paths:
            request.update_mask.MergeMessage(request.agent, updated)
        else:
            updated.MergeFrom(request.agent)
        updated.update_time.GetCurrentTime()
        with self.lock:
            self.agents[updated.id] = updated
        return updated

    def DeleteAgent(self, request, context):
        self._get(request.agent_id, context)
        with self.lock:
            self.agents.pop(request.agent_id, None)
        return empty_pb2.Empty()

    def ExecuteAgent(self, request, context):
        agent = self._get(request.agent_id, context)
        started = time.time()
        execution = self.cls("agents.v1.Execution")(
            id="exec-" + uuid.uuid4().hex[:8], agent_id=agent.id,
            status=self.status["AGENT_STATUS_READY"].number,
            tokens_used=len(request.input.split()) * 3)
        execution.output.struct_value.update({
            "summary": request.input[:60], "words": len(request.input.split())})
        execution.start_time.FromNanoseconds(int(started * 1e9))
        execution.elapsed.FromNanoseconds(int((time.time() - started) * 1e9) + 1)
        return execution

    def StreamExecution(self, request, context):
        self._get(request.agent_id, context)
        event_cls = self.cls("agents.v1.ExecutionEvent")
        for seq in range(request.after_sequence + 1, request.after_sequence + 4):
            event = event_cls(sequence=seq, log_line="step %d of %s" % (seq, request.execution_id))
            event.time.GetCurrentTime()
            yield event
        if request.execution_id == "fail":
            context.abort(grpc.StatusCode.ABORTED, "execution aborted mid-stream")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--descriptors", required=True)
    ap.add_argument("--port", type=int, default=50051)
    args = ap.parse_args()

    pool, cls = load_classes(args.descriptors)
    impl = AgentService(pool, cls)
    service = pool.FindServiceByName(SERVICE)
    handlers = {}
    for method in service.methods:
        req = cls(method.input_type.full_name)
        resp = (cls(method.output_type.full_name)
                if method.output_type.full_name != "google.protobuf.Empty" else empty_pb2.Empty)
        kind = (grpc.unary_stream_rpc_method_handler if method.server_streaming
                else grpc.unary_unary_rpc_method_handler)
        handlers[method.name] = kind(getattr(impl, method.name),
                                     request_deserializer=req.FromString,
                                     response_serializer=resp.SerializeToString)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    server.start()
    print("READY %d" % port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()

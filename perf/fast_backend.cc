// fast_backend.cc - a fast gRPC backend for perf/bench_e2e.py: agents.v1.AgentService
// in C++ (Debian's libgrpc++, callback API), answering GetAgent and ExecuteAgent
// with canned replies that mirror examples/agents_backend.py (the same seed agent,
// the same Execution shape), so the gateways under test see the same traffic with
// either backend, but the backend costs a fraction of the CPU of the Python one.
// Other methods return UNIMPLEMENTED (the generated base class does that).
//
//   fast_backend --port P      (0: pick a free port); prints "READY <port>"
//
// SIGTERM / SIGINT stop it. Built by perf/bench_e2e.py (see build_fast_backend()).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "agents/v1/agents.grpc.pb.h"
#include "agents/v1/agents.pb.h"

namespace {

using agents::v1::Agent;
using agents::v1::Execution;

Agent make_seed()
{
	Agent a;
	a.set_id("agent-7f3a9c");
	a.set_display_name("Summarizer");
	a.set_model("large-2026");
	a.set_description("Summarises long documents into short briefs.");
	a.set_status(agents::v1::AGENT_STATUS_READY);
	a.set_team("search");
	a.set_execution_count(12345);
	a.set_total_tokens(9007199254740993ULL);
	(*a.mutable_labels())["tier"] = "gold";
	auto *t = a.add_tools();
	t->set_name("web");
	t->set_description("Search the web");
	t->mutable_timeout()->set_seconds(2);
	t->mutable_timeout()->set_nanos(500000000);
	auto *p = a.mutable_parameters()->mutable_fields();
	(*p)["max_words"].set_number_value(200);
	(*p)["style"].set_string_value("brief");
	a.mutable_create_time()->set_seconds(1767225600);
	return a;
}

size_t count_words(const std::string &s)
{
	size_t n = 0;
	bool in = false;
	for (unsigned char c : s) {
		bool sp = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
		if (!sp && !in)
			n++;
		in = !sp;
	}
	return n;
}

class Service final : public agents::v1::AgentService::CallbackService {
public:
	Service() : seed_(make_seed()) {}

	grpc::ServerUnaryReactor *GetAgent(grpc::CallbackServerContext *ctx,
					   const agents::v1::GetAgentRequest *req,
					   Agent *resp) override
	{
		auto *r = ctx->DefaultReactor();
		if (req->agent_id() != seed_.id() || (!req->team().empty() && req->team() != seed_.team())) {
			r->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
					       "agent '" + req->agent_id() + "' not found"));
			return r;
		}
		*resp = seed_;
		r->Finish(grpc::Status::OK);
		return r;
	}

	grpc::ServerUnaryReactor *ExecuteAgent(grpc::CallbackServerContext *ctx,
					       const agents::v1::ExecuteAgentRequest *req,
					       Execution *resp) override
	{
		auto *r = ctx->DefaultReactor();
		if (req->agent_id() != seed_.id()) {
			r->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
					       "agent '" + req->agent_id() + "' not found"));
			return r;
		}
		auto now = std::chrono::system_clock::now().time_since_epoch();
		int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
		char id[32];
		snprintf(id, sizeof id, "exec-%08x", (unsigned)(counter_.fetch_add(1) * 2654435761u));
		size_t words = count_words(req->input());
		resp->set_id(id);
		resp->set_agent_id(seed_.id());
		resp->set_status(agents::v1::AGENT_STATUS_READY);
		resp->set_tokens_used((int64_t)words * 3);
		auto *f = resp->mutable_output()->mutable_struct_value()->mutable_fields();
		(*f)["summary"].set_string_value(req->input().substr(0, 60));
		(*f)["words"].set_number_value((double)words);
		resp->mutable_start_time()->set_seconds(ns / 1000000000);
		resp->mutable_start_time()->set_nanos((int32_t)(ns % 1000000000));
		resp->mutable_elapsed()->set_nanos(178814);
		r->Finish(grpc::Status::OK);
		return r;
	}

private:
	const Agent seed_;
	std::atomic<uint32_t> counter_{1};
};

} // namespace

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--port P]\n", argv[0]);
			return 2;
		}
	}
	// Block the stop signals in every thread gRPC will start; main sigwait()s.
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);

	Service service;
	grpc::ServerBuilder builder;
	int bound = 0;
	builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
				 grpc::InsecureServerCredentials(), &bound);
	builder.RegisterService(&service);
	std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
	if (!server || bound == 0) {
		fprintf(stderr, "fast_backend: cannot listen on port %d\n", port);
		return 1;
	}
	printf("READY %d\n", bound);
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
	return 0;
}

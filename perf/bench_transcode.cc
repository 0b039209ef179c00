// bench_transcode.cc - JSON <-> protobuf transcoding alone: ringgate's transcoder
// (grpc/pb_json.h over a pb_schema loaded from a FileDescriptorSet) vs libprotobuf's
// C++ JSON utilities over the same descriptor set (no generated code):
//
//   ringgate            pb_json_to_proto (JSON -> wire)  /  pb_proto_to_json (wire -> JSON)
//   libprotobuf-msg     JsonStringToMessage + SerializeToString  /
//                       ParseFromString + MessageToJsonString      (DynamicMessageFactory)
//   libprotobuf-stream  JsonToBinaryString  /  BinaryToJsonString  (one TypeResolver for
//                       the whole run: JSON <-> wire without message objects, as Envoy's
//                       transcoder does)
//
// Every implementation goes between the same JSON text and the same wire bytes, so
// the contract is the gateway's: JSON text in, wire bytes out, and back. Output
// buffers (pb_buf, std::string) and the DynamicMessage are reused across
// iterations, as a server would.
//
//   bench_transcode --descriptors agents.pb [--cpu N] [--reps 5] [--batch-ms 20]
//                   [--batches 15] [--dump DIR] [--impl NAME] [--direction D] CASE...
//   CASE = name:full.message.Type:file.json
//
// Before timing, every case is checked: ringgate's wire bytes must parse (with
// libprotobuf) to a message equal to libprotobuf's parse of the same JSON, and
// ringgate's JSON of the wire bytes must parse back to an equal message. With
// --dump, both implementations' JSON outputs are written to DIR for a semantic
// comparison by the caller (perf/bench_transcode.py).
//
// Timing: per (case, direction, implementation), a batch of N iterations is sized
// to take about --batch-ms; a repetition runs --batches batches and keeps the median
// batch; the figure is the best (lowest) median of --reps repetitions. Implementations
// are interleaved within each repetition (A B C A B C ...). Output: one JSON object per
// line on stdout.
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

extern "C" {
#include "grpc/pb_json.h"
#include "grpc/pb_schema.h"
}

namespace gp = google::protobuf;
namespace gpu = google::protobuf::util;

static const char *kTypeUrlPrefix = "type.googleapis.com";

static double now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static std::string read_file(const std::string &path)
{
	std::ifstream f(path, std::ios::binary);
	if (!f) {
		fprintf(stderr, "cannot read %s\n", path.c_str());
		exit(2);
	}
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

static void write_file(const std::string &path, const std::string &data)
{
	std::ofstream f(path, std::ios::binary);
	f << data;
}

static void die(const std::string &msg)
{
	fprintf(stderr, "bench_transcode: %s\n", msg.c_str());
	exit(1);
}

// A sink the optimiser cannot see through.
static volatile size_t g_sink;

struct Case {
	std::string name, type, file, json, wire;
	const pb_message *rg_msg = nullptr;
	const gp::Descriptor *desc = nullptr;
	const gp::Message *proto = nullptr;
};

struct Impl {
	std::string name;
	std::function<void()> to_proto; // one JSON -> wire conversion
	std::function<void()> to_json;  // one wire -> JSON conversion
};

int main(int argc, char **argv)
{
	std::string descriptors, dump, only_impl, only_dir;
	int cpu = -1, reps = 5, batches = 15;
	double batch_ms = 20;
	std::vector<Case> cases;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc)
				die("missing value after " + a);
			return argv[++i];
		};
		if (a == "--descriptors")
			descriptors = next();
		else if (a == "--cpu")
			cpu = atoi(next().c_str());
		else if (a == "--reps")
			reps = atoi(next().c_str());
		else if (a == "--batches")
			batches = atoi(next().c_str());
		else if (a == "--batch-ms")
			batch_ms = atof(next().c_str());
		else if (a == "--dump")
			dump = next();
		else if (a == "--impl") // time only this implementation (for profiling)
			only_impl = next();
		else if (a == "--direction") // json_to_proto or proto_to_json only
			only_dir = next();
		else if (a.rfind("--", 0) == 0)
			die("unknown option " + a);
		else {
			size_t c1 = a.find(':'), c2 = a.find(':', c1 + 1);
			if (c1 == std::string::npos || c2 == std::string::npos)
				die("case must be name:type:file, got " + a);
			Case c;
			c.name = a.substr(0, c1);
			c.type = a.substr(c1 + 1, c2 - c1 - 1);
			c.file = a.substr(c2 + 1);
			c.json = read_file(c.file);
			while (!c.json.empty() && (c.json.back() == '\n' || c.json.back() == ' '))
				c.json.pop_back();
			cases.push_back(c);
		}
	}
	if (descriptors.empty() || cases.empty())
		die("usage: bench_transcode --descriptors FILE.pb [--cpu N] [--reps N] "
		    "[--batches N] [--batch-ms MS] [--dump DIR] name:type:file.json...");

	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0)
			die("sched_setaffinity: " + std::string(strerror(errno)));
	}

	// ---- ringgate's schema
	pb_schema *schema = nullptr;
	char err[512];
	const char *files[] = {descriptors.c_str()};
	if (pb_schema_load(&schema, files, 1, err, sizeof err) != 0)
		die(std::string("pb_schema_load: ") + err);

	// ---- libprotobuf's pool over the same set
	gp::FileDescriptorSet fds;
	{
		std::string raw = read_file(descriptors);
		if (!fds.ParseFromString(raw))
			die("cannot parse " + descriptors);
	}
	gp::DescriptorPool pool;
	for (const auto &f : fds.file())
		if (!pool.BuildFile(f))
			die("DescriptorPool::BuildFile failed for " + f.name());
	gp::DynamicMessageFactory factory(&pool);
	std::unique_ptr<gpu::TypeResolver> resolver(
		gpu::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, &pool));

	gpu::JsonParseOptions jpo; // defaults: unknown fields are errors
	gpu::JsonPrintOptions jpr; // defaults: compact, camelCase, no defaults

	pb_json_parse_opts rpo = {};
	pb_json_print_opts rpr = {};

	// ---- prepare and check every case
	for (auto &c : cases) {
		c.rg_msg = pb_schema_message(schema, c.type.c_str());
		c.desc = pool.FindMessageTypeByName(c.type);
		if (!c.rg_msg || !c.desc)
			die("type " + c.type + " not found");
		c.proto = factory.GetPrototype(c.desc);

		std::unique_ptr<gp::Message> ref(c.proto->New());
		auto st = gpu::JsonStringToMessage(c.json, ref.get(), jpo);
		if (!st.ok())
			die(c.name + ": libprotobuf rejects the JSON: " + st.ToString());
		if (!ref->SerializeToString(&c.wire))
			die(c.name + ": SerializeToString");

		// ringgate JSON -> wire, parsed back by libprotobuf, must equal ref.
		pb_buf out = {};
		pb_json_error e = {};
		int rc = pb_json_to_proto_ex(schema, c.rg_msg, c.json.data(), c.json.size(), &rpo,
					     &out, &e);
		if (rc != 0)
			die(c.name + ": pb_json_to_proto failed (" + std::to_string(rc) + "): " +
			    e.path + ": " + e.message + " at " + std::to_string(e.offset));
		std::unique_ptr<gp::Message> back(c.proto->New());
		if (!back->ParseFromArray(out.data, (int)out.len))
			die(c.name + ": ringgate's wire bytes do not parse with libprotobuf");
		std::string diff;
		gpu::MessageDifferencer md;
		md.ReportDifferencesToString(&diff);
		if (!md.Compare(*ref, *back))
			die(c.name + ": ringgate's JSON -> wire differs from libprotobuf's:\n" + diff);

		// ringgate wire -> JSON, parsed back by libprotobuf, must equal ref.
		out.len = 0;
		rc = pb_proto_to_json(schema, c.rg_msg, (const uint8_t *)c.wire.data(), c.wire.size(),
				      &rpr, &out, &e);
		if (rc != 0)
			die(c.name + ": pb_proto_to_json failed (" + std::to_string(rc) + "): " +
			    e.path + ": " + e.message);
		std::string rg_json((const char *)out.data, out.len);
		std::unique_ptr<gp::Message> back2(c.proto->New());
		st = gpu::JsonStringToMessage(rg_json, back2.get(), jpo);
		if (!st.ok())
			die(c.name + ": ringgate's JSON does not parse with libprotobuf: " +
			    st.ToString() + "\n" + rg_json);
		diff.clear();
		gpu::MessageDifferencer md2;
		md2.ReportDifferencesToString(&diff);
		if (!md2.Compare(*ref, *back2))
			die(c.name + ": ringgate's wire -> JSON differs:\n" + diff);
		if (!dump.empty()) {
			std::string lp_json;
			gpu::MessageToJsonString(*ref, &lp_json, jpr);
			write_file(dump + "/" + c.name + ".ringgate.json", rg_json);
			write_file(dump + "/" + c.name + ".libprotobuf.json", lp_json);
		}
		pb_buf_free(&out);
		fprintf(stderr, "%s: %s, JSON %zu bytes, wire %zu bytes, checked\n", c.name.c_str(),
			c.type.c_str(), c.json.size(), c.wire.size());
	}

	// ---- timing (--reps 0: check and dump only)
	if (reps <= 0) {
		pb_schema_free(schema);
		return 0;
	}
	for (auto &c : cases) {
		// State reused across iterations.
		pb_buf rg_out = {};
		pb_json_error rg_err = {};
		std::unique_ptr<gp::Message> msg(c.proto->New());
		std::string s_out;
		const std::string type_url = std::string(kTypeUrlPrefix) + "/" + c.type;

		std::vector<Impl> all_impls = {
			{"ringgate",
			 [&] {
				 rg_out.len = 0;
				 if (pb_json_to_proto_ex(schema, c.rg_msg, c.json.data(), c.json.size(),
							 &rpo, &rg_out, &rg_err) != 0)
					 die("pb_json_to_proto failed while timing");
				 g_sink = rg_out.len;
			 },
			 [&] {
				 rg_out.len = 0;
				 if (pb_proto_to_json(schema, c.rg_msg, (const uint8_t *)c.wire.data(),
						      c.wire.size(), &rpr, &rg_out, &rg_err) != 0)
					 die("pb_proto_to_json failed while timing");
				 g_sink = rg_out.len;
			 }},
			{"libprotobuf-msg",
			 [&] {
				 msg->Clear();
				 if (!gpu::JsonStringToMessage(c.json, msg.get(), jpo).ok())
					 die("JsonStringToMessage failed while timing");
				 s_out.clear();
				 msg->SerializeToString(&s_out);
				 g_sink = s_out.size();
			 },
			 [&] {
				 msg->Clear();
				 if (!msg->ParseFromString(c.wire))
					 die("ParseFromString failed while timing");
				 s_out.clear();
				 if (!gpu::MessageToJsonString(*msg, &s_out, jpr).ok())
					 die("MessageToJsonString failed while timing");
				 g_sink = s_out.size();
			 }},
			{"libprotobuf-stream",
			 [&] {
				 s_out.clear();
				 if (!gpu::JsonToBinaryString(resolver.get(), type_url, c.json, &s_out, jpo)
					      .ok())
					 die("JsonToBinaryString failed while timing");
				 g_sink = s_out.size();
			 },
			 [&] {
				 s_out.clear();
				 if (!gpu::BinaryToJsonString(resolver.get(), type_url, c.wire, &s_out, jpr)
					      .ok())
					 die("BinaryToJsonString failed while timing");
				 g_sink = s_out.size();
			 }},
		};

		std::vector<Impl> impls;
		for (auto &im : all_impls)
			if (only_impl.empty() || only_impl == im.name)
				impls.push_back(im);
		for (int dir = 0; dir < 2; dir++) {
			const char *dname = dir == 0 ? "json_to_proto" : "proto_to_json";
			if (!only_dir.empty() && only_dir != dname)
				continue;
			// Size each implementation's batch to about batch_ms (after a warm-up).
			std::vector<long> iters(impls.size());
			for (size_t k = 0; k < impls.size(); k++) {
				auto &fn = dir == 0 ? impls[k].to_proto : impls[k].to_json;
				for (int w = 0; w < 50; w++)
					fn();
				long n = 16;
				for (;;) {
					double t0 = now_ns();
					for (long j = 0; j < n; j++)
						fn();
					double dt = now_ns() - t0;
					if (dt >= batch_ms * 1e6 / 4 || n >= (1L << 30)) {
						iters[k] = std::max(1L, (long)(n * batch_ms * 1e6 / dt));
						break;
					}
					n *= 4;
				}
			}
			std::vector<std::vector<double>> medians(impls.size());
			for (int r = 0; r < reps; r++) {
				for (size_t k = 0; k < impls.size(); k++) {
					auto &fn = dir == 0 ? impls[k].to_proto : impls[k].to_json;
					std::vector<double> per;
					for (int b = 0; b < batches; b++) {
						double t0 = now_ns();
						for (long j = 0; j < iters[k]; j++)
							fn();
						per.push_back((now_ns() - t0) / iters[k]);
					}
					std::sort(per.begin(), per.end());
					medians[k].push_back(per[per.size() / 2]);
				}
			}
			for (size_t k = 0; k < impls.size(); k++) {
				double best = *std::min_element(medians[k].begin(), medians[k].end());
				double worst = *std::max_element(medians[k].begin(), medians[k].end());
				printf("{\"case\":\"%s\",\"type\":\"%s\",\"direction\":\"%s\",\"impl\":\"%s\","
				       "\"json_bytes\":%zu,\"wire_bytes\":%zu,\"ns_per_msg\":%.1f,"
				       "\"ns_per_msg_worst_rep\":%.1f,\"mb_per_s\":%.2f,\"iters_per_batch\":%ld,"
				       "\"batches\":%d,\"reps\":%d,\"cpu\":%d}\n",
				       c.name.c_str(), c.type.c_str(), dname, impls[k].name.c_str(),
				       c.json.size(), c.wire.size(), best, worst,
				       c.json.size() / best * 1e9 / 1e6, iters[k], batches, reps, cpu);
				fflush(stdout);
			}
		}
		pb_buf_free(&rg_out);
	}
	pb_schema_free(schema);
	return 0;
}

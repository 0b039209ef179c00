/*
 * config.c - command-line parsing and validation.
 *
 * Every rejected value produces one line naming the option, the value and
 * what was expected, and the caller exits 2.
 */
#include "gateway/config.h"
#include "gateway/config_yaml.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: ringgate [OPTIONS]\n"
	"\n"
	"REST/JSON-to-gRPC gateway: one pinned io_uring worker per core.\n"
	"\n"
	"Options:\n"
	"  --config FILE            YAML configuration (examples/ringgate.yaml documents every "
	"key);\n"
	"                           options given on the command line override the file\n"
	"  --listen HOST:PORT       address to serve HTTP on (repeatable; default 0.0.0.0:8080;\n"
	"                           port 0 picks a free port, logged at start)\n"
	"  --workers N              worker threads (default: one per CPU we may run on)\n"
	"  --cpus LIST              CPUs to pin workers to, e.g. 0-3,6 (default: the affinity "
	"mask)\n"
	"  --descriptors FILE[,FILE] FileDescriptorSet files (protoc --include_imports\n"
	"                           --descriptor_set_out): serve their google.api.http routes\n"
	"  --upstream HOST:PORT[,HOST:PORT]  the gRPC backend for every service\n"
	"  --static PATH=FILE       answer GET/HEAD PATH with FILE's bytes (repeatable)\n"
	"  --max-connections N      open client connections, whole process (default 65536)\n"
	"  --idle-timeout SEC       keep-alive idle timeout (default 60)\n"
	"  --header-timeout SEC     time allowed for a whole request head (default 10)\n"
	"  --body-timeout SEC       time allowed without request-body progress (default 30)\n"
	"  --send-timeout SEC       time allowed without the client reading (default 30)\n"
	"  --max-body BYTES         largest request body (default 1048576)\n"
	"  --max-header-bytes BYTES largest request head (default 16384)\n"
	"  --max-headers N          most header fields (default 100)\n"
	"  --drain-timeout SEC      on SIGTERM, how long in-flight requests may finish (default "
	"30)\n"
	"  --buffers N              receive buffers per worker, a power of two (default 2048)\n"
	"  --buffer-size BYTES      bytes per receive buffer (default 8192)\n"
	"  --batch-wait USEC        under load, the longest a worker's wait may gather\n"
	"                           completions into one pass: 6 us per busy connection,\n"
	"                           at least 100 (0: never; default 300)\n"
	"  --tls-cert FILE          serve HTTPS: PEM certificate chain, leaf first (with\n"
	"                           --tls-key); applies to every listener without its own\n"
	"                           tls section in the config file\n"
	"  --tls-key FILE           PEM private key of --tls-cert (RSA or ECDSA)\n"
	"  --tls-min-version V      1.2 or 1.3 (default 1.2)\n"
	"  --tls-client-ca FILE     require client certificates signed by this CA bundle\n"
	"  --tls-handshake-timeout SEC  time allowed for a TLS handshake (default 10;\n"
	"                           fractions allowed: 0.5)\n"
	"  --log-level LEVEL        debug, info, warn or error (default info)\n"
	"  --check                  validate the configuration and exit\n"
	"  --version                print the version and exit\n"
	"  --help                   print this help and exit\n"
	"\n"
	"Exit status: 0 clean shutdown, 1 runtime failure, 2 bad configuration or arguments.\n";

enum {
	OPT_CONFIG = 255,
	OPT_LISTEN = 256,
	OPT_DESCRIPTORS,
	OPT_UPSTREAM,
	OPT_WORKERS,
	OPT_CPUS,
	OPT_STATIC,
	OPT_MAXCONN,
	OPT_IDLE,
	OPT_HEADER_TO,
	OPT_BODY_TO,
	OPT_SEND_TO,
	OPT_MAX_BODY,
	OPT_MAX_HEADER_BYTES,
	OPT_MAX_HEADERS,
	OPT_DRAIN,
	OPT_BUFFERS,
	OPT_BUFSIZE,
	OPT_BATCHWAIT,
	OPT_LOGLEVEL,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_MIN,
	OPT_TLS_CLIENT_CA,
	OPT_TLS_HS_TIMEOUT,
	OPT_CHECK,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"descriptors", required_argument, NULL, OPT_DESCRIPTORS},
	{"upstream", required_argument, NULL, OPT_UPSTREAM},
	{"workers", required_argument, NULL, OPT_WORKERS},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"static", required_argument, NULL, OPT_STATIC},
	{"max-connections", required_argument, NULL, OPT_MAXCONN},
	{"idle-timeout", required_argument, NULL, OPT_IDLE},
	{"header-timeout", required_argument, NULL, OPT_HEADER_TO},
	{"body-timeout", required_argument, NULL, OPT_BODY_TO},
	{"send-timeout", required_argument, NULL, OPT_SEND_TO},
	{"max-body", required_argument, NULL, OPT_MAX_BODY},
	{"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
	{"max-headers", required_argument, NULL, OPT_MAX_HEADERS},
	{"drain-timeout", required_argument, NULL, OPT_DRAIN},
	{"buffers", required_argument, NULL, OPT_BUFFERS},
	{"buffer-size", required_argument, NULL, OPT_BUFSIZE},
	{"batch-wait", required_argument, NULL, OPT_BATCHWAIT},
	{"log-level", required_argument, NULL, OPT_LOGLEVEL},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"tls-min-version", required_argument, NULL, OPT_TLS_MIN},
	{"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
	{"tls-handshake-timeout", required_argument, NULL, OPT_TLS_HS_TIMEOUT},
	{"check", no_argument, NULL, OPT_CHECK},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static void bad(const char *opt, const char *value, const char *expected)
{
	fprintf(stderr, "ringgate: --%s '%s': %s (see --help)\n", opt, value, expected);
}

/* A decimal number in [lo, hi]; the whole string must be digits. */
static int parse_num(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
		     unsigned long long *out)
{
	char expected[96];
	snprintf(expected, sizeof(expected), "expected a whole number from %llu to %llu", lo, hi);
	if (!*s || strspn(s, "0123456789") != strlen(s)) {
		bad(opt, s, expected);
		return -1;
	}
	errno = 0;
	unsigned long long v = strtoull(s, NULL, 10);
	if (errno || v < lo || v > hi) {
		bad(opt, s, expected);
		return -1;
	}
	*out = v;
	return 0;
}

/* "0-3,6" -> cpus[], in order, no duplicates. */
static int parse_cpus(struct gw_config *cfg, const char *s)
{
	const char *p = s;
	cfg->ncpus = 0;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			goto fail;
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				goto fail;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (a > b || b >= CPU_SETSIZE)
			goto fail;
		for (long i = a; i <= b; i++) {
			for (unsigned k = 0; k < cfg->ncpus; k++)
				if (cfg->cpus[k] == i)
					goto fail;
			if (cfg->ncpus == GW_MAX_WORKERS)
				goto fail;
			cfg->cpus[cfg->ncpus++] = (int)i;
		}
		if (*p == ',')
			p++;
		else if (*p)
			goto fail;
	}
	if (cfg->ncpus)
		return 0;
fail:
	bad("cpus", s, "expected a CPU list like 0-3,6 (no repeats)");
	return -1;
}

static const char *content_type_for(const char *file)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".json", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
		{".html", "text/html; charset=utf-8"},
		{".yaml", "application/yaml"},
	};
	const char *dot = strrchr(file, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static int parse_static(struct gw_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || arg[0] != '/' || eq[1] == '\0') {
		bad("static", arg, "expected PATH=FILE with PATH starting with /");
		return -1;
	}
	if (cfg->nstatics == GW_MAX_STATIC) {
		bad("static", arg, "too many static routes");
		return -1;
	}
	struct gw_static_route *r = &cfg->statics[cfg->nstatics];
	r->path = strndup(arg, (size_t)(eq - arg));
	r->file = strdup(eq + 1);
	if (!r->path || !r->file) {
		free(r->path);
		free(r->file);
		bad("static", arg, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < cfg->nstatics; i++) {
		if (strcmp(cfg->statics[i].path, r->path) == 0) {
			bad("static", arg, "this path is already routed");
			free(r->path);
			free(r->file);
			return -1;
		}
	}
	if (strcmp(r->path, "/healthz") == 0 || strcmp(r->path, "/metrics") == 0) {
		bad("static", arg, "this path is reserved for the admin endpoints");
		free(r->path);
		free(r->file);
		return -1;
	}
	r->content_type = content_type_for(r->file);
	cfg->nstatics++;
	return 0;
}

void gw_tls_server_config_init(struct tls_server_config *t)
{
	memset(t, 0, sizeof(*t));
	t->min_version = 12;
	t->client_auth = TLS_CLIENT_AUTH_NONE;
	t->handshake_timeout_ms = TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	t->session_tickets = true;
	t->ticket_rotation_s = TLS_DEFAULT_TICKET_ROTATION_S;
}

void gw_tls_server_config_free(struct tls_server_config *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->ncerts; i++) {
		free(t->certs[i].cert);
		free(t->certs[i].key);
		for (unsigned j = 0; j < t->certs[i].nnames; j++)
			free(t->certs[i].names[j]);
	}
	free(t->ciphers);
	free(t->groups);
	free(t->client_ca);
	free(t);
}

void gw_tls_client_config_init(struct tls_client_config *t)
{
	memset(t, 0, sizeof(*t));
	t->verify = true;
	t->min_version = 12;
	t->handshake_timeout_ms = TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
}

void gw_tls_client_config_free(struct tls_client_config *t)
{
	if (!t)
		return;
	free(t->ca);
	free(t->server_name);
	free(t->cert);
	free(t->key);
	free(t->ciphers);
	free(t->groups);
	free(t);
}

void gw_config_clear_listen_tls(struct gw_config *cfg)
{
	for (unsigned i = 0; i < GW_MAX_LISTENERS; i++) {
		if (cfg->listen_tls[i] != cfg->cli_tls)
			gw_tls_server_config_free(cfg->listen_tls[i]);
		cfg->listen_tls[i] = NULL;
	}
}

/* The settings --tls-* options fill, made on first use. */
static struct tls_server_config *cli_tls(struct gw_config *cfg)
{
	if (!cfg->cli_tls) {
		cfg->cli_tls = malloc(sizeof(*cfg->cli_tls));
		if (!cfg->cli_tls) {
			fprintf(stderr, "ringgate: out of memory\n");
			exit(1);
		}
		gw_tls_server_config_init(cfg->cli_tls);
		cfg->cli_tls->ncerts = 1;
	}
	return cfg->cli_tls;
}

static int set_cli_string(char **dst, const char *value)
{
	free(*dst);
	*dst = strdup(value);
	return *dst ? 0 : -1;
}

/* Seconds, with an optional fraction ("0.5"), in (0, 3600]. */
static int parse_seconds(const char *opt, const char *s, uint32_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 3600) {
		bad(opt, s, "expected seconds, more than 0 and at most 3600 (e.g. 10 or 0.5)");
		return -1;
	}
	*ms = (uint32_t)(v * 1000 + 0.5);
	if (*ms == 0)
		*ms = 1;
	return 0;
}

static void config_defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = GW_LOG_INFO;
	cfg->max_connections = 65536;
	cfg->drain_timeout_ms = 30000;
	/* 16 MiB of receive buffers per worker.  The kernel cycles through
	 * the whole pool, so all of it becomes resident: size it for the
	 * burst, not for the connection count (data waits in the socket). */
	cfg->buf_count = 2048;
	cfg->buf_size = 8192;
	cfg->sq_entries = 1024;
	cfg->batch_wait_us = 300; /* RING_BATCH_WAIT_US */
	cfg->http = h1_server_config_default;
	cfg->annotated_routes = true;
	cfg->default_timeout_ms = 30000;
	cfg->max_timeout_ms = 300000;
	cfg->max_response_bytes = 16u << 20;
	cfg->timeout_header = strdup("x-request-timeout");
	/* Trace context and credentials are what backends need by default;
	 * anything else is the operator's choice (headers.forward). */
	static const char *const forward[] = {"authorization", "traceparent", "tracestate"};
	for (size_t i = 0; i < sizeof(forward) / sizeof(forward[0]); i++)
		cfg->forward_headers[cfg->nforward_headers++] = strdup(forward[i]);
}

static int add_descriptors(struct gw_config *cfg, const char *list)
{
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || cfg->ndescriptors == GW_MAX_DESCRIPTORS) {
			bad("descriptors", list, "expected FILE[,FILE...]");
			return -1;
		}
		cfg->descriptors[cfg->ndescriptors++] = strndup(p, len);
		p = comma ? comma + 1 : p + len;
	}
	return 0;
}

/* The quick start's single upstream, serving every service. */
static int add_quick_upstream(struct gw_config *cfg, const char *list)
{
	if (cfg->nupstreams) {
		bad("upstream", list, "given twice; list several endpoints with commas");
		return -1;
	}
	struct upstream_config *u = malloc(sizeof(*u));
	if (!u) {
		bad("upstream", list, "out of memory");
		return -1;
	}
	upstream_config_init(u, "default");
	char err[256];
	if (upstream_config_add_endpoints(u, list, err, sizeof(err)) < 0) {
		free(u);
		bad("upstream", list, err);
		return -1;
	}
	cfg->upstreams[cfg->nupstreams++] = u;
	return 0;
}

/* The file first, so that options on the command line override it. */
static enum gw_cli_result load_config_file(struct gw_config *cfg, int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if (!path)
		return GW_CLI_RUN;
	char err[1024];
	if (gw_config_load_yaml(cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringgate: %s\n", err);
		return GW_CLI_EXIT_BAD;
	}
	cfg->config_file = path;
	return GW_CLI_RUN;
}

enum gw_cli_result gw_config_from_args(struct gw_config *cfg, int argc, char **argv)
{
	config_defaults(cfg);
	if (load_config_file(cfg, argc, argv) != GW_CLI_RUN)
		return GW_CLI_EXIT_BAD;
	bool cli_listen = false;
	unsigned long long v;
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG: break; /* loaded above */
		case OPT_LISTEN:
			if (!cli_listen) {
				/* Listen addresses on the command line replace the file's. */
				cli_listen = true;
				for (unsigned i = 0; i < cfg->nlisten; i++)
					if (cfg->listen_heap & (1u << i))
						free((char *)cfg->listen[i]);
				cfg->listen_heap = 0;
				cfg->nlisten = 0;
				gw_config_clear_listen_tls(cfg);
			}
			if (cfg->nlisten == GW_MAX_LISTENERS) {
				bad("listen", optarg, "too many listen addresses");
				return GW_CLI_EXIT_BAD;
			}
			cfg->listen[cfg->nlisten++] = optarg;
			break;
		case OPT_DESCRIPTORS:
			if (add_descriptors(cfg, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_UPSTREAM:
			if (add_quick_upstream(cfg, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_WORKERS:
			if (parse_num("workers", optarg, 1, GW_MAX_WORKERS, &v))
				return GW_CLI_EXIT_BAD;
			cfg->workers = (unsigned)v;
			break;
		case OPT_CPUS:
			if (parse_cpus(cfg, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_STATIC:
			if (parse_static(cfg, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_MAXCONN:
			if (parse_num("max-connections", optarg, 1, 10000000, &v))
				return GW_CLI_EXIT_BAD;
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_IDLE:
			if (parse_num("idle-timeout", optarg, 1, 86400, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.idle_timeout_ms = (uint32_t)(v * 1000);
			break;
		case OPT_HEADER_TO:
			if (parse_num("header-timeout", optarg, 1, 3600, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.header_timeout_ms = (uint32_t)(v * 1000);
			break;
		case OPT_BODY_TO:
			if (parse_num("body-timeout", optarg, 1, 3600, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.body_timeout_ms = (uint32_t)(v * 1000);
			break;
		case OPT_SEND_TO:
			if (parse_num("send-timeout", optarg, 1, 3600, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.send_timeout_ms = (uint32_t)(v * 1000);
			break;
		case OPT_MAX_BODY:
			if (parse_num("max-body", optarg, 0, 1ull << 30, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.limits.max_body = v;
			break;
		case OPT_MAX_HEADER_BYTES:
			if (parse_num("max-header-bytes", optarg, 256, 1u << 20, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.limits.max_header_bytes = (size_t)v;
			if (cfg->http.limits.max_request_line > v)
				cfg->http.limits.max_request_line = (size_t)v;
			break;
		case OPT_MAX_HEADERS:
			if (parse_num("max-headers", optarg, 1, 256, &v))
				return GW_CLI_EXIT_BAD;
			cfg->http.limits.max_headers = (unsigned)v;
			break;
		case OPT_DRAIN:
			if (parse_num("drain-timeout", optarg, 0, 3600, &v))
				return GW_CLI_EXIT_BAD;
			cfg->drain_timeout_ms = (unsigned)(v * 1000);
			break;
		case OPT_BUFFERS:
			if (parse_num("buffers", optarg, 16, 32768, &v))
				return GW_CLI_EXIT_BAD;
			if (v & (v - 1)) {
				bad("buffers", optarg, "expected a power of two from 16 to 32768");
				return GW_CLI_EXIT_BAD;
			}
			cfg->buf_count = (unsigned)v;
			break;
		case OPT_BATCHWAIT:
			if (parse_num("batch-wait", optarg, 0, 10000, &v))
				return GW_CLI_EXIT_BAD;
			cfg->batch_wait_us = (unsigned)v;
			break;
		case OPT_BUFSIZE:
			if (parse_num("buffer-size", optarg, 1024, 1u << 20, &v))
				return GW_CLI_EXIT_BAD;
			cfg->buf_size = (unsigned)v;
			break;
		case OPT_LOGLEVEL:
			if (gw_log_level_parse(optarg, &cfg->log_level)) {
				bad("log-level", optarg, "expected debug, info, warn or error");
				return GW_CLI_EXIT_BAD;
			}
			break;
		case OPT_TLS_CERT:
			if (set_cli_string(&cli_tls(cfg)->certs[0].cert, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_TLS_KEY:
			if (set_cli_string(&cli_tls(cfg)->certs[0].key, optarg))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_TLS_MIN:
			if (strcmp(optarg, "1.2") && strcmp(optarg, "1.3")) {
				bad("tls-min-version", optarg, "expected 1.2 or 1.3");
				return GW_CLI_EXIT_BAD;
			}
			cli_tls(cfg)->min_version = optarg[2] == '3' ? 13 : 12;
			break;
		case OPT_TLS_CLIENT_CA:
			if (set_cli_string(&cli_tls(cfg)->client_ca, optarg))
				return GW_CLI_EXIT_BAD;
			cli_tls(cfg)->client_auth = TLS_CLIENT_AUTH_REQUIRE;
			break;
		case OPT_TLS_HS_TIMEOUT:
			if (parse_seconds("tls-handshake-timeout", optarg,
					  &cli_tls(cfg)->handshake_timeout_ms))
				return GW_CLI_EXIT_BAD;
			break;
		case OPT_CHECK: cfg->check_only = true; break;
		case OPT_VERSION: printf("ringgate %s\n", RINGGATE_VERSION); return GW_CLI_EXIT_OK;
		case OPT_HELP: fputs(usage_text, stdout); return GW_CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "ringgate: option '%s' needs a value (see --help)\n",
				argv[optind - 1]);
			return GW_CLI_EXIT_BAD;
		default:
			fprintf(stderr, "ringgate: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return GW_CLI_EXIT_BAD;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringgate: unexpected argument '%s' (see --help)\n", argv[optind]);
		return GW_CLI_EXIT_BAD;
	}
	if (cfg->nlisten == 0)
		cfg->listen[cfg->nlisten++] = "0.0.0.0:8080";
	if (cfg->cli_tls) {
		const struct tls_cert_config *cc = &cfg->cli_tls->certs[0];
		if (!cc->cert || !cc->key) {
			fprintf(stderr, "ringgate: --%s needs --%s too (see --help)\n",
				cc->cert  ? "tls-cert"
				: cc->key ? "tls-key"
					  : "tls-*",
				cc->cert ? "tls-key" : "tls-cert");
			return GW_CLI_EXIT_BAD;
		}
		for (unsigned i = 0; i < cfg->nlisten; i++)
			if (!cfg->listen_tls[i])
				cfg->listen_tls[i] = cfg->cli_tls;
	}
	return GW_CLI_RUN;
}

int gw_config_finish(struct gw_config *cfg)
{
	if (cfg->ncpus == 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		if (sched_getaffinity(0, sizeof(set), &set) < 0) {
			perror("ringgate: sched_getaffinity");
			return -1;
		}
		for (int i = 0; i < CPU_SETSIZE && cfg->ncpus < GW_MAX_WORKERS; i++)
			if (CPU_ISSET(i, &set))
				cfg->cpus[cfg->ncpus++] = i;
	} else {
		long online = sysconf(_SC_NPROCESSORS_CONF);
		for (unsigned i = 0; i < cfg->ncpus; i++) {
			if (online > 0 && cfg->cpus[i] >= online) {
				fprintf(stderr,
					"ringgate: --cpus: CPU %d does not exist (this machine has "
					"%ld)\n",
					cfg->cpus[i], online);
				return -1;
			}
		}
	}
	if (cfg->workers == 0)
		cfg->workers = cfg->ncpus ? cfg->ncpus : 1;
	if (cfg->http.limits.max_request_line > cfg->http.limits.max_header_bytes)
		cfg->http.limits.max_request_line = cfg->http.limits.max_header_bytes;
	for (unsigned i = 0; i < cfg->nupstreams; i++)
		if (!cfg->upstreams[i]->default_timeout_ms)
			cfg->upstreams[i]->default_timeout_ms = cfg->default_timeout_ms;
	for (unsigned i = 0; i < cfg->nupstreams; i++) {
		struct tls_client_config *t = cfg->upstream_tls[i];
		if (!t || t->server_name)
			continue;
		/* The name to verify is the authority's host: "[::1]:443" -> "::1". */
		const char *a = cfg->upstreams[i]->authority;
		const char *end = strrchr(a, ':');
		if (a[0] == '[') {
			a++;
			end = strchr(a, ']');
		}
		t->server_name = strndup(a, end ? (size_t)(end - a) : strlen(a));
		if (!t->server_name) {
			fprintf(stderr, "ringgate: out of memory\n");
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->nstatics; i++)
		if (!cfg->statics[i].content_type)
			cfg->statics[i].content_type = content_type_for(cfg->statics[i].file);
	return 0;
}

void gw_config_free(struct gw_config *cfg)
{
	/* One owner for every heap part, whichever source filled it. */
	gw_config_clear_listen_tls(cfg);
	gw_tls_server_config_free(cfg->cli_tls);
	cfg->cli_tls = NULL;
	gw_config_free_yaml_parts(cfg);
}

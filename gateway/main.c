/*
 * main.c - start-up, signals and shutdown.
 *
 * The main thread does everything that may block (reading files, binding
 * sockets, resolving names) before any worker runs, then only waits for
 * signals: SIGTERM/SIGINT drain the workers (a second one aborts them),
 * SIGHUP re-reads the TLS certificates and keys.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/snapshot.h"
#include "gateway/worker.h"

#define LISTEN_BACKLOG 4096
/* After the drain deadline, how long workers get to close their sockets. */
#define GW_STOP_GRACE_MS 10000u

/* Connections need descriptors; the default soft limit of 1024 would cap
 * a gateway far below its job. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			gw_log(GW_LOG_WARN, "cannot raise the open-file limit: %s",
			       strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		gw_log(GW_LOG_DEBUG, "open-file limit %llu", (unsigned long long)rl.rlim_cur);
}

/* "host:0" -> "host:<port the kernel picked>", so every worker's
 * SO_REUSEPORT socket joins the same port. */
static const char *bound_address(int fd, const char *asked, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return asked;
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	}
	return buf;
}

static int open_listeners(const struct gw_config *cfg, struct worker *workers, unsigned n)
{
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		char resolved[128];
		const char *addr = cfg->listen[l];
		for (unsigned i = 0; i < n; i++) {
			const char *why;
			int fd = ring_listen_tcp(addr, LISTEN_BACKLOG, &why);
			if (fd < 0) {
				fprintf(stderr, "ringgate: --listen %s: %s: %s\n", cfg->listen[l],
					why, strerror(-fd));
				return -1;
			}
			if (i == 0)
				addr = bound_address(fd, addr, resolved, sizeof(resolved));
			workers[i].listen_fds[workers[i].nlisteners++] = fd;
		}
		gw_log(GW_LOG_INFO, "listening on %s (%s, %u workers)", addr,
		       cfg->listen_tls[l] ? "https" : "http", n);
	}
	return 0;
}

static int check_listen_syntax(const struct gw_config *cfg)
{
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		const char *a = cfg->listen[l];
		const char *colon = strrchr(a, ':');
		if (!colon || colon[1] == '\0' ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    atoi(colon + 1) > 65535) {
			fprintf(stderr,
				"ringgate: --listen '%s': expected HOST:PORT (port 0-65535)\n", a);
			return -1;
		}
	}
	return 0;
}

static void tls_log_bridge(int level, const char *msg)
{
	static const enum gw_log_level map[] = {GW_LOG_DEBUG, GW_LOG_INFO, GW_LOG_WARN,
						GW_LOG_ERROR};
	gw_log(map[level < 0 ? 0 : level > 3 ? 3 : level], "%s", msg);
}

static int upstream_secure(void *arg, struct ring_conn *rc, unsigned endpoint)
{
	return tls_client_attach(arg, rc, endpoint);
}

/* Compile every listener's and upstream's TLS settings (reading the
 * files now, so a bad one is a configuration error). */
static int tls_build(struct gw_config *cfg, struct gw_runtime *rt)
{
	char err[512];
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		if (!cfg->listen_tls[l])
			continue;
		/* Listeners sharing the command line's settings share one slot. */
		for (unsigned k = 0; k < l && !rt->tls[l]; k++)
			if (cfg->listen_tls[k] == cfg->listen_tls[l])
				rt->tls[l] = rt->tls[k];
		if (rt->tls[l])
			continue;
		rt->tls[l] = malloc(sizeof(*rt->tls[l]));
		if (!rt->tls[l] ||
		    tls_server_slot_init(rt->tls[l], cfg->listen_tls[l], err, sizeof(err)) < 0) {
			fprintf(stderr, "ringgate: listen %s: tls: %s\n", cfg->listen[l],
				rt->tls[l] ? err : "out of memory");
			free(rt->tls[l]);
			rt->tls[l] = NULL;
			return -1;
		}
	}
	for (unsigned i = 0; i < cfg->nupstreams; i++) {
		if (!cfg->upstream_tls[i])
			continue;
		rt->upstream_tls[i] = tls_client_new(
			cfg->upstream_tls[i], cfg->upstreams[i]->nendpoints, err, sizeof(err));
		if (!rt->upstream_tls[i]) {
			fprintf(stderr, "ringgate: upstream %s: tls: %s\n", cfg->upstreams[i]->name,
				err);
			return -1;
		}
		cfg->upstreams[i]->secure = upstream_secure;
		cfg->upstreams[i]->secure_arg = rt->upstream_tls[i];
	}
	return 0;
}

static void tls_teardown(const struct gw_config *cfg, struct gw_runtime *rt)
{
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		struct tls_server_slot *s = rt->tls[l];
		if (!s)
			continue;
		for (unsigned k = l; k < cfg->nlisten; k++)
			if (rt->tls[k] == s)
				rt->tls[k] = NULL;
		tls_server_slot_destroy(s);
		free(s);
	}
	for (unsigned i = 0; i < cfg->nupstreams; i++) {
		tls_client_free(rt->upstream_tls[i]);
		rt->upstream_tls[i] = NULL;
	}
}

/* SIGHUP: new handshakes use the files as they are now; a file that does
 * not load leaves the previous settings in place. */
static void tls_reload(const struct gw_config *cfg, struct gw_runtime *rt)
{
	char err[512];
	unsigned ok = 0, failed = 0;
	for (unsigned l = 0; l < cfg->nlisten; l++) {
		bool first = rt->tls[l] != NULL;
		for (unsigned k = 0; k < l && first; k++)
			first = rt->tls[k] != rt->tls[l];
		if (!first)
			continue;
		if (tls_server_slot_reload(rt->tls[l], err, sizeof(err)) == 0) {
			ok++;
		} else {
			failed++;
			gw_log(GW_LOG_ERROR,
			       "tls: reload of listen %s failed: %s; keeping the previous "
			       "certificates",
			       cfg->listen[l], err);
		}
	}
	for (unsigned i = 0; i < cfg->nupstreams; i++) {
		if (!rt->upstream_tls[i])
			continue;
		if (tls_client_reload(rt->upstream_tls[i], err, sizeof(err)) == 0) {
			ok++;
		} else {
			failed++;
			gw_log(GW_LOG_ERROR,
			       "tls: reload of upstream %s failed: %s; keeping the previous "
			       "settings",
			       cfg->upstreams[i]->name, err);
		}
	}
	if (ok + failed == 0)
		gw_log(GW_LOG_INFO, "SIGHUP: no TLS settings to reload");
	else
		gw_log(failed ? GW_LOG_WARN : GW_LOG_INFO, "SIGHUP: TLS reloaded: %u ok, %u failed",
		       ok, failed);
}

int main(int argc, char **argv)
{
	static struct gw_config cfg;
	switch (gw_config_from_args(&cfg, argc, argv)) {
	case GW_CLI_EXIT_OK: return 0;
	case GW_CLI_EXIT_BAD: return GW_EXIT_CONFIG;
	case GW_CLI_RUN: break;
	}
	gw_log_threshold = cfg.log_level;
	if (gw_config_finish(&cfg) < 0 || check_listen_syntax(&cfg) < 0) {
		gw_config_free(&cfg);
		return GW_EXIT_CONFIG;
	}

	static struct gw_runtime rt;
	tls_set_logger(tls_log_bridge);
	if (tls_global_init() < 0) {
		fprintf(stderr, "ringgate: wolfSSL initialisation failed\n");
		return 1;
	}
	if (tls_build(&cfg, &rt) < 0) {
		tls_teardown(&cfg, &rt);
		gw_config_free(&cfg);
		tls_global_cleanup();
		return GW_EXIT_CONFIG;
	}

	struct gw_snapshot *snap = NULL;
	char err[512];
	if (gw_snapshot_build(&cfg, &snap, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringgate: %s\n", err);
		tls_teardown(&cfg, &rt);
		gw_config_free(&cfg);
		tls_global_cleanup();
		return GW_EXIT_CONFIG;
	}
	if (cfg.check_only) {
		printf("ringgate: configuration OK (%u workers, %u listen addresses, %u routes)\n",
		       cfg.workers, cfg.nlisten, snap->nroutes);
		gw_snapshot_free(snap);
		tls_teardown(&cfg, &rt);
		gw_config_free(&cfg);
		tls_global_cleanup();
		return 0;
	}

	/* Workers inherit this mask: signals reach only the main thread's
	 * sigwaitinfo, never a worker in the middle of a handler. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	raise_nofile();

	rt.cfg = &cfg;
	rt.snap = snap;
	rt.nworkers = cfg.workers;
	rt.workers = calloc(cfg.workers, sizeof(*rt.workers));
	rt.shards = calloc(cfg.workers, sizeof(*rt.shards));
	if (!rt.workers || !rt.shards) {
		fprintf(stderr, "ringgate: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < cfg.workers; i++) {
		struct worker *w = &rt.workers[i];
		w->id = i;
		w->cpu = cfg.cpus[i % cfg.ncpus];
		w->rt = &rt;
		w->snap = snap;
		w->max_conns = (cfg.max_connections + cfg.workers - 1) / cfg.workers;
		w->ctl_fd = -1;
		rt.shards[i] = &w->metrics;
	}
	if (open_listeners(&cfg, rt.workers, cfg.workers) < 0)
		return 1;

	pthread_barrier_init(&rt.started, NULL, cfg.workers + 1);
	for (unsigned i = 0; i < cfg.workers; i++) {
		int ret = gw_worker_spawn(&rt.workers[i]);
		if (ret < 0) {
			fprintf(stderr, "ringgate: cannot start worker %u: %s\n", i,
				strerror(-ret));
			return 1;
		}
	}
	pthread_barrier_wait(&rt.started);
	int failed = 0;
	for (unsigned i = 0; i < cfg.workers; i++) {
		struct worker *w = &rt.workers[i];
		if (w->start_error) {
			fprintf(stderr, "ringgate: worker %u: %s failed: %s\n", i, w->start_step,
				strerror(-w->start_error));
			failed = 1;
		}
	}
	if (failed) {
		for (unsigned i = 0; i < cfg.workers; i++)
			if (!rt.workers[i].start_error)
				gw_worker_signal(&rt.workers[i], GW_CTL_ABORT);
		for (unsigned i = 0; i < cfg.workers; i++)
			pthread_join(rt.workers[i].thread, NULL);
		return 1;
	}
	gw_log(GW_LOG_INFO, "ringgate %s ready: %u workers", RINGGATE_VERSION, cfg.workers);

	unsigned stops = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&sigs, &si);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			tls_reload(&cfg, &rt);
			continue;
		}
		stops++;
		if (stops == 1) {
			gw_log(GW_LOG_INFO,
			       "%s: draining (up to %u ms); send again to stop at once",
			       strsignal(sig), cfg.drain_timeout_ms);
			for (unsigned i = 0; i < cfg.workers; i++)
				gw_worker_signal(&rt.workers[i], GW_CTL_DRAIN);
			break;
		}
	}

	/* Wait for the drain, still answering a second signal with abort.
	 * Workers that outlive the deadline by far are stuck: a gateway must
	 * not hang its supervisor, so it exits anyway. */
	unsigned running = cfg.workers;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (running) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long waited_ms =
			(now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000LL;
		if (waited_ms > (long long)cfg.drain_timeout_ms + GW_STOP_GRACE_MS) {
			gw_log(GW_LOG_ERROR,
			       "%u workers did not stop %u ms after the drain deadline; "
			       "exiting",
			       running, GW_STOP_GRACE_MS);
			_exit(1);
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
		siginfo_t si;
		int sig = sigtimedwait(&sigs, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT) {
			gw_log(GW_LOG_WARN, "%s again: closing all connections now",
			       strsignal(sig));
			for (unsigned i = 0; i < cfg.workers; i++)
				if (rt.workers[i].ctl_fd >= 0)
					gw_worker_signal(&rt.workers[i], GW_CTL_ABORT);
		}
		for (unsigned i = 0; i < cfg.workers; i++) {
			struct worker *w = &rt.workers[i];
			if (w->ctl_fd >= 0 && pthread_tryjoin_np(w->thread, NULL) == 0) {
				close(w->ctl_fd);
				w->ctl_fd = -1;
				running--;
			}
		}
	}
	gw_log(GW_LOG_INFO, "stopped");
	for (unsigned i = 0; i < cfg.workers; i++)
		free(rt.workers[i].metrics.route_status);
	gw_snapshot_free(snap);
	tls_teardown(&cfg, &rt);
	gw_config_free(&cfg);
	free(rt.workers);
	free(rt.shards);
	tls_global_cleanup();
	return 0;
}

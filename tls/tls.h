/*
 * tls.h - TLS over ring_conns with wolfSSL, for both sides.
 *
 * wolfSSL does no I/O here: a ring_conn filter feeds it the bytes that
 * arrived in the worker's receive buffers and queues what it writes for
 * the conn's next io_uring send, so a worker never blocks in TLS.
 *
 * Settings are compiled once into immutable objects (a listener's
 * tls_server, an upstream's tls_client) held in slots; a reload builds a
 * new object from the files and swaps it in whole, so connections already
 * open keep the one they started with and a bad file changes nothing.
 *
 * Session tickets are sealed with keys shared by every worker (and kept
 * across reloads), rotated on a schedule, so a client resumes whichever
 * worker it lands on.
 */
#ifndef RINGGATE_TLS_H
#define RINGGATE_TLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/conn.h"

#define TLS_MAX_CERTS 16
#define TLS_MAX_NAMES 32 /* SNI names per certificate */

enum tls_side { TLS_SIDE_SERVER, TLS_SIDE_CLIENT, TLS_SIDE_COUNT_ };

/* Why a handshake failed, for /metrics. */
enum tls_fail {
	TLS_FAIL_TIMEOUT,     /* it did not finish in time */
	TLS_FAIL_CLOSED,      /* the peer went away in the middle */
	TLS_FAIL_PROTOCOL,    /* not TLS, a bad record, an alert */
	TLS_FAIL_CERTIFICATE, /* verification failed, a required cert missing */
	TLS_FAIL_NEGOTIATION, /* no common version, cipher suite or group */
	TLS_FAIL_ALPN,        /* the server did not select h2 */
	TLS_FAIL_COUNT_
};
const char *tls_fail_name(enum tls_fail f);

/*
 * Handshake counters.  A worker owns one for its server side and writes
 * it with relaxed atomic stores; the client side counts into one
 * process-wide instance (reconnects are rare) with atomic adds.
 */
struct tls_stats {
	uint64_t ok[TLS_SIDE_COUNT_][2][2]; /* [side][0: TLS 1.2, 1: 1.3][resumed] */
	uint64_t fail[TLS_SIDE_COUNT_][TLS_FAIL_COUNT_];
	uint64_t record_errors[TLS_SIDE_COUNT_]; /* bad records after the handshake */
	uint64_t reloads_ok, reloads_failed;     /* process-wide instance only */
};

/* The process-wide counters (client side, reloads). */
extern struct tls_stats tls_global_stats;

/* Add src (read with relaxed loads) into dst; for /metrics. */
void tls_stats_sum(struct tls_stats *dst, const struct tls_stats *src);

enum tls_client_auth { TLS_CLIENT_AUTH_NONE, TLS_CLIENT_AUTH_OPTIONAL, TLS_CLIENT_AUTH_REQUIRE };

struct tls_cert_config {
	char *cert; /* PEM chain, leaf first */
	char *key;  /* PEM private key (RSA or ECDSA) */
	/* SNI names this certificate answers ("api.example.com",
	 * "*.example.com"); none given: its DNS subjectAltNames. */
	char *names[TLS_MAX_NAMES];
	unsigned nnames;
};

struct tls_server_config {
	struct tls_cert_config certs[TLS_MAX_CERTS]; /* [0]: no SNI / no match */
	unsigned ncerts;
	int min_version; /* 12 or 13 */
	char *ciphers;   /* NULL: TLS_DEFAULT_CIPHERS */
	char *groups;    /* NULL: TLS_DEFAULT_GROUPS */
	enum tls_client_auth client_auth;
	char *client_ca; /* CA bundle for client certificates */
	uint32_t handshake_timeout_ms;
	bool session_tickets;
	uint32_t ticket_rotation_s; /* a ticket stays valid for two periods */
};

struct tls_client_config {
	char *ca;          /* NULL: TLS_SYSTEM_CA_BUNDLE */
	char *server_name; /* SNI and the name verified; NULL: no SNI */
	bool verify;       /* check the server's chain and name */
	char *cert, *key;  /* client certificate (mTLS), or NULL */
	int min_version;   /* 12 or 13 */
	char *ciphers, *groups;
	uint32_t handshake_timeout_ms;
};

/* ChaCha20-Poly1305 first: this wolfSSL has no AES-NI (NOTES.md).  Only
 * ECDHE key exchange and AEAD ciphers. */
#define TLS_DEFAULT_CIPHERS                                                                        \
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"          \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#define TLS_DEFAULT_GROUPS               "X25519:P-256:P-384"
#define TLS_SYSTEM_CA_BUNDLE             "/etc/ssl/certs/ca-certificates.crt"
#define TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define TLS_DEFAULT_TICKET_ROTATION_S    3600u

/* Once per process, before any other call; and at exit. */
int tls_global_init(void);
void tls_global_cleanup(void);
/* Before a thread that made handshakes exits: wolfSSL's fixed-point ECC
 * cache is per thread. */
void tls_thread_cleanup(void);

/* Where diagnostics go (level: 0 debug, 1 info, 2 warn, 3 error). */
void tls_set_logger(void (*fn)(int level, const char *msg));

/* ---- server side ---- */

struct tls_server;

/*
 * A listener's current TLS settings.  cfg is kept (by pointer) for
 * reloads.  Workers read the current object through their own cached
 * reference and take the lock only when the generation moved.
 */
struct tls_server_slot {
	const struct tls_server_config *cfg;
	pthread_mutex_t mu;
	struct tls_server *cur;
	unsigned gen; /* atomic */
};

/* Build from cfg (reads every file).  0, or -1 with err filled. */
int tls_server_slot_init(struct tls_server_slot *s, const struct tls_server_config *cfg, char *err,
			 size_t errlen);
/* Re-read the files; on failure the current settings stay.  0 or -1. */
int tls_server_slot_reload(struct tls_server_slot *s, char *err, size_t errlen);
void tls_server_slot_destroy(struct tls_server_slot *s);

/* A worker's view of a slot: refreshed when the slot's generation moves. */
struct tls_server_view {
	struct tls_server_slot *slot;
	struct tls_server *srv;
	unsigned gen;
};
void tls_server_view_init(struct tls_server_view *v, struct tls_server_slot *slot);
void tls_server_view_release(struct tls_server_view *v);

/*
 * Make an accepted conn speak TLS (call right after ring_conn_start).
 * stats: the worker's counters.  0 or -ENOMEM (close the conn then).
 */
int tls_server_attach(struct tls_server_view *v, struct ring_conn *c, struct tls_stats *stats);

/* ---- client side ---- */

struct tls_client;

/* An upstream's TLS: contexts plus a resumable session per endpoint. */
struct tls_client *tls_client_new(const struct tls_client_config *cfg, unsigned nendpoints,
				  char *err, size_t errlen);
int tls_client_reload(struct tls_client *cl, char *err, size_t errlen);
void tls_client_free(struct tls_client *cl);

/*
 * Make an outgoing conn speak TLS with ALPN h2 (call right after
 * ring_conn_connect).  The protocol's ops->connected runs once the
 * handshake is done.  0 or -ENOMEM.
 */
int tls_client_attach(struct tls_client *cl, struct ring_conn *c, unsigned endpoint);

/* ---- either side ---- */

/* The verified peer certificate's subject ("/CN=client-1/O=..."), or
 * NULL when the conn has no TLS or the peer sent no certificate. */
const char *tls_conn_peer_subject(const struct ring_conn *c);

/* "TLSv1.3" etc., or NULL without TLS. */
const char *tls_conn_version(const struct ring_conn *c);

#endif

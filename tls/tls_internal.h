/*
 * tls_internal.h - what tls_ctx.c (settings, contexts, ticket keys) and
 * tls_conn.c (the ring_conn filter) share.  Not for other layers.
 */
#ifndef RINGGATE_TLS_INTERNAL_H
#define RINGGATE_TLS_INTERNAL_H

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls/tls.h"

/* A listener's compiled settings: one context per certificate (SNI
 * switches between them), immutable, freed with its last reference
 * (the slot's, workers' views', and every connection's). */
struct tls_server {
	unsigned refs; /* atomic */
	WOLFSSL_CTX *ctx[TLS_MAX_CERTS];
	unsigned nctx;
	struct tls_sni_name {
		char *name;    /* lowercase; for a wildcard the suffix ".example.com" */
		bool wildcard; /* "*.example.com": one label deep */
		unsigned ctx;
	} * names;
	unsigned nnames;
	uint32_t handshake_timeout_ms;
};

/* The view's object, refreshed first if a reload replaced it. */
struct tls_server *tls_server_view_current(struct tls_server_view *v);

void tls_server_ref(struct tls_server *srv);
void tls_server_unref(struct tls_server *srv);

struct tls_client {
	const struct tls_client_config *cfg;
	pthread_mutex_t mu; /* ctx swaps and the session cache */
	WOLFSSL_CTX *ctx;
	WOLFSSL_SESSION **sessions; /* last session per endpoint, for resumption */
	unsigned nendpoints;
	bool sni; /* server_name is a DNS name (not an IP literal) */
};

/* A new client SSL object for endpoint, set up to resume its last
 * session; NULL when out of memory. */
WOLFSSL *tls_client_ssl(struct tls_client *cl, unsigned endpoint);
/* Keep ssl's session for the endpoint's next connection. */
void tls_client_keep_session(struct tls_client *cl, unsigned endpoint, WOLFSSL *ssl);

void tls_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The I/O callbacks every context gets (tls_conn.c). */
int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx);
int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

#define TLS_STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

#endif

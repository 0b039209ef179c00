/*
 * tls_ctx.c - TLS settings compiled into wolfSSL contexts: certificates
 * and SNI names, versions, suites and groups, client-certificate checks,
 * session-ticket keys shared by all workers, and reloads that swap the
 * whole compiled object.
 */
#include "tls/tls_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <arpa/inet.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/wolfcrypt/ecc.h>

struct tls_stats tls_global_stats;

static void (*log_fn)(int level, const char *msg);

void tls_set_logger(void (*fn)(int level, const char *msg))
{
	log_fn = fn;
}

void tls_log(int level, const char *fmt, ...)
{
	if (!log_fn)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf);
}

const char *tls_fail_name(enum tls_fail f)
{
	static const char *const names[TLS_FAIL_COUNT_] = {
		[TLS_FAIL_TIMEOUT] = "timeout",         [TLS_FAIL_CLOSED] = "closed",
		[TLS_FAIL_PROTOCOL] = "protocol",       [TLS_FAIL_CERTIFICATE] = "certificate",
		[TLS_FAIL_NEGOTIATION] = "negotiation", [TLS_FAIL_ALPN] = "alpn",
	};
	return (unsigned)f < TLS_FAIL_COUNT_ ? names[f] : "unknown";
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void tls_stats_sum(struct tls_stats *dst, const struct tls_stats *src)
{
	for (int s = 0; s < TLS_SIDE_COUNT_; s++) {
		for (int v = 0; v < 2; v++)
			for (int r = 0; r < 2; r++)
				dst->ok[s][v][r] += LOAD(src->ok[s][v][r]);
		for (int f = 0; f < TLS_FAIL_COUNT_; f++)
			dst->fail[s][f] += LOAD(src->fail[s][f]);
		dst->record_errors[s] += LOAD(src->record_errors[s]);
	}
	dst->reloads_ok += LOAD(src->reloads_ok);
	dst->reloads_failed += LOAD(src->reloads_failed);
}

/* ---- session-ticket keys ----
 *
 * One ring for the whole process: every worker and every listener seals
 * tickets with the current key and opens them with the current or the
 * previous one, so resumption works on any worker and across reloads.
 * A ticket opened with the previous key is answered with a fresh one. */

struct ticket_key {
	unsigned char name[WOLFSSL_TICKET_NAME_SZ];
	unsigned char key[CHACHA20_POLY1305_AEAD_KEYSIZE];
};

static struct {
	pthread_mutex_t mu;
	struct ticket_key cur, prev;
	bool have_cur, have_prev;
	time_t rotated;
	uint32_t period_s;
} tickets = {.mu = PTHREAD_MUTEX_INITIALIZER, .period_s = TLS_DEFAULT_TICKET_ROTATION_S};

static int random_bytes(void *p, size_t n)
{
	unsigned char *b = p;
	while (n) {
		ssize_t got = getrandom(b, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Under tickets.mu. */
static int tickets_rotate_if_due(time_t now)
{
	if (tickets.have_cur && now - tickets.rotated < (time_t)tickets.period_s)
		return 0;
	struct ticket_key fresh;
	if (random_bytes(&fresh, sizeof(fresh)) < 0)
		return -1;
	/* A previous key older than one period has sealed nothing still
	 * valid: keep it only across a regular rotation. */
	tickets.have_prev =
		tickets.have_cur && now - tickets.rotated < 2 * (time_t)tickets.period_s;
	tickets.prev = tickets.cur;
	tickets.cur = fresh;
	tickets.have_cur = true;
	tickets.rotated = now;
	return 0;
}

/* The key for sealing (which = 0), or the one named (0 current, 1
 * previous); -1 when there is none. */
static int tickets_get(const unsigned char *name, struct ticket_key *out)
{
	int which = -1;
	pthread_mutex_lock(&tickets.mu);
	time_t now = time(NULL);
	if (tickets_rotate_if_due(now) == 0) {
		if (!name) {
			*out = tickets.cur;
			which = 0;
		} else if (memcmp(name, tickets.cur.name, sizeof(tickets.cur.name)) == 0) {
			*out = tickets.cur;
			which = 0;
		} else if (tickets.have_prev &&
			   memcmp(name, tickets.prev.name, sizeof(tickets.prev.name)) == 0) {
			*out = tickets.prev;
			which = 1;
		}
	}
	pthread_mutex_unlock(&tickets.mu);
	return which;
}

#define TICKET_AAD_LEN (WOLFSSL_TICKET_NAME_SZ + CHACHA20_POLY1305_AEAD_IV_SIZE)

static int ticket_cb(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
		     unsigned char iv[WOLFSSL_TICKET_IV_SZ],
		     unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
		     int in_len, int *out_len, void *user)
{
	(void)ssl;
	(void)user;
	struct ticket_key k;
	unsigned char aad[TICKET_AAD_LEN];
	if (in_len < 0)
		return WOLFSSL_TICKET_RET_FATAL;
	if (enc) {
		if (tickets_get(NULL, &k) < 0 || random_bytes(iv, WOLFSSL_TICKET_IV_SZ) < 0)
			return WOLFSSL_TICKET_RET_FATAL;
		memcpy(key_name, k.name, WOLFSSL_TICKET_NAME_SZ);
		memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
		memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, CHACHA20_POLY1305_AEAD_IV_SIZE);
		memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
		if (wc_ChaCha20Poly1305_Encrypt(k.key, iv, aad, sizeof(aad), ticket, (word32)in_len,
						ticket, mac) != 0)
			return WOLFSSL_TICKET_RET_FATAL;
		*out_len = in_len;
		return WOLFSSL_TICKET_RET_OK;
	}
	int which = tickets_get(key_name, &k);
	if (which < 0)
		return WOLFSSL_TICKET_RET_REJECT; /* unknown or retired key: full handshake */
	memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, CHACHA20_POLY1305_AEAD_IV_SIZE);
	if (wc_ChaCha20Poly1305_Decrypt(k.key, iv, aad, sizeof(aad), ticket, (word32)in_len, mac,
					ticket) != 0)
		return WOLFSSL_TICKET_RET_REJECT;
	*out_len = in_len;
	return which == 0 ? WOLFSSL_TICKET_RET_OK : WOLFSSL_TICKET_RET_CREATE;
}

/* ---- shared context settings ---- */

static int parse_groups(const char *list, int *out, int max, char *bad, size_t badlen)
{
	static const struct {
		const char *name;
		int id;
	} known[] = {
		{"X25519", WOLFSSL_ECC_X25519},       {"X448", WOLFSSL_ECC_X448},
		{"P-256", WOLFSSL_ECC_SECP256R1},     {"prime256v1", WOLFSSL_ECC_SECP256R1},
		{"secp256r1", WOLFSSL_ECC_SECP256R1}, {"P-384", WOLFSSL_ECC_SECP384R1},
		{"secp384r1", WOLFSSL_ECC_SECP384R1}, {"P-521", WOLFSSL_ECC_SECP521R1},
		{"secp521r1", WOLFSSL_ECC_SECP521R1}, {"ffdhe2048", WOLFSSL_FFDHE_2048},
		{"ffdhe3072", WOLFSSL_FFDHE_3072},
	};
	int n = 0;
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ":,");
		bool found = false;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (strlen(known[i].name) == len &&
			    strncasecmp(p, known[i].name, len) == 0) {
				if (n == max)
					return -1;
				out[n++] = known[i].id;
				found = true;
				break;
			}
		}
		if (!found) {
			snprintf(bad, badlen, "%.*s", (int)len, p);
			return -1;
		}
		p += len;
		if (*p)
			p++;
	}
	return n;
}

static int ctx_common(WOLFSSL_CTX *ctx, int min_version, const char *ciphers, const char *groups,
		      char *err, size_t errlen)
{
	if (wolfSSL_CTX_SetMinVersion(ctx, min_version == 13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot set the minimum TLS version");
		return -1;
	}
	if (wolfSSL_CTX_set_cipher_list(ctx, ciphers ? ciphers : TLS_DEFAULT_CIPHERS) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errlen,
			 "cipher list '%s' names no cipher suite this wolfSSL supports",
			 ciphers ? ciphers : TLS_DEFAULT_CIPHERS);
		return -1;
	}
	int ids[16];
	char bad[64] = "";
	int n = parse_groups(groups ? groups : TLS_DEFAULT_GROUPS, ids, 16, bad, sizeof(bad));
	if (n <= 0) {
		snprintf(err, errlen,
			 "groups: unknown group '%s' (known: X25519, X448, P-256, P-384, P-521, "
			 "ffdhe2048, ffdhe3072)",
			 bad);
		return -1;
	}
	if (wolfSSL_CTX_set_groups(ctx, ids, n) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot use the key-exchange groups '%s'",
			 groups ? groups : TLS_DEFAULT_GROUPS);
		return -1;
	}
	wolfSSL_CTX_SetIORecv(ctx, tls_io_recv);
	wolfSSL_CTX_SetIOSend(ctx, tls_io_send);
	return 0;
}

/* Whether key signs what the leaf of cert verifies.  wolfSSL's own
 * check_private_key compares only the key types here, so a P-256 key of
 * another certificate would pass it and fail every handshake. */
static bool key_matches_cert(const char *cert, const char *key)
{
	bool ok = false;
	WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_file(cert, WOLFSSL_FILETYPE_PEM);
	WOLFSSL_EVP_PKEY *pub = x ? wolfSSL_X509_get_pubkey(x) : NULL;
	FILE *f = fopen(key, "r");
	WOLFSSL_EVP_PKEY *priv = f ? wolfSSL_PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	WOLFSSL_EVP_MD_CTX *md = wolfSSL_EVP_MD_CTX_new();
	static const unsigned char probe[] = "ringgate certificate/key check";
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	if (pub && priv && md &&
	    wolfSSL_EVP_DigestSignInit(md, NULL, wolfSSL_EVP_sha256(), NULL, priv) == 1 &&
	    wolfSSL_EVP_DigestSignUpdate(md, probe, sizeof(probe)) == 1 &&
	    wolfSSL_EVP_DigestSignFinal(md, sig, &siglen) == 1) {
		wolfSSL_EVP_MD_CTX_free(md);
		md = wolfSSL_EVP_MD_CTX_new();
		ok = md &&
		     wolfSSL_EVP_DigestVerifyInit(md, NULL, wolfSSL_EVP_sha256(), NULL, pub) == 1 &&
		     wolfSSL_EVP_DigestVerifyUpdate(md, probe, sizeof(probe)) == 1 &&
		     wolfSSL_EVP_DigestVerifyFinal(md, sig, siglen) == 1;
	}
	wolfSSL_EVP_MD_CTX_free(md);
	wolfSSL_EVP_PKEY_free(priv);
	wolfSSL_EVP_PKEY_free(pub);
	wolfSSL_X509_free(x);
	return ok;
}

static int load_chain_and_key(WOLFSSL_CTX *ctx, const char *cert, const char *key, char *err,
			      size_t errlen)
{
	if (wolfSSL_CTX_use_certificate_chain_file(ctx, cert) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen,
			 "%s: cannot load a PEM certificate chain (missing, unreadable "
			 "or not PEM)",
			 cert);
		return -1;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		snprintf(err, errlen,
			 "%s: cannot load a PEM private key (missing, unreadable, "
			 "encrypted or not PEM)",
			 key);
		return -1;
	}
	if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS || !key_matches_cert(cert, key)) {
		snprintf(err, errlen, "%s: the private key does not match the certificate in %s",
			 key, cert);
		return -1;
	}
	return 0;
}

/* ---- server side ---- */

static int alpn_select(WOLFSSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	/* Only HTTP/1.1 is spoken; a client offering only h2 gets no ALPN
	 * (and may still speak HTTP/1.1) rather than a failed handshake. */
	for (unsigned i = 0; i < inlen;) {
		unsigned len = in[i];
		if (i + 1 + len > inlen)
			break;
		if (len == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + len;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static int sni_select(WOLFSSL *ssl, int *alert, void *arg)
{
	(void)alert;
	struct tls_server *srv = arg;
	const char *host = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
	if (!host || srv->nctx < 2)
		return SSL_TLSEXT_ERR_OK;
	char lower[256];
	size_t n = strnlen(host, sizeof(lower) - 1);
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)host[i]);
	lower[n] = '\0';
	const char *dot = strchr(lower, '.');
	int pick = -1;
	for (unsigned i = 0; i < srv->nnames && pick < 0; i++)
		if (!srv->names[i].wildcard && strcmp(srv->names[i].name, lower) == 0)
			pick = (int)srv->names[i].ctx;
	for (unsigned i = 0; i < srv->nnames && pick < 0 && dot; i++)
		if (srv->names[i].wildcard && strcmp(srv->names[i].name, dot) == 0)
			pick = (int)srv->names[i].ctx;
	if (pick > 0)
		wolfSSL_set_SSL_CTX(ssl, srv->ctx[pick]);
	return SSL_TLSEXT_ERR_OK;
}

static int add_name(struct tls_server *srv, const char *name, unsigned ctx)
{
	struct tls_sni_name *grown = realloc(srv->names, (srv->nnames + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	srv->names = grown;
	bool wildcard = name[0] == '*' && name[1] == '.';
	char *copy = strdup(wildcard ? name + 1 : name);
	if (!copy)
		return -1;
	for (char *p = copy; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	srv->names[srv->nnames++] = (struct tls_sni_name){copy, wildcard, ctx};
	return 0;
}

/* The DNS names a certificate is for: its subjectAltNames, else its CN. */
static int add_cert_names(struct tls_server *srv, const char *file, unsigned ctx, char *err,
			  size_t errlen)
{
	WOLFSSL_X509 *x = wolfSSL_X509_load_certificate_file(file, WOLFSSL_FILETYPE_PEM);
	if (!x) {
		snprintf(err, errlen, "%s: cannot read the leaf certificate", file);
		return -1;
	}
	unsigned before = srv->nnames;
	int ret = 0;
	for (char *alt; (alt = wolfSSL_X509_get_next_altname(x)) != NULL;) {
		unsigned char ip[16];
		if (inet_pton(AF_INET, alt, ip) == 1 || inet_pton(AF_INET6, alt, ip) == 1)
			continue; /* SNI carries host names only */
		if (add_name(srv, alt, ctx) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && srv->nnames == before) {
		char cn[256];
		WOLFSSL_X509_NAME *subj = wolfSSL_X509_get_subject_name(x);
		if (subj &&
		    wolfSSL_X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)) > 0)
			ret = add_name(srv, cn, ctx);
	}
	wolfSSL_X509_free(x);
	if (ret < 0)
		snprintf(err, errlen, "out of memory");
	return ret;
}

static WOLFSSL_CTX *server_ctx_new(const struct tls_server_config *cfg,
				   const struct tls_cert_config *cc, struct tls_server *srv,
				   char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ctx_common(ctx, cfg->min_version, cfg->ciphers, cfg->groups, err, errlen) < 0 ||
	    load_chain_and_key(ctx, cc->cert, cc->key, err, errlen) < 0)
		goto fail;
	if (cfg->client_auth != TLS_CLIENT_AUTH_NONE) {
		if (wolfSSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) !=
		    WOLFSSL_SUCCESS) {
			snprintf(err, errlen, "%s: cannot load the client CA bundle",
				 cfg->client_ca);
			goto fail;
		}
		int mode = WOLFSSL_VERIFY_PEER;
		if (cfg->client_auth == TLS_CLIENT_AUTH_REQUIRE)
			mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		wolfSSL_CTX_set_verify(ctx, mode, NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
	if (cfg->session_tickets) {
		wolfSSL_CTX_set_TicketEncCb(ctx, ticket_cb);
		/* A ticket outlives its sealing key by at most one period. */
		wolfSSL_CTX_set_timeout(ctx, cfg->ticket_rotation_s);
	} else {
		wolfSSL_CTX_NoTicketTLSv12(ctx);
		wolfSSL_CTX_no_ticket_TLSv13(ctx);
	}
	wolfSSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	wolfSSL_CTX_set_servername_callback(ctx, sni_select);
	wolfSSL_CTX_set_servername_arg(ctx, srv);
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

static struct tls_server *server_build(const struct tls_server_config *cfg, char *err,
				       size_t errlen)
{
	struct tls_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->refs = 1;
	srv->handshake_timeout_ms = cfg->handshake_timeout_ms;
	for (unsigned i = 0; i < cfg->ncerts; i++) {
		const struct tls_cert_config *cc = &cfg->certs[i];
		srv->ctx[i] = server_ctx_new(cfg, cc, srv, err, errlen);
		if (!srv->ctx[i])
			goto fail;
		srv->nctx++;
		int ret = 0;
		if (cc->nnames) {
			for (unsigned j = 0; j < cc->nnames && ret == 0; j++)
				ret = add_name(srv, cc->names[j], i);
			if (ret < 0)
				snprintf(err, errlen, "out of memory");
		} else {
			ret = add_cert_names(srv, cc->cert, i, err, errlen);
		}
		if (ret < 0)
			goto fail;
	}
	return srv;
fail:
	tls_server_unref(srv);
	return NULL;
}

void tls_server_ref(struct tls_server *srv)
{
	__atomic_fetch_add(&srv->refs, 1, __ATOMIC_RELAXED);
}

void tls_server_unref(struct tls_server *srv)
{
	if (!srv || __atomic_sub_fetch(&srv->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (unsigned i = 0; i < srv->nctx; i++)
		wolfSSL_CTX_free(srv->ctx[i]);
	for (unsigned i = 0; i < srv->nnames; i++)
		free(srv->names[i].name);
	free(srv->names);
	free(srv);
}

int tls_server_slot_init(struct tls_server_slot *s, const struct tls_server_config *cfg, char *err,
			 size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	pthread_mutex_init(&s->mu, NULL);
	if (cfg->session_tickets) {
		pthread_mutex_lock(&tickets.mu);
		if (cfg->ticket_rotation_s && cfg->ticket_rotation_s < tickets.period_s)
			tickets.period_s = cfg->ticket_rotation_s;
		pthread_mutex_unlock(&tickets.mu);
	}
	s->cur = server_build(cfg, err, errlen);
	if (!s->cur) {
		pthread_mutex_destroy(&s->mu);
		return -1;
	}
	return 0;
}

int tls_server_slot_reload(struct tls_server_slot *s, char *err, size_t errlen)
{
	struct tls_server *fresh = server_build(s->cfg, err, errlen);
	if (!fresh) {
		TLS_STAT_ADD(tls_global_stats.reloads_failed, 1);
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	struct tls_server *old = s->cur;
	s->cur = fresh;
	__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->mu);
	tls_server_unref(old);
	TLS_STAT_ADD(tls_global_stats.reloads_ok, 1);
	return 0;
}

void tls_server_slot_destroy(struct tls_server_slot *s)
{
	tls_server_unref(s->cur);
	s->cur = NULL;
	pthread_mutex_destroy(&s->mu);
}

static void view_refresh(struct tls_server_view *v)
{
	pthread_mutex_lock(&v->slot->mu);
	struct tls_server *cur = v->slot->cur;
	tls_server_ref(cur);
	v->gen = __atomic_load_n(&v->slot->gen, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&v->slot->mu);
	tls_server_unref(v->srv);
	v->srv = cur;
}

void tls_server_view_init(struct tls_server_view *v, struct tls_server_slot *slot)
{
	v->slot = slot;
	v->srv = NULL;
	view_refresh(v);
}

void tls_server_view_release(struct tls_server_view *v)
{
	tls_server_unref(v->srv);
	v->srv = NULL;
}

struct tls_server *tls_server_view_current(struct tls_server_view *v)
{
	if (__atomic_load_n(&v->slot->gen, __ATOMIC_ACQUIRE) != v->gen)
		view_refresh(v);
	return v->srv;
}

/* ---- client side ---- */

static WOLFSSL_CTX *client_ctx_new(const struct tls_client_config *cfg, char *err, size_t errlen)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ctx_common(ctx, cfg->min_version, cfg->ciphers, cfg->groups, err, errlen) < 0)
		goto fail;
	if (cfg->verify) {
		const char *ca = cfg->ca ? cfg->ca : TLS_SYSTEM_CA_BUNDLE;
		if (wolfSSL_CTX_load_verify_locations(ctx, ca, NULL) != WOLFSSL_SUCCESS) {
			snprintf(err, errlen, "%s: cannot load the CA bundle", ca);
			goto fail;
		}
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
	} else {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
	if (cfg->cert && load_chain_and_key(ctx, cfg->cert, cfg->key, err, errlen) < 0)
		goto fail;
	return ctx;
fail:
	wolfSSL_CTX_free(ctx);
	return NULL;
}

struct tls_client *tls_client_new(const struct tls_client_config *cfg, unsigned nendpoints,
				  char *err, size_t errlen)
{
	struct tls_client *cl = calloc(1, sizeof(*cl));
	if (!cl || !(cl->sessions = calloc(nendpoints ? nendpoints : 1, sizeof(*cl->sessions)))) {
		free(cl);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->cfg = cfg;
	cl->nendpoints = nendpoints;
	unsigned char ip[16];
	cl->sni = cfg->server_name && inet_pton(AF_INET, cfg->server_name, ip) != 1 &&
		  inet_pton(AF_INET6, cfg->server_name, ip) != 1;
	pthread_mutex_init(&cl->mu, NULL);
	cl->ctx = client_ctx_new(cfg, err, errlen);
	if (!cl->ctx) {
		tls_client_free(cl);
		return NULL;
	}
	if (!cfg->verify)
		tls_log(2, "tls: upstream certificate verification is OFF (server name %s)",
			cfg->server_name ? cfg->server_name : "-");
	return cl;
}

int tls_client_reload(struct tls_client *cl, char *err, size_t errlen)
{
	WOLFSSL_CTX *fresh = client_ctx_new(cl->cfg, err, errlen);
	if (!fresh) {
		TLS_STAT_ADD(tls_global_stats.reloads_failed, 1);
		return -1;
	}
	pthread_mutex_lock(&cl->mu);
	WOLFSSL_CTX *old = cl->ctx;
	cl->ctx = fresh;
	/* Sessions of the old context may name a client certificate that
	 * is gone: start over. */
	for (unsigned i = 0; i < cl->nendpoints; i++) {
		wolfSSL_SESSION_free(cl->sessions[i]);
		cl->sessions[i] = NULL;
	}
	pthread_mutex_unlock(&cl->mu);
	wolfSSL_CTX_free(old);
	TLS_STAT_ADD(tls_global_stats.reloads_ok, 1);
	return 0;
}

void tls_client_free(struct tls_client *cl)
{
	if (!cl)
		return;
	for (unsigned i = 0; i < cl->nendpoints; i++)
		wolfSSL_SESSION_free(cl->sessions[i]);
	free(cl->sessions);
	if (cl->ctx)
		wolfSSL_CTX_free(cl->ctx);
	pthread_mutex_destroy(&cl->mu);
	free(cl);
}

WOLFSSL *tls_client_ssl(struct tls_client *cl, unsigned endpoint)
{
	pthread_mutex_lock(&cl->mu);
	WOLFSSL *ssl = wolfSSL_new(cl->ctx);
	if (ssl && endpoint < cl->nendpoints && cl->sessions[endpoint])
		wolfSSL_set_session(ssl, cl->sessions[endpoint]);
	pthread_mutex_unlock(&cl->mu);
	if (!ssl)
		return NULL;
	const struct tls_client_config *cfg = cl->cfg;
	if (cl->sni)
		wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, cfg->server_name,
			       (unsigned short)strlen(cfg->server_name));
	if (cfg->verify && cfg->server_name)
		wolfSSL_check_domain_name(ssl, cfg->server_name);
	char h2[] = "h2";
	if (wolfSSL_UseALPN(ssl, h2, 2, WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
		wolfSSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void tls_client_keep_session(struct tls_client *cl, unsigned endpoint, WOLFSSL *ssl)
{
	if (endpoint >= cl->nendpoints)
		return;
	WOLFSSL_SESSION *s = wolfSSL_get1_session(ssl);
	if (!s)
		return;
	pthread_mutex_lock(&cl->mu);
	WOLFSSL_SESSION *old = cl->sessions[endpoint];
	cl->sessions[endpoint] = s;
	pthread_mutex_unlock(&cl->mu);
	wolfSSL_SESSION_free(old);
}

/* ---- process ---- */

int tls_global_init(void)
{
	return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1;
}

void tls_thread_cleanup(void)
{
#ifdef FP_ECC
	wc_ecc_fp_free();
#endif
}

void tls_global_cleanup(void)
{
	wolfSSL_Cleanup();
}

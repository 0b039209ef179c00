/*
 * tls_conn.c - the ring_conn filter that runs wolfSSL over a connection.
 *
 * wolfSSL reads through tls_io_recv, which hands it the bytes of the
 * receive buffer being processed (and WANT_READ when they are used up:
 * wolfSSL keeps a partial record itself), and writes through
 * tls_io_send, which appends the records to the conn's wire queue.  So
 * decryption reads straight out of the provided buffers, and every record
 * produced in one pass (handshake flights, responses pipelined together)
 * leaves in one sendmsg.
 */
#include "tls/tls_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

/* The largest plaintext of one record (RFC 8446 5.1). */
#define TLS_RECORD_MAX 16384

struct tls_conn {
	WOLFSSL *ssl;
	struct ring_conn *rc;
	enum tls_side side;
	bool established;
	bool outcome_counted; /* success or failure already in the stats */
	bool shutdown_sent;
	bool got_input; /* a first byte came from the peer */
	const char *in; /* wire bytes wolfSSL may read now */
	size_t in_len;
	struct ring_timer hs_timer;
	struct tls_stats *stats;
	struct tls_server *srv; /* server side: a reference */
	struct tls_client *cl;  /* client side */
	unsigned endpoint;
	char *subject; /* verified peer subject */
};

static const struct ring_filter_ops tls_filter_ops;

/* Plaintext out of wolfSSL_read, and records gathered for wolfSSL_write:
 * separate, because the protocol may write while it reads. */
static _Thread_local char read_buf[TLS_RECORD_MAX];
static _Thread_local char write_buf[TLS_RECORD_MAX];

int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct tls_conn *t = ctx;
	if (t->in_len == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = (size_t)sz < t->in_len ? (size_t)sz : t->in_len;
	memcpy(buf, t->in, n);
	t->in += n;
	t->in_len -= n;
	return (int)n;
}

int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct tls_conn *t = ctx;
	if (ring_outq_append(&t->rc->wire, buf, (size_t)sz) < 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

/* ---- outcome accounting ---- */

static enum tls_fail classify(struct tls_conn *t, int err)
{
	switch (err) {
	case NO_PEER_CERT:
	case DOMAIN_NAME_MISMATCH:
	case VERIFY_CERT_ERROR:
	case ASN_NO_SIGNER_E:
	case ASN_AFTER_DATE_E:
	case ASN_BEFORE_DATE_E:
	case ASN_SIG_CONFIRM_E:
	case ASN_PARSE_E: return TLS_FAIL_CERTIFICATE;
	case VERSION_ERROR:
	case MATCH_SUITE_ERROR:
	case UNSUPPORTED_SUITE:
	case BAD_KEY_SHARE_DATA: return TLS_FAIL_NEGOTIATION;
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E: return TLS_FAIL_CLOSED;
	default: break;
	}
	if (err == FATAL_ERROR) {
		/* The peer's alert says why (RFC 8446 6.2). */
		WOLFSSL_ALERT_HISTORY h;
		if (wolfSSL_get_alert_history(t->ssl, &h) == WOLFSSL_SUCCESS) {
			int code = h.last_rx.code;
			if ((code >= 42 && code <= 49) || code == 116)
				return TLS_FAIL_CERTIFICATE;
			if (code == 40 || code == 70 || code == 71)
				return TLS_FAIL_NEGOTIATION;
			if (code == 120)
				return TLS_FAIL_ALPN;
		}
	}
	return TLS_FAIL_PROTOCOL;
}

static void count_failure(struct tls_conn *t, enum tls_fail why)
{
	if (t->outcome_counted)
		return;
	t->outcome_counted = true;
	TLS_STAT_ADD(t->stats->fail[t->side][why], 1);
}

static void count_success(struct tls_conn *t)
{
	t->outcome_counted = true;
	int v13 = wolfSSL_version(t->ssl) == TLS1_3_VERSION;
	int resumed = wolfSSL_session_reused(t->ssl) ? 1 : 0;
	TLS_STAT_ADD(t->stats->ok[t->side][v13][resumed], 1);
}

static void keep_subject(struct tls_conn *t)
{
	WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(t->ssl);
	if (!x)
		return;
	char buf[512];
	WOLFSSL_X509_NAME *name = wolfSSL_X509_get_subject_name(x);
	if (name && wolfSSL_X509_NAME_oneline(name, buf, sizeof(buf)))
		t->subject = strdup(buf);
	wolfSSL_X509_free(x);
}

/* ---- handshake ---- */

static void handshake_failed(struct tls_conn *t, enum tls_fail why, int err)
{
	count_failure(t, why);
	char msg[80];
	wolfSSL_ERR_error_string_n((unsigned long)err, msg, sizeof(msg));
	tls_log(t->side == TLS_SIDE_CLIENT ? 2 : 0, "tls: %s handshake failed (%s): %s",
		t->side == TLS_SIDE_CLIENT ? "upstream" : "client", tls_fail_name(why), msg);
	ring_timer_cancel(t->rc->loop, &t->hs_timer);
	if (t->side == TLS_SIDE_CLIENT) {
		ring_conn_ready(t->rc, -EPROTO);
	} else {
		/* The protocol never saw this connection: send the alert wolfSSL
		 * queued and close without bothering it. */
		ring_conn_close_after_flush(t->rc);
	}
}

static bool alpn_is_h2(WOLFSSL *ssl)
{
	char *proto = NULL;
	unsigned short len = 0;
	return wolfSSL_ALPN_GetProtocol(ssl, &proto, &len) == WOLFSSL_SUCCESS && len == 2 &&
	       memcmp(proto, "h2", 2) == 0;
}

/* Advance the handshake: 1 done, 0 needs more input, -1 failed (and the
 * conn is being closed). */
static int handshake_step(struct tls_conn *t)
{
	int r = wolfSSL_negotiate(t->ssl);
	if (r != WOLFSSL_SUCCESS) {
		int err = wolfSSL_get_error(t->ssl, r);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
			return 0;
		handshake_failed(t, classify(t, err), err);
		return -1;
	}
	if (t->side == TLS_SIDE_CLIENT && !alpn_is_h2(t->ssl)) {
		count_failure(t, TLS_FAIL_ALPN);
		tls_log(2,
			"tls: upstream did not select ALPN h2 (it may not speak HTTP/2 over TLS)");
		ring_timer_cancel(t->rc->loop, &t->hs_timer);
		wolfSSL_shutdown(t->ssl); /* after our Finished: a clean close_notify */
		ring_conn_ready(t->rc, -EPROTO);
		return -1;
	}
	t->established = true;
	ring_timer_cancel(t->rc->loop, &t->hs_timer);
	count_success(t);
	keep_subject(t);
	if (t->side == TLS_SIDE_CLIENT) {
		tls_client_keep_session(t->cl, t->endpoint, t->ssl);
		ring_conn_ready(t->rc, 0);
	}
	return 1;
}

static void on_hs_timer(struct ring_loop *loop, struct ring_timer *timer)
{
	(void)loop;
	struct tls_conn *t = container_of(timer, struct tls_conn, hs_timer);
	if (t->established)
		return;
	count_failure(t, TLS_FAIL_TIMEOUT);
	tls_log(t->side == TLS_SIDE_CLIENT ? 2 : 0, "tls: %s handshake timed out",
		t->side == TLS_SIDE_CLIENT ? "upstream" : "client");
	if (t->side == TLS_SIDE_CLIENT)
		ring_conn_fail(t->rc, -ETIMEDOUT);
	else
		ring_conn_close(t->rc);
}

/* ---- the filter ---- */

static int read_records(struct tls_conn *t)
{
	struct ring_conn *c = t->rc;
	while (!ring_conn_closing(c)) {
		int n = wolfSSL_read(t->ssl, read_buf, sizeof(read_buf));
		if (n > 0) {
			ring_conn_deliver(c, read_buf, (size_t)n);
			continue;
		}
		int err = wolfSSL_get_error(t->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
			return 0;
		if (err == WOLFSSL_ERROR_ZERO_RETURN || err == ZERO_RETURN)
			return 1; /* close_notify */
		char msg[80];
		wolfSSL_ERR_error_string_n((unsigned long)err, msg, sizeof(msg));
		tls_log(0, "tls: record error: %s", msg);
		TLS_STAT_ADD(t->stats->record_errors[t->side], 1);
		return -EPROTO;
	}
	return 0;
}

/*
 * A TLS record starts with a content type (20..24) and an SSLv2 hello with
 * its high bit set; a capital letter first is an HTTP method, sent in
 * plain text to the HTTPS port.  It gets a plain-text 400 saying so (as
 * nginx does) rather than a bare close the client cannot explain.
 */
static bool plain_http_to_tls_port(struct tls_conn *t, const char *data, size_t len)
{
	static const char reply[] = "HTTP/1.1 400 Bad Request\r\n"
				    "Content-Type: text/plain\r\n"
				    "Content-Length: 56\r\n"
				    "Connection: close\r\n"
				    "\r\n"
				    "This port speaks HTTPS; the request came as plain HTTP.\n";
	bool first = !t->got_input;
	t->got_input = true;
	if (t->side != TLS_SIDE_SERVER || !first || len == 0 || data[0] < 'A' || data[0] > 'Z')
		return false;
	count_failure(t, TLS_FAIL_PROTOCOL);
	tls_log(0, "tls: client handshake failed (%s): a plain HTTP request",
		tls_fail_name(TLS_FAIL_PROTOCOL));
	ring_timer_cancel(t->rc->loop, &t->hs_timer);
	if (ring_outq_append(&t->rc->wire, reply, sizeof(reply) - 1) < 0)
		ring_conn_close(t->rc);
	else
		ring_conn_close_after_flush(t->rc);
	return true;
}

static int tls_input(struct ring_conn *c, const char *data, size_t len)
{
	struct tls_conn *t = c->filter_ctx;
	if (!t->established && plain_http_to_tls_port(t, data, len))
		return 0;
	t->in = data;
	t->in_len = len;
	int ret = 0;
	if (!t->established) {
		int r = handshake_step(t);
		if (r <= 0)
			goto out;
	}
	ret = read_records(t);
out:
	t->in = NULL;
	t->in_len = 0;
	/* Handshake flights, alerts, tickets, or the answer to a KeyUpdate. */
	if (c->wire.bytes && !(c->flags & RC_SENDING))
		ring_conn_flush(c);
	return ret;
}

static int tls_output(struct ring_conn *c)
{
	struct tls_conn *t = c->filter_ctx;
	if (!t->established)
		return 0; /* sent once the handshake is done */
	struct ring_outq *out = &c->out;
	while (!ring_outq_empty(out)) {
		struct iovec iov[8];
		unsigned n = ring_outq_iov(out, iov, 8);
		const char *src = iov[0].iov_base;
		size_t len = iov[0].iov_len;
		if (n > 1 && len < TLS_RECORD_MAX) {
			/* Small pieces (a head, a body) go out as one full record,
			 * not a record each. */
			len = 0;
			for (unsigned i = 0; i < n && len < TLS_RECORD_MAX; i++) {
				size_t take = iov[i].iov_len;
				if (take > TLS_RECORD_MAX - len)
					take = TLS_RECORD_MAX - len;
				memcpy(write_buf + len, iov[i].iov_base, take);
				len += take;
			}
			src = write_buf;
		} else if (len > TLS_RECORD_MAX * 4) {
			len = TLS_RECORD_MAX * 4; /* wolfSSL splits it into records */
		}
		int w = wolfSSL_write(t->ssl, src, (int)len);
		if (w <= 0)
			return -EIO;
		ring_outq_consume(out, (size_t)w);
	}
	return 0;
}

static void tls_connected(struct ring_conn *c)
{
	struct tls_conn *t = c->filter_ctx;
	ring_timer_set(c->loop, &t->hs_timer, t->cl->cfg->handshake_timeout_ms);
	if (handshake_step(t) >= 0)
		ring_conn_flush(c);
}

static void tls_shutdown(struct ring_conn *c)
{
	struct tls_conn *t = c->filter_ctx;
	if (!t->established) {
		ring_outq_clear(&c->out); /* cannot be sent without keys */
		return;
	}
	if (tls_output(c) == 0 && !t->shutdown_sent) {
		t->shutdown_sent = true;
		wolfSSL_shutdown(t->ssl); /* queues close_notify; we do not wait for the peer's */
	}
}

static void tls_release(struct ring_conn *c)
{
	struct tls_conn *t = c->filter_ctx;
	ring_timer_cancel(c->loop, &t->hs_timer);
	if (!t->established)
		count_failure(t, TLS_FAIL_CLOSED);
	else if (t->side == TLS_SIDE_CLIENT)
		tls_client_keep_session(t->cl, t->endpoint, t->ssl); /* TLS 1.3 tickets come late */
	wolfSSL_free(t->ssl);
	tls_server_unref(t->srv);
	free(t->subject);
	free(t);
	c->filter = NULL;
	c->filter_ctx = NULL;
}

static const struct ring_filter_ops tls_filter_ops = {
	.input = tls_input,
	.output = tls_output,
	.connected = tls_connected,
	.shutdown = tls_shutdown,
	.release = tls_release,
};

static struct tls_conn *conn_new(struct ring_conn *c, WOLFSSL *ssl, enum tls_side side,
				 struct tls_stats *stats)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ssl = ssl;
	t->rc = c;
	t->side = side;
	t->stats = stats;
	ring_timer_init(&t->hs_timer, on_hs_timer);
	wolfSSL_SSLSetIORecv(ssl, tls_io_recv);
	wolfSSL_SSLSetIOSend(ssl, tls_io_send);
	wolfSSL_SetIOReadCtx(ssl, t);
	wolfSSL_SetIOWriteCtx(ssl, t);
	ring_conn_set_filter(c, &tls_filter_ops, t);
	return t;
}

int tls_server_attach(struct tls_server_view *v, struct ring_conn *c, struct tls_stats *stats)
{
	struct tls_server *srv = tls_server_view_current(v);
	WOLFSSL *ssl = wolfSSL_new(srv->ctx[0]);
	if (!ssl)
		return -ENOMEM;
	struct tls_conn *t = conn_new(c, ssl, TLS_SIDE_SERVER, stats);
	if (!t) {
		wolfSSL_free(ssl);
		return -ENOMEM;
	}
	tls_server_ref(srv);
	t->srv = srv;
	ring_timer_set(c->loop, &t->hs_timer, srv->handshake_timeout_ms);
	return 0;
}

int tls_client_attach(struct tls_client *cl, struct ring_conn *c, unsigned endpoint)
{
	WOLFSSL *ssl = tls_client_ssl(cl, endpoint);
	if (!ssl)
		return -ENOMEM;
	struct tls_conn *t = conn_new(c, ssl, TLS_SIDE_CLIENT, &tls_global_stats);
	if (!t) {
		wolfSSL_free(ssl);
		return -ENOMEM;
	}
	t->cl = cl;
	t->endpoint = endpoint;
	return 0;
}

const char *tls_conn_peer_subject(const struct ring_conn *c)
{
	if (c->filter != &tls_filter_ops)
		return NULL;
	const struct tls_conn *t = c->filter_ctx;
	return t->subject;
}

const char *tls_conn_version(const struct ring_conn *c)
{
	if (c->filter != &tls_filter_ops)
		return NULL;
	const struct tls_conn *t = c->filter_ctx;
	return wolfSSL_get_version(t->ssl);
}

/*
 * conn.c - socket I/O for one connection: multishot recv, ordered sends,
 * graceful and abortive close, and the bookkeeping that frees the owner
 * only when the kernel holds no reference to it any more.
 */
#include "ring/conn.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

/* How long a connection waits before retrying after the buffer pool ran
 * dry.  Short: the pool refills as soon as other connections are served. */
#define RING_STARVE_RETRY_MS 2u

static void conn_arm_recv(struct ring_conn *c);
static void conn_close_fd(struct ring_conn *c);
static void conn_submit_close(struct ring_conn *c);

static void conn_maybe_release(struct ring_conn *c)
{
	if ((c->flags & RC_FD_CLOSED) && c->inflight == 0) {
		ring_timer_cancel(c->loop, &c->timer);
		ring_timer_cancel(c->loop, &c->starve_timer);
		ring_defer_cancel(c->loop, &c->flush_defer);
		ring_outq_clear(&c->out);
		ring_outq_clear(&c->wire);
		if (c->filter)
			c->filter->release(c);
		c->ops->release(c);
	}
}

static void on_recv(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	struct ring_conn *c = container_of(op, struct ring_conn, recv_op);
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		c->flags &= ~RC_RECV_ARMED;
		c->inflight--;
	}

	int filter_end = 0;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		loop->bufs.out++;
		if (res > 0) {
			c->bytes_in += (unsigned)res;
			const char *data = ring_buf_data(&loop->bufs, bid);
			if (!(c->flags & (RC_CLOSING | RC_LINGER))) {
				if (c->filter)
					filter_end = c->filter->input(c, data, (size_t)res);
				else
					c->ops->recv(c, data, (size_t)res);
			}
		}
		ring_buf_put(&loop->bufs, bid);
	}
	if (filter_end != 0 && !(c->flags & RC_CLOSING)) {
		if (filter_end > 0)
			c->ops->eof(c, 0);
		else
			ring_conn_fail(c, filter_end);
	}

	if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED)) {
		if (c->flags & RC_LINGER)
			ring_conn_close(c);
		else if (!(c->flags & RC_CLOSING))
			c->ops->eof(c, res);
	} else if (res == -ENOBUFS) {
		/* The data is still in the socket; come back when the pool has
		 * a fair share free again. */
		c->flags |= RC_STARVED;
		ring_timer_set(loop, &c->starve_timer, RING_STARVE_RETRY_MS);
	} else if (!(c->flags & RC_RECV_ARMED)) {
		/* Ended by a pause that was already lifted, or by the kernel. */
		conn_arm_recv(c);
	}
	conn_maybe_release(c);
}

static void conn_arm_recv(struct ring_conn *c)
{
	if (c->flags & (RC_RECV_ARMED | RC_FD_CLOSED | RC_STARVED))
		return;
	if ((c->flags & (RC_RECV_PAUSED | RC_CLOSING)) && !(c->flags & RC_LINGER))
		return;
	struct io_uring_sqe *sqe = ring_sqe(c->loop, &c->recv_op);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = c->loop->bufs.bgid;
	c->flags |= RC_RECV_ARMED;
	c->inflight++;
}

static void conn_send_now(struct ring_conn *c)
{
	if (c->flags & (RC_SENDING | RC_FD_CLOSED | RC_CONNECTING))
		return;
	struct ring_outq *q = &c->out;
	if (c->filter) {
		if (!ring_outq_empty(&c->out) && c->filter->output(c) < 0) {
			ring_conn_close(c); /* the release tells the protocol */
			return;
		}
		q = &c->wire;
	}
	if (ring_outq_empty(q))
		return;
	unsigned n = ring_outq_iov(q, c->iov, sizeof(c->iov) / sizeof(c->iov[0]));
	assert(n > 0);
	struct io_uring_sqe *sqe = ring_sqe(c->loop, &c->send_op);
	if (n == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->msg, 0, sizeof(c->msg));
		c->msg.msg_iov = c->iov;
		c->msg.msg_iovlen = n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	}
	c->flags |= RC_SENDING;
	c->inflight++;
}

static void conn_start_linger(struct ring_conn *c)
{
	c->flags |= RC_LINGER | RC_SHUTTING;
	c->flags &= ~RC_RECV_PAUSED;
	struct io_uring_sqe *sqe = ring_sqe(c->loop, &c->shut_op);
	io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
	c->inflight++;
	conn_arm_recv(c);
	ring_timer_set(c->loop, &c->timer, RING_LINGER_MS);
}

static void on_send(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ring_conn *c = container_of(op, struct ring_conn, send_op);
	c->flags &= ~RC_SENDING;
	c->inflight--;

	if (c->flags & RC_FD_CLOSED) {
		conn_maybe_release(c);
		return;
	}
	if (cqe->res < 0) {
		if (!(c->flags & RC_CLOSING))
			c->ops->eof(c, cqe->res);
		else
			ring_conn_close(c);
		conn_maybe_release(c);
		return;
	}
	c->bytes_out += (unsigned)cqe->res;
	ring_outq_consume(c->filter ? &c->wire : &c->out, (size_t)cqe->res);

	/* With a filter, plaintext may wait for the handshake: nothing is
	 * sent then, and the filter flushes once it is done. */
	if (ring_conn_unsent(c))
		conn_send_now(c);
	if (c->flags & RC_SENDING || ring_conn_unsent(c)) {
		/* more to come */
	} else if (c->flags & RC_FLUSH_THEN_LINGER) {
		c->flags &= ~RC_FLUSH_THEN_LINGER;
		conn_start_linger(c);
	} else if (!(c->flags & RC_CLOSING)) {
		c->ops->drained(c);
	}
	conn_maybe_release(c);
}

static void on_close(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	(void)cqe;
	struct ring_conn *c = container_of(op, struct ring_conn, close_op);
	c->inflight--;
	conn_maybe_release(c);
}

static void on_shut(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ring_conn *c = container_of(op, struct ring_conn, shut_op);
	c->inflight--;
	c->flags &= ~RC_SHUTTING;
	if (c->flags & RC_FD_CLOSED) {
		if (c->fd >= 0) /* the close waited for this shutdown */
			conn_submit_close(c);
	} else if (cqe->res < 0) {
		ring_conn_close(c);
	}
	conn_maybe_release(c);
}

static void on_timer(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	struct ring_conn *c = container_of(t, struct ring_conn, timer);
	/* While closing the timer bounds the flush and the linger. */
	if (c->flags & RC_CLOSING)
		ring_conn_close(c);
	else
		c->ops->timeout(c);
}

static void on_starve_timer(struct ring_loop *loop, struct ring_timer *t)
{
	struct ring_conn *c = container_of(t, struct ring_conn, starve_timer);
	if (ring_bufs_hungry(&loop->bufs)) {
		ring_timer_set(loop, t, RING_STARVE_RETRY_MS);
		return;
	}
	c->flags &= ~RC_STARVED;
	conn_arm_recv(c);
}

static void on_flush_defer(struct ring_loop *loop, struct ring_defer *d)
{
	(void)loop;
	struct ring_conn *c = container_of(d, struct ring_conn, flush_defer);
	conn_send_now(c);
}

static void on_connect(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ring_conn *c = container_of(op, struct ring_conn, connect_op);
	c->inflight--;
	c->flags &= ~RC_CONNECTING;
	int res = cqe->res == -ECANCELED ? -ETIMEDOUT : cqe->res;
	if (c->flags & RC_CLOSING) {
		conn_maybe_release(c);
		return;
	}
	if (res < 0) {
		ring_conn_close(c);
		c->ops->connected(c, res);
	} else if (c->filter) {
		conn_arm_recv(c);
		c->flags |= RC_AWAIT_READY;
		c->filter->connected(c);
	} else {
		conn_arm_recv(c);
		c->ops->connected(c, 0);
		if (!(c->flags & RC_CLOSING))
			conn_send_now(c);
	}
	conn_maybe_release(c);
}

void ring_conn_ready(struct ring_conn *c, int err)
{
	if (!(c->flags & RC_AWAIT_READY))
		return;
	c->flags &= ~RC_AWAIT_READY;
	if (err < 0) {
		/* Let the filter's last words (an alert) reach the peer. */
		if (c->wire.bytes)
			ring_conn_close_after_flush(c);
		else
			ring_conn_close(c);
		c->ops->connected(c, err);
		return;
	}
	c->ops->connected(c, 0);
	if (!(c->flags & RC_CLOSING))
		conn_send_now(c);
}

void ring_conn_fail(struct ring_conn *c, int err)
{
	if (c->flags & RC_AWAIT_READY) {
		ring_conn_ready(c, err);
		return;
	}
	if (!(c->flags & RC_CLOSING))
		c->ops->eof(c, err);
}

void ring_conn_set_filter(struct ring_conn *c, const struct ring_filter_ops *filter, void *ctx)
{
	c->filter = filter;
	c->filter_ctx = ctx;
}

static void conn_init(struct ring_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		      int fd, const struct ring_conn_ops *ops)
{
	memset(c, 0, sizeof(*c));
	c->loop = loop;
	c->ops = ops;
	c->fd = fd;
	c->recv_op.fn = on_recv;
	c->send_op.fn = on_send;
	c->close_op.fn = on_close;
	c->shut_op.fn = on_shut;
	ring_timer_init(&c->timer, on_timer);
	ring_timer_init(&c->starve_timer, on_starve_timer);
	c->flush_defer.fn = on_flush_defer;
	c->connect_op.fn = on_connect;
	ring_outq_init(&c->out, chunks);
	ring_outq_init(&c->wire, chunks);
}

void ring_conn_start(struct ring_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		     int fd, const struct ring_conn_ops *ops)
{
	conn_init(c, loop, chunks, fd, ops);
	conn_arm_recv(c);
}

int ring_conn_connect(struct ring_conn *c, struct ring_loop *loop, struct ring_chunks *chunks,
		      const struct sockaddr *addr, socklen_t addrlen, uint32_t timeout_ms,
		      const struct ring_conn_ops *ops)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_init(c, loop, chunks, fd, ops);
	c->flags |= RC_CONNECTING;
	c->connect_ts.tv_sec = timeout_ms / 1000;
	c->connect_ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000LL;

	/* The kernel reads *addr when it takes the SQE, not now: the
	 * caller's address must stay put until the connect completes. */
	struct io_uring_sqe *sqe = ring_sqe(loop, &c->connect_op);
	io_uring_prep_connect(sqe, fd, addr, addrlen);
	sqe->flags |= IOSQE_IO_LINK;
	struct io_uring_sqe *tsqe = ring_sqe(loop, NULL);
	io_uring_prep_link_timeout(tsqe, &c->connect_ts, 0);
	c->inflight++;
	return 0;
}

void ring_conn_flush(struct ring_conn *c)
{
	conn_send_now(c);
}

void ring_conn_flush_later(struct ring_conn *c)
{
	if (!(c->flags & (RC_SENDING | RC_FD_CLOSED)))
		ring_defer(c->loop, &c->flush_defer);
}

void ring_conn_pause_recv(struct ring_conn *c)
{
	if (c->flags & RC_RECV_PAUSED)
		return;
	c->flags |= RC_RECV_PAUSED;
	if (c->flags & RC_RECV_ARMED) {
		/* Completions already queued still arrive; the protocol must
		 * take them (at most a few buffers). */
		struct io_uring_sqe *sqe = ring_sqe(c->loop, NULL);
		io_uring_prep_cancel(sqe, &c->recv_op, 0);
	}
}

void ring_conn_resume_recv(struct ring_conn *c)
{
	if (!(c->flags & RC_RECV_PAUSED))
		return;
	c->flags &= ~RC_RECV_PAUSED;
	conn_arm_recv(c);
}

static void conn_submit_close(struct ring_conn *c)
{
	struct io_uring_sqe *sqe = ring_sqe(c->loop, &c->close_op);
	io_uring_prep_close(sqe, c->fd);
	c->inflight++;
	c->fd = -1;
}

static void conn_close_fd(struct ring_conn *c)
{
	if (c->flags & RC_FD_CLOSED)
		return;
	c->flags |= RC_FD_CLOSED;
	if (c->flags & (RC_RECV_ARMED | RC_SENDING) || c->inflight) {
		/* A send to a client that stopped reading would wait forever:
		 * cancel everything on the socket, not only the recv. */
		struct io_uring_sqe *sqe = ring_sqe(c->loop, NULL);
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
	}
	/* The kernel always runs a shutdown in an io-wq thread and looks its
	 * descriptor up only then.  Closing now would let the next accept
	 * reuse the number, and the late shutdown would cut that connection
	 * off (its response fails with EPIPE): the close waits in on_shut. */
	if (c->flags & RC_SHUTTING)
		return;
	conn_submit_close(c);
}

void ring_conn_close(struct ring_conn *c)
{
	c->flags |= RC_CLOSING;
	c->flags &= ~RC_FLUSH_THEN_LINGER;
	ring_timer_cancel(c->loop, &c->timer);
	ring_timer_cancel(c->loop, &c->starve_timer);
	ring_defer_cancel(c->loop, &c->flush_defer);
	conn_close_fd(c);
}

void ring_conn_close_after_flush(struct ring_conn *c)
{
	if (c->flags & (RC_CLOSING | RC_FD_CLOSED))
		return;
	c->flags |= RC_CLOSING;
	ring_timer_cancel(c->loop, &c->timer);
	if (c->filter && !(c->flags & RC_CONNECTING))
		c->filter->shutdown(c);
	if (ring_conn_unsent(c) == 0 && !(c->flags & RC_SENDING)) {
		conn_start_linger(c);
		return;
	}
	c->flags |= RC_FLUSH_THEN_LINGER;
	ring_conn_flush_later(c);
	/* A client that never reads must not pin the connection. */
	ring_timer_set(c->loop, &c->timer, RING_LINGER_MS * 5);
}

void ring_conn_set_timer(struct ring_conn *c, uint64_t after_ms)
{
	ring_timer_set(c->loop, &c->timer, after_ms);
}

void ring_conn_cancel_timer(struct ring_conn *c)
{
	ring_timer_cancel(c->loop, &c->timer);
}

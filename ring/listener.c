/*
 * listener.c - listening sockets and the multishot accept loop.
 */
#include "ring/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_RETRY_MS 50u

static void listener_arm(struct ring_listener *l)
{
	if (l->armed || l->stopping)
		return;
	struct io_uring_sqe *sqe = ring_sqe(l->loop, &l->accept_op);
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	l->armed = true;
}

static void on_accept(struct ring_loop *loop, struct ring_op *op, const struct io_uring_cqe *cqe)
{
	struct ring_listener *l = container_of(op, struct ring_listener, accept_op);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		l->armed = false;

	if (cqe->res >= 0) {
		if (l->stopping)
			close(cqe->res);
		else
			l->on_accept(l, cqe->res);
	} else if (cqe->res != -ECANCELED) {
		l->accept_errors++;
		/* EMFILE/ENFILE/ENOMEM: the condition lasts a while; a
		 * short pause keeps the loop from spinning on it. */
		if (!l->armed && !l->stopping) {
			ring_timer_set(loop, &l->retry, ACCEPT_RETRY_MS);
			return;
		}
	}
	if (!l->armed && !l->stopping)
		listener_arm(l);
}

static void on_retry(struct ring_loop *loop, struct ring_timer *t)
{
	(void)loop;
	listener_arm(container_of(t, struct ring_listener, retry));
}

void ring_listener_start(struct ring_listener *l, struct ring_loop *loop, int fd,
			 ring_accept_fn *accept_cb)
{
	memset(l, 0, sizeof(*l));
	l->loop = loop;
	l->fd = fd;
	l->on_accept = accept_cb;
	l->accept_op.fn = on_accept;
	ring_timer_init(&l->retry, on_retry);
	listener_arm(l);
}

void ring_listener_stop(struct ring_listener *l)
{
	if (l->stopping)
		return;
	l->stopping = true;
	ring_timer_cancel(l->loop, &l->retry);
	if (l->armed) {
		struct io_uring_sqe *sqe = ring_sqe(l->loop, NULL);
		io_uring_prep_cancel(sqe, &l->accept_op, 0);
	}
	/* Closing the socket makes the kernel reset connections that sat in
	 * this worker's backlog; the other workers' sockets are still open
	 * while the drain runs, so new clients go there until they stop too. */
	struct io_uring_sqe *sqe = ring_sqe(l->loop, NULL);
	io_uring_prep_close(sqe, l->fd);
	l->fd = -1;
}

int ring_listen_tcp(const char *hostport, int backlog, const char **why)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(hostport, ':');
	*why = "expected HOST:PORT";
	if (!colon || colon == hostport || colon[1] == '\0')
		return -EINVAL;
	size_t hlen = (size_t)(colon - hostport);
	if (hostport[0] == '[') {
		if (hlen < 2 || hostport[hlen - 1] != ']')
			return -EINVAL;
		hostport++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	port = colon + 1;

	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	/* Start-up only: name resolution may block, the workers are not
	 * running yet. */
	int gai = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		*why = "cannot resolve address";
		return -EINVAL;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		*why = "socket";
		freeaddrinfo(res);
		return -errno;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		*why = "SO_REUSEPORT";
		goto fail;
	}
	/* Accepted sockets inherit TCP_NODELAY: responses leave in one send,
	 * so Nagle only adds latency. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		*why = "bind";
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		*why = "listen";
		goto fail;
	}
	freeaddrinfo(res);
	*why = NULL;
	return fd;
fail:;
	int err = -errno;
	close(fd);
	freeaddrinfo(res);
	return err;
}

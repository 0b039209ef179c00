/*
 * listener.h - multishot accept on one listening socket.
 *
 * Each worker has its own SO_REUSEPORT socket per listen address, so the
 * kernel spreads connections across workers and no accept is shared.
 */
#ifndef RINGGATE_LISTENER_H
#define RINGGATE_LISTENER_H

#include "ring/ring.h"

struct ring_listener;
/* A new connection (fd >= 0); the callee owns the fd. */
typedef void ring_accept_fn(struct ring_listener *l, int fd);

struct ring_listener {
	struct ring_loop *loop;
	int fd;
	bool armed, stopping;
	struct ring_op accept_op;
	struct ring_timer retry; /* after EMFILE/ENFILE: back off, don't spin */
	ring_accept_fn *on_accept;
	uint64_t accept_errors;
};

void ring_listener_start(struct ring_listener *l, struct ring_loop *loop, int fd,
			 ring_accept_fn *on_accept);
/* Stop accepting and close the socket (drain). */
void ring_listener_stop(struct ring_listener *l);

/*
 * Open a listening TCP socket for "host:port" ("[v6]:port" too) with
 * SO_REUSEPORT.  Returns the fd or -errno; *why names the failing step.
 */
int ring_listen_tcp(const char *hostport, int backlog, const char **why);

#endif

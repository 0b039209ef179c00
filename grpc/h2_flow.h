/*
 * h2_flow.h - HTTP/2 flow-control window arithmetic (RFC 9113 5.2, 6.9).
 *
 * A window is a signed count of bytes the sender may still send.  It is
 * kept in 64 bits because RFC 9113 6.9.2 lets a SETTINGS change drive a
 * stream window below zero, and because sums near 2^31-1 must be compared
 * before they are stored, not after they wrapped.
 *
 * The same type serves both directions:
 *   send:    h2_window_sendable() before sending DATA, h2_window_consume()
 *            for what was sent, h2_window_apply_update() on WINDOW_UPDATE,
 *            h2_window_apply_initial() when the server's SETTINGS change
 *            INITIAL_WINDOW_SIZE (stream windows only, never the connection).
 *   receive: struct h2_recv_window below, which adds the policy of when to
 *            open the window again.
 *
 * Every operation that can fail returns H2_NO_ERROR or the RFC error code
 * and leaves the window as it was.  Whether it is a stream or a connection
 * error depends on the window, which the caller knows.
 */
#ifndef RINGGATE_H2_FLOW_H
#define RINGGATE_H2_FLOW_H

#include <stdint.h>

#include "h2_frame.h"

struct h2_window {
	int64_t size; /* may be negative after a SETTINGS change; never > 2^31-1 */
};

void h2_window_init(struct h2_window *w, uint32_t initial);

/* n bytes of DATA (hdr.length, padding included) go against the window.
   More than is available: FLOW_CONTROL_ERROR (6.9.1). */
enum h2_error_code h2_window_consume(struct h2_window *w, uint32_t n);

/* A WINDOW_UPDATE of increment 1..2^31-1.  Over 2^31-1: FLOW_CONTROL_ERROR
   (6.9.1; a stream error for a stream window, a connection error else). */
enum h2_error_code h2_window_apply_update(struct h2_window *w, uint32_t increment);

/* SETTINGS_INITIAL_WINDOW_SIZE went from old_initial to new_initial: add
   the difference (6.9.2).  Below zero is legal; over 2^31-1 is a connection
   FLOW_CONTROL_ERROR. */
enum h2_error_code h2_window_apply_initial(struct h2_window *w, uint32_t old_initial,
					   uint32_t new_initial);

/* How much of `want` may be sent now: min(want, max(size, 0)). */
uint32_t h2_window_sendable(const struct h2_window *w, uint32_t want);

/*
 * The receive side, with the WINDOW_UPDATE policy.
 *
 *   0                      held            held + win.size          target
 *   |<- received, not yet ->|<- peer may send ->|<- deficit: ours to ->|
 *   |   released by the app |                   |   give back          |
 *
 * The aim is to let the peer have `target` bytes in flight or buffered.
 * Bytes the application has released (and any growth of target) form the
 * deficit; a WINDOW_UPDATE for all of it is due once it reaches
 * `threshold` (a quarter to a half of target), so updates are batched and
 * never sent per frame.  Set target above the initial 65535 and the first
 * update is due at once, which is how the connection window is enlarged
 * right after the preface.
 */
struct h2_recv_window {
	struct h2_window win; /* what the peer may still send, as it sees it */
	int64_t held;         /* received and not yet released */
	uint32_t target;      /* <= 2^31-1 */
	uint32_t threshold;   /* 1 .. max(target, 1) */
};

void h2_recv_init(struct h2_recv_window *r, uint32_t initial, uint32_t target, uint32_t threshold);

/* A DATA frame arrived; flow_len is its hdr.length.  FLOW_CONTROL_ERROR if
   the peer overran the window. */
enum h2_error_code h2_recv_on_data(struct h2_recv_window *r, uint32_t flow_len);

/* The application is done with n received bytes (n <= held).  Release
   padding and bytes of a stream that was reset at once. */
void h2_recv_release(struct h2_recv_window *r, uint32_t n);

/* The increment to send now, or 0 when no WINDOW_UPDATE is due yet. */
uint32_t h2_recv_update_due(const struct h2_recv_window *r);

/* The WINDOW_UPDATE for `increment` (what h2_recv_update_due said) is sent. */
void h2_recv_update_sent(struct h2_recv_window *r, uint32_t increment);

#endif

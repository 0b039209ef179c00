/*
 * pipeline.h - the request pipeline: named phases run in a fixed order.
 *
 *     route -> handle
 *
 * Each phase is one function that either passes the request on or
 * answers it.  Authentication and rate limiting join as phases between
 * route and handle; upstream calls are a kind of handle.
 */
#ifndef RINGGATE_PIPELINE_H
#define RINGGATE_PIPELINE_H

#include "http/h1_server.h"

struct worker;

void gw_pipeline_run(struct worker *w, struct http_exchange *x);

#endif

/*
 * hpack_static.c - the HPACK static table (RFC 7541 Appendix A) and the
 * encoder's lookup into it.
 *
 * The lookup switches on the name's length, then compares against the few
 * names of that length (at most six, each a fixed-size memcmp the compiler
 * turns into word compares); names with several static values are adjacent
 * in the table, so the value check is a short walk from the first one.
 */
#include "hpack_internal.h"

#include <string.h>

#define E(n, v, same)                                                                              \
	{                                                                                          \
		n, v, sizeof(n) - 1, sizeof(v) - 1, same                                           \
	}

const struct hpack_static_entry hpack_static_table[HPACK_STATIC_COUNT + 1] = {
	{"", "", 0, 0, 0},
	E(":authority", "", 1),
	E(":method", "GET", 2),
	E(":method", "POST", 0),
	E(":path", "/", 2),
	E(":path", "/index.html", 0),
	E(":scheme", "http", 2),
	E(":scheme", "https", 0),
	E(":status", "200", 7),
	E(":status", "204", 0),
	E(":status", "206", 0),
	E(":status", "304", 0),
	E(":status", "400", 0),
	E(":status", "404", 0),
	E(":status", "500", 0),
	E("accept-charset", "", 1),
	E("accept-encoding", "gzip, deflate", 1),
	E("accept-language", "", 1),
	E("accept-ranges", "", 1),
	E("accept", "", 1),
	E("access-control-allow-origin", "", 1),
	E("age", "", 1),
	E("allow", "", 1),
	E("authorization", "", 1),
	E("cache-control", "", 1),
	E("content-disposition", "", 1),
	E("content-encoding", "", 1),
	E("content-language", "", 1),
	E("content-length", "", 1),
	E("content-location", "", 1),
	E("content-range", "", 1),
	E("content-type", "", 1),
	E("cookie", "", 1),
	E("date", "", 1),
	E("etag", "", 1),
	E("expect", "", 1),
	E("expires", "", 1),
	E("from", "", 1),
	E("host", "", 1),
	E("if-match", "", 1),
	E("if-modified-since", "", 1),
	E("if-none-match", "", 1),
	E("if-range", "", 1),
	E("if-unmodified-since", "", 1),
	E("last-modified", "", 1),
	E("link", "", 1),
	E("location", "", 1),
	E("max-forwards", "", 1),
	E("proxy-authenticate", "", 1),
	E("proxy-authorization", "", 1),
	E("range", "", 1),
	E("referer", "", 1),
	E("refresh", "", 1),
	E("retry-after", "", 1),
	E("server", "", 1),
	E("set-cookie", "", 1),
	E("strict-transport-security", "", 1),
	E("transfer-encoding", "", 1),
	E("user-agent", "", 1),
	E("vary", "", 1),
	E("via", "", 1),
	E("www-authenticate", "", 1),
};

/* The lowest static index of a name, or 0.  `len` is the name's length. */
static unsigned static_name(const char *n, size_t len)
{
#define NAME(idx, lit)                                                                             \
	do {                                                                                       \
		if (memcmp(n, lit, sizeof(lit) - 1) == 0)                                          \
			return idx;                                                                \
	} while (0)

	switch (len) {
	case 3:
		NAME(21, "age");
		NAME(60, "via");
		break;
	case 4:
		NAME(33, "date");
		NAME(34, "etag");
		NAME(37, "from");
		NAME(38, "host");
		NAME(45, "link");
		NAME(59, "vary");
		break;
	case 5:
		NAME(4, ":path");
		NAME(22, "allow");
		NAME(50, "range");
		break;
	case 6:
		NAME(19, "accept");
		NAME(32, "cookie");
		NAME(35, "expect");
		NAME(54, "server");
		break;
	case 7:
		NAME(2, ":method");
		NAME(6, ":scheme");
		NAME(8, ":status");
		NAME(36, "expires");
		NAME(51, "referer");
		NAME(52, "refresh");
		break;
	case 8:
		NAME(39, "if-match");
		NAME(42, "if-range");
		NAME(46, "location");
		break;
	case 10:
		NAME(1, ":authority");
		NAME(55, "set-cookie");
		NAME(58, "user-agent");
		break;
	case 11: NAME(53, "retry-after"); break;
	case 12:
		NAME(31, "content-type");
		NAME(47, "max-forwards");
		break;
	case 13:
		NAME(18, "accept-ranges");
		NAME(23, "authorization");
		NAME(24, "cache-control");
		NAME(30, "content-range");
		NAME(41, "if-none-match");
		NAME(44, "last-modified");
		break;
	case 14:
		NAME(15, "accept-charset");
		NAME(28, "content-length");
		break;
	case 15:
		NAME(16, "accept-encoding");
		NAME(17, "accept-language");
		break;
	case 16:
		NAME(26, "content-encoding");
		NAME(27, "content-language");
		NAME(29, "content-location");
		NAME(61, "www-authenticate");
		break;
	case 17:
		NAME(40, "if-modified-since");
		NAME(57, "transfer-encoding");
		break;
	case 18: NAME(48, "proxy-authenticate"); break;
	case 19:
		NAME(25, "content-disposition");
		NAME(43, "if-unmodified-since");
		NAME(49, "proxy-authorization");
		break;
	case 25: NAME(56, "strict-transport-security"); break;
	case 27: NAME(20, "access-control-allow-origin"); break;
	}
	return 0;
#undef NAME
}

unsigned hpack_static_find(const char *name, size_t name_len, const char *value, size_t value_len,
			   unsigned *name_idx)
{
	unsigned first = static_name(name, name_len);

	*name_idx = first;
	if (!first)
		return 0;
	for (unsigned i = first; i < first + hpack_static_table[first].same_name; i++) {
		const struct hpack_static_entry *s = &hpack_static_table[i];

		if (s->value_len == value_len &&
		    (value_len == 0 || memcmp(s->value, value, value_len) == 0))
			return i;
	}
	return 0;
}

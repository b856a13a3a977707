/*
 * JSON text <-> QObject.
 */
#ifndef QOBJECT_QJSON_H
#define QOBJECT_QJSON_H

#include "qobject/qobject.h"
#include "qapi/error.h"

/* Compact form: {"a": 1, "b": [1, 2]} (QEMU's separators). */
GString *qobject_to_json(const QObject *obj);
/*
 * Pretty form exactly as QEMU 7.2 prints it: 4-space indent, one
 * member per line, and an empty list or dict opened and closed on
 * consecutive lines at the parent's indent.
 */
GString *qobject_to_json_pretty(const QObject *obj, bool pretty);

/*
 * The scalars of that text, shared with the streaming JSON emitter
 * (qapi/emitter.h) so that both print the same bytes: a string quoted
 * and escaped as QEMU escapes it, and numbers.
 */
void qjson_append_string(GString *out, const char *str);

/*
 * g_string_append_len() for the hot paths of those printers: a copy
 * when there is room, GLib's (slower, general) append otherwise.
 */
static inline void qjson_append_len(GString *out, const char *s, size_t n)
{
    if (out->len + n < out->allocated_len) {
        memcpy(out->str + out->len, s, n);
        out->len += n;
        out->str[out->len] = '\0';
    } else {
        g_string_append_len(out, s, n);
    }
}

static inline void qjson_append_c(GString *out, char c)
{
    qjson_append_len(out, &c, 1);
}
void qjson_append_int(GString *out, int64_t value);
void qjson_append_uint(GString *out, uint64_t value);

/*
 * The same digits stored at @dst, which must have room for
 * QJSON_INT_MAX bytes (no NUL is written); returns the end of them.
 * For printers that reserve room once for a whole line.
 */
#define QJSON_INT_MAX 20        /* "-9223372036854775808" */
char *qjson_put_int(char *dst, int64_t value);
char *qjson_put_uint(char *dst, uint64_t value);
void qjson_append_double(GString *out, double value);

/* Parse exactly one JSON value; NULL with @errp set on any error. */
QObject *qobject_from_json(const char *string, Error **errp);

#endif

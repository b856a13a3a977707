/*
 * QapiEmitter: QAPI values printed while they are walked, as QEMU 7.2's
 * pretty JSON or as qemu-img's human "key: value" lines (see
 * qapi/emitter.h).
 */
#include "qapi/emitter.h"
#include "qobject/qjson.h"

/* For a FILE, text is collected and written in pieces of this size. */
#define EMITTER_FLUSH_BYTES (64 * 1024)

typedef enum EmitterFormat {
    EMITTER_JSON,
    EMITTER_HUMAN,
} EmitterFormat;

/* One open struct or list. */
typedef struct EmitterFrame {
    bool is_list;
    bool member_named;          /* a struct member's value is due */
    uint64_t count;             /* members or items begun so far */
} EmitterFrame;

struct QapiEmitter {
    EmitterFormat format;
    FILE *file;                 /* NULL: @buf is the caller's GString */
    GString *buf;
    int indent;                 /* human: level of the outermost members */
    /* Open structs and lists, innermost last (a plain stack: hot). */
    EmitterFrame *frames;
    unsigned depth;
    unsigned frames_cap;
};

static QapiEmitter *emitter_new(EmitterFormat format, FILE *file,
                                GString *buf, int indent)
{
    QapiEmitter *e = g_new0(QapiEmitter, 1);

    e->format = format;
    e->file = file;
    e->buf = file ? g_string_sized_new(EMITTER_FLUSH_BYTES) : buf;
    e->indent = indent;
    e->frames_cap = 8;
    e->frames = g_new(EmitterFrame, e->frames_cap);
    return e;
}

QapiEmitter *qapi_json_emitter_new(FILE *out)
{
    g_assert(out);
    return emitter_new(EMITTER_JSON, out, NULL, 0);
}

QapiEmitter *qapi_json_emitter_new_gstring(GString *out)
{
    g_assert(out);
    return emitter_new(EMITTER_JSON, NULL, out, 0);
}

QapiEmitter *qapi_human_emitter_new(FILE *out, int indent)
{
    g_assert(out && indent >= 0);
    return emitter_new(EMITTER_HUMAN, out, NULL, indent);
}

QapiEmitter *qapi_human_emitter_new_gstring(GString *out, int indent)
{
    g_assert(out && indent >= 0);
    return emitter_new(EMITTER_HUMAN, NULL, out, indent);
}

static void emitter_flush(QapiEmitter *e)
{
    if (e->file && e->buf->len) {
        fwrite(e->buf->str, 1, e->buf->len, e->file);
        g_string_truncate(e->buf, 0);
    }
}

void qapi_emitter_free(QapiEmitter *e)
{
    if (!e) {
        return;
    }
    emitter_flush(e);
    if (e->file) {
        g_string_free(e->buf, TRUE);
    }
    g_free(e->frames);
    g_free(e);
}

static EmitterFrame *emitter_top(QapiEmitter *e)
{
    return e->depth ? &e->frames[e->depth - 1] : NULL;
}

/* JSON: a newline, then four spaces per level. */
static void append_spaces(GString *buf, size_t n)
{
    static const char spaces[] = "                                "
                                 "                                ";

    while (n) {
        size_t k = MIN(n, sizeof(spaces) - 1);
        qjson_append_len(buf, spaces, k);
        n -= k;
    }
}

/*
 * Room for @n more bytes at the end of @buf, counted in its length: the
 * caller fills them.  One growth check for a whole line of JSON.
 */
static char *json_reserve(GString *buf, size_t n)
{
    size_t len = buf->len;

    if (len + n >= buf->allocated_len) {
        g_string_set_size(buf, len + n);
    } else {
        buf->len = len + n;
        buf->str[buf->len] = '\0';
    }
    return buf->str + len;
}

static void json_newline(QapiEmitter *e, unsigned level)
{
    size_t n = (size_t)level * 4;
    char *p = json_reserve(e->buf, 1 + n);

    *p = '\n';
    memset(p + 1, ' ', n);
}

/* Human: the indent of what the innermost open struct or list holds. */
static void human_indent(QapiEmitter *e)
{
    append_spaces(e->buf, (size_t)(e->indent + e->depth - 1) * 4);
}

/*
 * What comes before a value: in JSON the separator and line break of a
 * list item (a member's were printed with its name); for people a list
 * item's "[i]:" label, then the value on the same line after a space,
 * or for a struct or list on the lines below.  The outermost value has
 * neither.
 */
static void emitter_begin_value(QapiEmitter *e, bool composite)
{
    EmitterFrame *f = emitter_top(e);

    if (!f) {
        return;
    }
    if (f->is_list) {
        if (e->format == EMITTER_JSON) {
            if (f->count) {
                qjson_append_c(e->buf, ',');
            }
            json_newline(e, e->depth);
        } else {
            human_indent(e);
            g_string_append_printf(e->buf, "[%" PRIu64 "]:", f->count);
        }
        f->count++;
    } else {
        g_assert(f->member_named);
        f->member_named = false;
    }
    if (e->format == EMITTER_HUMAN) {
        qjson_append_c(e->buf, composite ? '\n' : ' ');
    }
}

static void emitter_end_value(QapiEmitter *e)
{
    if (!e->depth || e->buf->len >= EMITTER_FLUSH_BYTES) {
        emitter_flush(e);
    }
}

/* Human output ends every scalar's line, nested or not. */
static void emitter_end_scalar(QapiEmitter *e)
{
    if (e->format == EMITTER_HUMAN) {
        qjson_append_c(e->buf, '\n');
    }
    emitter_end_value(e);
}

static void emitter_start(QapiEmitter *e, bool is_list)
{
    EmitterFrame frame = { .is_list = is_list };

    emitter_begin_value(e, true);
    if (e->format == EMITTER_JSON) {
        qjson_append_c(e->buf, is_list ? '[' : '{');
    }
    if (e->depth == e->frames_cap) {
        e->frames_cap *= 2;
        e->frames = g_renew(EmitterFrame, e->frames, e->frames_cap);
    }
    e->frames[e->depth++] = frame;
}

/*
 * QEMU 7.2 breaks the line before the closing bracket even when nothing
 * was printed inside: an empty list is "[", newline, indent, "]".
 */
static void emitter_end(QapiEmitter *e, bool is_list)
{
    EmitterFrame *f = emitter_top(e);

    g_assert(f && f->is_list == is_list && !f->member_named);
    e->depth--;
    if (e->format == EMITTER_JSON) {
        json_newline(e, e->depth);
        qjson_append_c(e->buf, is_list ? ']' : '}');
    }
    emitter_end_value(e);
}

void qapi_emitter_start_struct(QapiEmitter *e)
{
    emitter_start(e, false);
}

void qapi_emitter_end_struct(QapiEmitter *e)
{
    emitter_end(e, false);
}

void qapi_emitter_start_list(QapiEmitter *e)
{
    emitter_start(e, true);
}

void qapi_emitter_end_list(QapiEmitter *e)
{
    emitter_end(e, true);
}

void qapi_emitter_member(QapiEmitter *e, const char *name)
{
    EmitterFrame *f = emitter_top(e);

    g_assert(f && !f->is_list && !f->member_named);
    if (e->format == EMITTER_JSON) {
        /*
         * ',' newline indent '"name": ' in one go.  Member names come
         * from the schema: identifiers with nothing to escape.
         */
        size_t len = strlen(name), ind = (size_t)e->depth * 4;
        size_t comma = f->count ? 1 : 0;
        char *p = json_reserve(e->buf, comma + 1 + ind + len + 4);

        if (comma) {
            *p++ = ',';
        }
        *p++ = '\n';
        memset(p, ' ', ind);
        p += ind;
        *p++ = '"';
        memcpy(p, name, len);
        p += len;
        memcpy(p, "\": ", 3);
    } else {
        human_indent(e);
        /* People read "lazy refcounts", not "lazy-refcounts". */
        for (const char *p = name; *p; p++) {
            qjson_append_c(e->buf, *p == '-' ? ' ' : *p);
        }
        qjson_append_c(e->buf, ':');
    }
    f->count++;
    f->member_named = true;
}

void qapi_emitter_int(QapiEmitter *e, int64_t value)
{
    emitter_begin_value(e, false);
    qjson_append_int(e->buf, value);
    emitter_end_scalar(e);
}

void qapi_emitter_uint(QapiEmitter *e, uint64_t value)
{
    emitter_begin_value(e, false);
    qjson_append_uint(e->buf, value);
    emitter_end_scalar(e);
}

void qapi_emitter_double(QapiEmitter *e, double value)
{
    emitter_begin_value(e, false);
    if (e->format == EMITTER_JSON) {
        qjson_append_double(e->buf, value);
    } else {
        /* qemu-img prints a number for people with printf's "%f". */
        g_string_append_printf(e->buf, "%f", value);
    }
    emitter_end_scalar(e);
}

void qapi_emitter_bool(QapiEmitter *e, bool value)
{
    emitter_begin_value(e, false);
    g_string_append(e->buf, value ? "true" : "false");
    emitter_end_scalar(e);
}

void qapi_emitter_str(QapiEmitter *e, const char *value)
{
    emitter_begin_value(e, false);
    if (e->format == EMITTER_JSON) {
        qjson_append_string(e->buf, value ? value : "");
    } else {
        /* For people a string is printed as it is, unescaped. */
        g_string_append(e->buf, value ? value : "");
    }
    emitter_end_scalar(e);
}

void qapi_emitter_null(QapiEmitter *e)
{
    emitter_begin_value(e, false);
    qjson_append_len(e->buf, "null", sizeof("null") - 1);
    emitter_end_scalar(e);
}

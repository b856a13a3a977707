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

/*
 * JSON is written straight into the buffer: a line's room is reserved
 * once, filled through a pointer, then committed.  Fast paths store
 * fixed-size blocks (a 32-byte indent, a padded member name) and then
 * move on by what they meant to write, so every reservation keeps this
 * much room past what it counts; the extra bytes are overwritten next
 * or lie past the end of the string.
 */
#define EMITTER_SLACK 96

/*
 * Levels whose newline and indent come from one fixed-size copy: 32
 * bytes, two vector moves, enough for what `check -M` nests.
 */
#define JSON_INDENT_BLOCK 32
#define JSON_FAST_LEVELS 7
static const char json_newline_indent[JSON_INDENT_BLOCK + 1] = "\n"
    "                               ";
G_STATIC_ASSERT(1 + 4 * JSON_FAST_LEVELS <= JSON_INDENT_BLOCK);
G_STATIC_ASSERT(JSON_INDENT_BLOCK <= EMITTER_SLACK);

static G_NO_INLINE char *emitter_grow(QapiEmitter *e, size_t n)
{
    size_t len = e->buf->len;

    g_string_set_size(e->buf, len + n);
    g_string_truncate(e->buf, len);
    return e->buf->str + len;
}

/* Where the next @n bytes go (plus the slack); see emitter_commit(). */
static inline char *emitter_room(QapiEmitter *e, size_t n)
{
    GString *buf = e->buf;

    n += EMITTER_SLACK;
    if (G_UNLIKELY(buf->len + n >= buf->allocated_len)) {
        return emitter_grow(e, n);
    }
    return buf->str + buf->len;
}

/* The text up to @end, which emitter_room() returned room for, is done. */
static inline void emitter_commit(QapiEmitter *e, char *end)
{
    e->buf->len = end - e->buf->str;
    *end = '\0';
}

/* JSON: a newline, then four spaces per level.  Room: 1 + 4 * level. */
static inline char *json_put_newline(char *p, unsigned level)
{
    size_t n = 1 + (size_t)level * 4;

    if (G_LIKELY(level <= JSON_FAST_LEVELS)) {
        memcpy(p, json_newline_indent, JSON_INDENT_BLOCK);
    } else {
        *p = '\n';
        memset(p + 1, ' ', n - 1);
    }
    return p + n;
}

static EmitterFrame *emitter_top(QapiEmitter *e)
{
    return e->depth ? &e->frames[e->depth - 1] : NULL;
}

/* Human: the indent of what the innermost open struct or list holds. */
static void human_indent(QapiEmitter *e)
{
    size_t n = (size_t)(e->indent + e->depth - 1) * 4;
    char *p = emitter_room(e, n);

    memset(p, ' ', n);
    emitter_commit(e, p + n);
}

/*
 * JSON: what comes before a value, then room for @n bytes of it.  A
 * list item is preceded by its separator and line break; a member's
 * were printed with its name; the outermost value has neither.
 */
static G_ALWAYS_INLINE inline char *json_begin_value(QapiEmitter *e, size_t n)
{
    EmitterFrame *f = emitter_top(e);
    char *p;

    if (!f) {
        return emitter_room(e, n);
    }
    if (!f->is_list) {
        g_assert(f->member_named);
        f->member_named = false;
        return emitter_room(e, n);
    }
    p = emitter_room(e, 2 + (size_t)e->depth * 4 + n);
    /* Stored always, kept only after the first item: no branch. */
    *p = ',';
    p += f->count != 0;
    f->count++;
    return json_put_newline(p, e->depth);
}

/*
 * Human: a list item's "[i]:" label, then the value on the same line
 * after a space, or for a struct or list on the lines below.  The
 * outermost value has neither; a member's name was printed already.
 */
static void human_begin_value(QapiEmitter *e, bool composite)
{
    EmitterFrame *f = emitter_top(e);

    if (!f) {
        return;
    }
    if (f->is_list) {
        char *p;

        human_indent(e);
        /* "[i]:" without printf: `check -M` labels 100,000s of items. */
        p = emitter_room(e, 1 + QJSON_INT_MAX + 2);
        *p++ = '[';
        p = qjson_put_uint(p, f->count);
        memcpy(p, "]:", 2);
        emitter_commit(e, p + 2);
        f->count++;
    } else {
        g_assert(f->member_named);
        f->member_named = false;
    }
    qjson_append_c(e->buf, composite ? '\n' : ' ');
}

/* Before a scalar that the caller appends to e->buf itself. */
static void emitter_begin_scalar(QapiEmitter *e)
{
    if (e->format == EMITTER_JSON) {
        emitter_commit(e, json_begin_value(e, 0));
    } else {
        human_begin_value(e, false);
    }
}

static inline void emitter_end_value(QapiEmitter *e)
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
    if (e->format == EMITTER_JSON) {
        char *p = json_begin_value(e, 1);

        *p++ = is_list ? '[' : '{';
        emitter_commit(e, p);
    } else {
        human_begin_value(e, true);
    }
    if (e->depth == e->frames_cap) {
        e->frames_cap *= 2;
        e->frames = g_renew(EmitterFrame, e->frames, e->frames_cap);
    }
    e->frames[e->depth++] = (EmitterFrame) { .is_list = is_list };
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
        char *p = emitter_room(e, 2 + (size_t)e->depth * 4);

        p = json_put_newline(p, e->depth);
        *p++ = is_list ? ']' : '}';
        emitter_commit(e, p);
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

/* The innermost frame, which must be a struct waiting for a member. */
static EmitterFrame *emitter_member_frame(QapiEmitter *e)
{
    EmitterFrame *f = emitter_top(e);

    g_assert(f && !f->is_list && !f->member_named);
    return f;
}

/*
 * JSON: ',' (but before the first member), newline, indent and
 * '"name": ' in one go, then room for @n bytes of the value.  Member
 * names come from the schema: identifiers with nothing to escape.
 */
static char *json_put_member(QapiEmitter *e, EmitterFrame *f,
                             const char *name, size_t len, size_t n)
{
    char *p = emitter_room(e, 2 + (size_t)e->depth * 4 + len + 4 + n);

    *p = ',';
    p += f->count != 0;
    p = json_put_newline(p, e->depth);
    *p++ = '"';
    memcpy(p, name, len);
    p += len;
    memcpy(p, "\": ", 3);
    return p + 3;
}

void qapi_emitter_member_len(QapiEmitter *e, const char *name, size_t len)
{
    EmitterFrame *f = emitter_member_frame(e);

    if (e->format == EMITTER_JSON) {
        emitter_commit(e, json_put_member(e, f, name, len, 0));
    } else {
        char *p;

        human_indent(e);
        p = emitter_room(e, len + 1);
        /* People read "lazy refcounts", not "lazy-refcounts". */
        for (size_t i = 0; i < len; i++) {
            *p++ = name[i] == '-' ? ' ' : name[i];
        }
        *p++ = ':';
        emitter_commit(e, p);
    }
    f->count++;
    f->member_named = true;
}

void qapi_emitter_member(QapiEmitter *e, const char *name)
{
    qapi_emitter_member_len(e, name, strlen(name));
}

/* An integer value, @v.i if @is_signed, else @v.u. */
static void emit_integer(QapiEmitter *e, bool is_signed, QapiEmitterInt v)
{
    if (e->format == EMITTER_JSON) {
        char *p = json_begin_value(e, QJSON_INT_MAX);

        p = is_signed ? qjson_put_int(p, v.i) : qjson_put_uint(p, v.u);
        emitter_commit(e, p);
        emitter_end_value(e);
    } else {
        human_begin_value(e, false);
        if (is_signed) {
            qjson_append_int(e->buf, v.i);
        } else {
            qjson_append_uint(e->buf, v.u);
        }
        emitter_end_scalar(e);
    }
}

/* A member and its integer value, @v.i if @is_signed, else @v.u. */
static void member_integer(QapiEmitter *e, const char *name, size_t len,
                           bool is_signed, QapiEmitterInt v)
{
    if (e->format == EMITTER_JSON) {
        EmitterFrame *f = emitter_member_frame(e);
        char *p = json_put_member(e, f, name, len, QJSON_INT_MAX);

        p = is_signed ? qjson_put_int(p, v.i) : qjson_put_uint(p, v.u);
        emitter_commit(e, p);
        f->count++;
        emitter_end_value(e);
    } else {
        qapi_emitter_member_len(e, name, len);
        emit_integer(e, is_signed, v);
    }
}

void qapi_emitter_member_int(QapiEmitter *e, const char *name, size_t len,
                             int64_t value)
{
    member_integer(e, name, len, true, (QapiEmitterInt) { .i = value });
}

void qapi_emitter_member_uint(QapiEmitter *e, const char *name, size_t len,
                              uint64_t value)
{
    member_integer(e, name, len, false, (QapiEmitterInt) { .u = value });
}

/* JSON: a struct of integer members, one line each, all in one go. */
static void json_int_struct(QapiEmitter *e,
                            const QapiEmitterIntMember *members,
                            const QapiEmitterInt *values, size_t n)
{
    unsigned level = e->depth + 1;      /* the members' */
    size_t line = 2 + (size_t)level * 4 + QAPI_EMITTER_INT_NAME_MAX + 4
                  + QJSON_INT_MAX;
    char *p = json_begin_value(e, 1 + n * line + 2 + (size_t)e->depth * 4);

    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        /* A longer name would run past the room counted for it. */
        g_assert(members[i].len < QAPI_EMITTER_INT_NAME_MAX);
        *p = ',';
        p += i != 0;
        p = json_put_newline(p, level);
        *p++ = '"';
        /* The padded name as one block; the length says what counts. */
        memcpy(p, members[i].name, QAPI_EMITTER_INT_NAME_MAX);
        p += members[i].len;
        memcpy(p, "\": ", 3);
        p += 3;
        p = members[i].is_signed ? qjson_put_int(p, values[i].i)
                                 : qjson_put_uint(p, values[i].u);
    }
    p = json_put_newline(p, e->depth);
    *p++ = '}';
    emitter_commit(e, p);
    emitter_end_value(e);
}

void qapi_emitter_int_struct(QapiEmitter *e,
                             const QapiEmitterIntMember *members,
                             const QapiEmitterInt *values, size_t n)
{
    if (e->format == EMITTER_JSON) {
        json_int_struct(e, members, values, n);
        return;
    }
    qapi_emitter_start_struct(e);
    for (size_t i = 0; i < n; i++) {
        member_integer(e, members[i].name, members[i].len,
                       members[i].is_signed, values[i]);
    }
    qapi_emitter_end_struct(e);
}

void qapi_emitter_int(QapiEmitter *e, int64_t value)
{
    emit_integer(e, true, (QapiEmitterInt) { .i = value });
}

void qapi_emitter_uint(QapiEmitter *e, uint64_t value)
{
    emit_integer(e, false, (QapiEmitterInt) { .u = value });
}

void qapi_emitter_double(QapiEmitter *e, double value)
{
    emitter_begin_scalar(e);
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
    emitter_begin_scalar(e);
    g_string_append(e->buf, value ? "true" : "false");
    emitter_end_scalar(e);
}

void qapi_emitter_str(QapiEmitter *e, const char *value)
{
    emitter_begin_scalar(e);
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
    emitter_begin_scalar(e);
    qjson_append_len(e->buf, "null", sizeof("null") - 1);
    emitter_end_scalar(e);
}

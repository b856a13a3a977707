/*
 * JSON text -> QObject.  Accepts RFC 8259 JSON plus, like QEMU,
 * single-quoted strings.  Nesting is bounded so that hostile input
 * (json: filenames come from users and from image headers) cannot
 * exhaust the stack.
 */
#include "qobject/qobject-all.h"

#define JSON_MAX_NESTING 1024

typedef struct JSONParser {
    const char *p;
    int depth;
    Error **errp;
    bool failed;
} JSONParser;

static QObject *parse_value(JSONParser *ps);

static void parse_error(JSONParser *ps, const char *what)
{
    if (!ps->failed) {
        ps->failed = true;
        error_setg(ps->errp, "JSON parse error, %s", what);
    }
}

static void skip_ws(JSONParser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
           *ps->p == '\r') {
        ps->p++;
    }
}

static int hex4(const char *s)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int d = g_ascii_xdigit_value(s[i]);
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

static bool parse_escape(JSONParser *ps, GString *out)
{
    char c = *ps->p++;
    int cp, lo;

    switch (c) {
    case '"': case '\'': case '\\': case '/':
        g_string_append_c(out, c);
        return true;
    case 'b':
        g_string_append_c(out, '\b');
        return true;
    case 'f':
        g_string_append_c(out, '\f');
        return true;
    case 'n':
        g_string_append_c(out, '\n');
        return true;
    case 'r':
        g_string_append_c(out, '\r');
        return true;
    case 't':
        g_string_append_c(out, '\t');
        return true;
    case 'u':
        break;
    default:
        parse_error(ps, "invalid escape sequence in string");
        return false;
    }
    cp = hex4(ps->p);
    if (cp < 0) {
        parse_error(ps, "invalid hex escape sequence in string");
        return false;
    }
    ps->p += 4;
    if (cp >= 0xd800 && cp < 0xdc00) {
        if (ps->p[0] != '\\' || ps->p[1] != 'u' ||
            (lo = hex4(ps->p + 2)) < 0xdc00 || lo >= 0xe000) {
            parse_error(ps, "missing low surrogate in string");
            return false;
        }
        ps->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp < 0xe000) {
        parse_error(ps, "unpaired low surrogate in string");
        return false;
    } else if (cp == 0) {
        parse_error(ps, "\\u0000 is not supported");
        return false;
    }
    g_string_append_unichar(out, (gunichar)cp);
    return true;
}

static QObject *parse_string(JSONParser *ps)
{
    char quote = *ps->p++;
    g_autoptr(GString) out = g_string_new(NULL);

    for (;;) {
        char c = *ps->p;
        if (c == '\0') {
            parse_error(ps, "unterminated string");
            return NULL;
        }
        ps->p++;
        if (c == quote) {
            break;
        }
        if ((unsigned char)c < 0x20) {
            parse_error(ps, "control character in string");
            return NULL;
        }
        if (c == '\\') {
            if (!parse_escape(ps, out)) {
                return NULL;
            }
        } else {
            g_string_append_c(out, c);
        }
    }
    return QOBJECT(qstring_from_str(out->str));
}

static QObject *parse_number(JSONParser *ps)
{
    const char *start = ps->p;
    bool is_float = false;
    g_autofree char *text = NULL;
    char *end;

    if (*ps->p == '-') {
        ps->p++;
    }
    if (!g_ascii_isdigit(*ps->p)) {
        parse_error(ps, "invalid number");
        return NULL;
    }
    while (g_ascii_isdigit(*ps->p)) {
        ps->p++;
    }
    if (*ps->p == '.') {
        is_float = true;
        ps->p++;
        while (g_ascii_isdigit(*ps->p)) {
            ps->p++;
        }
    }
    if (*ps->p == 'e' || *ps->p == 'E') {
        is_float = true;
        ps->p++;
        if (*ps->p == '+' || *ps->p == '-') {
            ps->p++;
        }
        while (g_ascii_isdigit(*ps->p)) {
            ps->p++;
        }
    }
    text = g_strndup(start, ps->p - start);
    if (!is_float) {
        errno = 0;
        if (text[0] == '-') {
            long long v = strtoll(text, &end, 10);
            if (!errno && !*end) {
                return QOBJECT(qnum_from_int(v));
            }
        } else {
            unsigned long long v = strtoull(text, &end, 10);
            if (!errno && !*end) {
                return v <= INT64_MAX ? QOBJECT(qnum_from_int((int64_t)v))
                                      : QOBJECT(qnum_from_uint(v));
            }
        }
    }
    return QOBJECT(qnum_from_double(g_ascii_strtod(text, NULL)));
}

static bool parse_literal(JSONParser *ps, const char *word)
{
    size_t n = strlen(word);

    if (strncmp(ps->p, word, n) || g_ascii_isalnum(ps->p[n])) {
        return false;
    }
    ps->p += n;
    return true;
}

static QObject *parse_dict(JSONParser *ps)
{
    g_autoptr(QDict) dict = qdict_new();

    ps->p++;
    skip_ws(ps);
    if (*ps->p == '}') {
        ps->p++;
        return QOBJECT(g_steal_pointer(&dict));
    }
    for (;;) {
        g_autoptr(QObject) key = NULL;
        QObject *value;

        skip_ws(ps);
        if (*ps->p != '"' && *ps->p != '\'') {
            parse_error(ps, "expecting a string as object key");
            return NULL;
        }
        key = parse_string(ps);
        if (!key) {
            return NULL;
        }
        skip_ws(ps);
        if (*ps->p++ != ':') {
            parse_error(ps, "missing ':' in object");
            return NULL;
        }
        value = parse_value(ps);
        if (!value) {
            return NULL;
        }
        qdict_put_obj(dict, qstring_get_str(qobject_to_qstring(key)), value);
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
        } else if (*ps->p == '}') {
            ps->p++;
            return QOBJECT(g_steal_pointer(&dict));
        } else {
            parse_error(ps, "expecting ',' or '}' in object");
            return NULL;
        }
    }
}

static QObject *parse_list(JSONParser *ps)
{
    g_autoptr(QList) list = qlist_new();

    ps->p++;
    skip_ws(ps);
    if (*ps->p == ']') {
        ps->p++;
        return QOBJECT(g_steal_pointer(&list));
    }
    for (;;) {
        QObject *value = parse_value(ps);
        if (!value) {
            return NULL;
        }
        qlist_append_obj(list, value);
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
        } else if (*ps->p == ']') {
            ps->p++;
            return QOBJECT(g_steal_pointer(&list));
        } else {
            parse_error(ps, "expecting ',' or ']' in array");
            return NULL;
        }
    }
}

static QObject *parse_value(JSONParser *ps)
{
    QObject *ret = NULL;

    skip_ws(ps);
    if (++ps->depth > JSON_MAX_NESTING) {
        parse_error(ps, "nesting too deep");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
        ret = parse_dict(ps);
        break;
    case '[':
        ret = parse_list(ps);
        break;
    case '"':
    case '\'':
        ret = parse_string(ps);
        break;
    default:
        if (*ps->p == '-' || g_ascii_isdigit(*ps->p)) {
            ret = parse_number(ps);
        } else if (parse_literal(ps, "true")) {
            ret = QOBJECT(qbool_from_bool(true));
        } else if (parse_literal(ps, "false")) {
            ret = QOBJECT(qbool_from_bool(false));
        } else if (parse_literal(ps, "null")) {
            ret = QOBJECT(qnull());
        } else {
            parse_error(ps, *ps->p ? "invalid token" : "unexpected end");
        }
    }
    ps->depth--;
    return ret;
}

QObject *qobject_from_json(const char *string, Error **errp)
{
    JSONParser ps = { .p = string, .errp = errp };
    QObject *obj = parse_value(&ps);

    if (!obj) {
        parse_error(&ps, "invalid input");
        return NULL;
    }
    skip_ws(&ps);
    if (*ps.p) {
        qobject_unref_impl(obj);
        parse_error(&ps, "expecting end of input");
        return NULL;
    }
    return obj;
}

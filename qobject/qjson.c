/*
 * QObject -> JSON text, formatted exactly as QEMU 7.2 formats it.
 */
#include "qobject/qobject-all.h"

/*
 * Decode one UTF-8 sequence at @s (at most @n bytes).  Returns the code
 * point, or -1 for an invalid sequence; *@len gets the bytes consumed.
 * Like QEMU, the two-byte form of U+0000 ("modified UTF-8") is accepted.
 */
static int32_t utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    static const uint32_t min_cp[] = { 0, 0, 0x80, 0x800, 0x10000 };
    unsigned char c = s[0];
    size_t need;
    uint32_t cp;

    *len = 1;
    if (c < 0x80) {
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        need = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        need = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        need = 4;
        cp = c & 0x07;
    } else {
        return -1;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= n || (s[i] & 0xc0) != 0x80) {
            *len = i;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    *len = need;
    if (cp == 0 && need == 2) {
        return 0;
    }
    if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
        return -1;
    }
    return (int32_t)cp;
}

/*
 * QEMU escapes everything outside printable ASCII, with upper-case hex
 * digits and surrogate pairs, and turns invalid UTF-8 into U+FFFD.
 */
void qjson_append_string(GString *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), plain = 0;

    /* Most strings (all member names) need no escaping: copy them. */
    while (plain < n && s[plain] >= 0x20 && s[plain] < 0x7f &&
           s[plain] != '"' && s[plain] != '\\') {
        plain++;
    }
    qjson_append_c(out, '"');
    qjson_append_len(out, str, plain);
    s += plain;
    n -= plain;
    while (n) {
        size_t len;
        int32_t cp = utf8_decode(s, n, &len);

        s += len;
        n -= len;
        switch (cp) {
        case '"':
            qjson_append_len(out, "\\\"", sizeof("\\\"") - 1);
            break;
        case '\\':
            qjson_append_len(out, "\\\\", sizeof("\\\\") - 1);
            break;
        case '\b':
            qjson_append_len(out, "\\b", sizeof("\\b") - 1);
            break;
        case '\f':
            qjson_append_len(out, "\\f", sizeof("\\f") - 1);
            break;
        case '\n':
            qjson_append_len(out, "\\n", sizeof("\\n") - 1);
            break;
        case '\r':
            qjson_append_len(out, "\\r", sizeof("\\r") - 1);
            break;
        case '\t':
            qjson_append_len(out, "\\t", sizeof("\\t") - 1);
            break;
        default:
            if (cp < 0) {
                cp = 0xfffd;
            }
            if (cp >= 0x20 && cp < 0x7f) {
                qjson_append_c(out, (char)cp);
            } else if (cp > 0xffff) {
                cp -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X",
                                       0xd800 | (cp >> 10),
                                       0xdc00 | (cp & 0x3ff));
            } else {
                g_string_append_printf(out, "\\u%04X", cp);
            }
        }
    }
    qjson_append_c(out, '"');
}

/*
 * How many decimal digits @value has, without dividing: the bit length
 * gives it to within one (log10(2) ~ 1233 / 4096), a table settles it.
 */
static unsigned uint_digits(uint64_t value)
{
    static const uint64_t pow10[] = {
        0, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
        1000000000, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
        10000000000000000ULL, 100000000000000000ULL,
        1000000000000000000ULL, 10000000000000000000ULL,
    };
    unsigned bits = 64 - __builtin_clzll(value | 1);
    unsigned t = bits * 1233 >> 12;        /* digits - 1, or one less */

    return t + (value >= pow10[t]);
}

/*
 * Decimal digits without printf (maps print millions of numbers), two
 * per table look-up, written backwards from the end, which is known
 * first.  Divisions of a value that fits 32 bits are the cheaper ones,
 * and there one division by 10000 gives four digits.
 */
char *qjson_put_uint(char *dst, uint64_t value)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930"
        "31323334353637383940414243444546474849505152535455565758596061"
        "62636465666768697071727374757677787980818283848586878889909192"
        "93949596979899";
    char *end = dst + uint_digits(value);
    char *p = end;
    uint32_t small;

    while (value > UINT32_MAX) {
        p -= 2;
        memcpy(p, &pairs[2 * (value % 100)], 2);
        value /= 100;
    }
    small = value;
    while (small >= 10000) {
        uint32_t four = small % 10000;

        p -= 4;
        memcpy(p, &pairs[2 * (four / 100)], 2);
        memcpy(p + 2, &pairs[2 * (four % 100)], 2);
        small /= 10000;
    }
    if (small >= 100) {
        p -= 2;
        memcpy(p, &pairs[2 * (small % 100)], 2);
        small /= 100;
    }
    if (small >= 10) {
        memcpy(p - 2, &pairs[2 * small], 2);
    } else {
        p[-1] = '0' + small;
    }
    return end;
}

char *qjson_put_int(char *dst, int64_t value)
{
    if (value < 0) {
        *dst++ = '-';
        /* Negated in unsigned arithmetic, so INT64_MIN works too. */
        return qjson_put_uint(dst, -(uint64_t)value);
    }
    return qjson_put_uint(dst, value);
}

void qjson_append_uint(GString *out, uint64_t value)
{
    char buf[QJSON_INT_MAX];

    qjson_append_len(out, buf, qjson_put_uint(buf, value) - buf);
}

void qjson_append_int(GString *out, int64_t value)
{
    char buf[QJSON_INT_MAX];

    qjson_append_len(out, buf, qjson_put_int(buf, value) - buf);
}

/* Enough digits that the text reads back as the same double. */
void qjson_append_double(GString *out, double value)
{
    g_string_append_printf(out, "%.17g", value);
}

static void json_append_number(GString *out, const QNum *qn)
{
    switch (qn->kind) {
    case QNUM_I64:
        qjson_append_int(out, qn->u.i64);
        break;
    case QNUM_U64:
        qjson_append_uint(out, qn->u.u64);
        break;
    case QNUM_DOUBLE:
        qjson_append_double(out, qn->u.dbl);
        break;
    }
}

static void json_indent(GString *out, bool pretty, int level)
{
    if (pretty) {
        qjson_append_c(out, '\n');
        for (int i = 0; i < level; i++) {
            qjson_append_len(out, "    ", sizeof("    ") - 1);
        }
    }
}

static void json_append(GString *out, const QObject *obj, bool pretty,
                        int level);

/*
 * QEMU puts a newline before every member and one before the closing
 * bracket, even when there are no members: an empty list prints as
 * "[" and "]" on two lines.
 */
static void json_append_dict(GString *out, const QDict *dict, bool pretty,
                             int level)
{
    const char *sep = "";

    qjson_append_c(out, '{');
    for (const QDictEntry *e = qdict_first(dict); e; e = qdict_next(dict, e)) {
        g_string_append(out, sep);
        json_indent(out, pretty, level + 1);
        qjson_append_string(out, e->key);
        qjson_append_len(out, ": ", sizeof(": ") - 1);
        json_append(out, e->value, pretty, level + 1);
        sep = pretty ? "," : ", ";
    }
    json_indent(out, pretty, level);
    qjson_append_c(out, '}');
}

static void json_append_list(GString *out, const QList *list, bool pretty,
                             int level)
{
    const char *sep = "";

    qjson_append_c(out, '[');
    for (const QListEntry *e = list->head; e; e = e->next) {
        g_string_append(out, sep);
        json_indent(out, pretty, level + 1);
        json_append(out, e->value, pretty, level + 1);
        sep = pretty ? "," : ", ";
    }
    json_indent(out, pretty, level);
    qjson_append_c(out, ']');
}

static void json_append(GString *out, const QObject *obj, bool pretty,
                        int level)
{
    switch (obj->type) {
    case QTYPE_QNULL:
        qjson_append_len(out, "null", sizeof("null") - 1);
        break;
    case QTYPE_QNUM:
        json_append_number(out, (const QNum *)obj);
        break;
    case QTYPE_QSTRING:
        qjson_append_string(out, ((const QString *)obj)->str);
        break;
    case QTYPE_QBOOL:
        g_string_append(out, ((const QBool *)obj)->value ? "true" : "false");
        break;
    case QTYPE_QDICT:
        json_append_dict(out, (const QDict *)obj, pretty, level);
        break;
    case QTYPE_QLIST:
        json_append_list(out, (const QList *)obj, pretty, level);
        break;
    case QTYPE_NONE:
    case QTYPE__MAX:
        g_assert_not_reached();
    }
}

GString *qobject_to_json_pretty(const QObject *obj, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_append(out, obj, pretty, 0);
    return out;
}

GString *qobject_to_json(const QObject *obj)
{
    return qobject_to_json_pretty(obj, false);
}

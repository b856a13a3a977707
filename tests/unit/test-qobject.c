/*
 * QDict order, the JSON writer and the JSON reader.
 */
#include "qobject/qobject-all.h"

static char *keys_in_order(QDict *d)
{
    GString *s = g_string_new(NULL);

    for (const QDictEntry *e = qdict_first(d); e; e = qdict_next(d, e)) {
        g_string_append_printf(s, "%s%s", s->len ? "," : "", e->key);
    }
    return g_string_free(s, FALSE);
}

/* ImageCheck's members in schema order print in qemu-img 7.2's order. */
static void test_order_image_check(void)
{
    static const char *const schema_order[] = {
        "filename", "format", "check-errors", "image-end-offset",
        "corruptions", "leaks", "corruptions-fixed", "leaks-fixed",
        "total-clusters", "allocated-clusters", "fragmented-clusters",
        "compressed-clusters",
    };
    g_autoptr(QDict) d = qdict_new();
    g_autofree char *got = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(schema_order); i++) {
        qdict_put_int(d, schema_order[i], i);
    }
    got = keys_in_order(d);
    g_assert_cmpstr(got, ==,
                    "image-end-offset,compressed-clusters,total-clusters,"
                    "corruptions,corruptions-fixed,check-errors,leaks,"
                    "leaks-fixed,allocated-clusters,filename,format,"
                    "fragmented-clusters");
}

/* What `qemu-img info --output=json` printed for a qcow2 image. */
static void test_order_image_info(void)
{
    static const char *const schema_order[] = {
        "filename", "format", "dirty-flag", "actual-size", "virtual-size",
        "cluster-size", "backing-filename", "full-backing-filename",
        "backing-filename-format", "format-specific",
    };
    g_autoptr(QDict) d = qdict_new();
    g_autofree char *got = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(schema_order); i++) {
        qdict_put_int(d, schema_order[i], i);
    }
    got = keys_in_order(d);
    g_assert_cmpstr(got, ==,
                    "backing-filename-format,virtual-size,filename,"
                    "cluster-size,format,actual-size,format-specific,"
                    "full-backing-filename,backing-filename,dirty-flag");
}

static void test_hash_values(void)
{
    /* Independent arithmetic: "a" = 0x238F13AF + 97, then the LCG. */
    uint32_t v = 0x238F13AFu + 97u;
    g_assert_cmpuint(qdict_hash("a"), ==, 1103515243u * v + 12345u);
    g_assert_cmpuint(qdict_hash(""), ==, 12345u);
}

static void test_replace_keeps_position(void)
{
    g_autoptr(QDict) d = qdict_new();
    g_autofree char *before = NULL, *after = NULL;

    qdict_put_int(d, "format", 1);
    qdict_put_int(d, "filename", 2);
    before = keys_in_order(d);
    qdict_put_str(d, "format", "x");
    after = keys_in_order(d);
    g_assert_cmpstr(before, ==, after);
    g_assert_cmpuint(qdict_size(d), ==, 2);
    g_assert_true(qdict_del(d, "format"));
    g_assert_false(qdict_haskey(d, "format"));
    g_assert_cmpuint(qdict_size(d), ==, 1);
}

static char *to_json(QObject *obj, bool pretty)
{
    GString *s = qobject_to_json_pretty(obj, pretty);
    return g_string_free(s, FALSE);
}

static void test_writer_pretty(void)
{
    g_autoptr(QDict) d = qdict_new();
    QList *empty = qlist_new();
    QList *l = qlist_new();
    g_autofree char *got = NULL;

    qlist_append_int(l, -1);
    qlist_append(l, qnum_from_uint(UINT64_MAX));
    qdict_put(d, "flags", empty);
    qdict_put(d, "l", l);
    got = to_json(QOBJECT(d), true);
    /* 7.2 prints an empty list as "[" and "]" on two lines. */
    g_assert_cmpstr(got, ==,
                    "{\n"
                    "    \"flags\": [\n"
                    "    ],\n"
                    "    \"l\": [\n"
                    "        -1,\n"
                    "        18446744073709551615\n"
                    "    ]\n"
                    "}");
}

static void test_writer_compact(void)
{
    g_autoptr(QList) l = qlist_new();
    g_autofree char *got = NULL;

    qlist_append_bool(l, true);
    qlist_append(l, qnull());
    qlist_append(l, qdict_new());
    got = to_json(QOBJECT(l), false);
    g_assert_cmpstr(got, ==, "[true, null, {}]");
}

static void test_writer_escapes(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "a\"b\\c", "\"a\\\"b\\\\c\"" },
        { "\t\n\r\b\f", "\"\\t\\n\\r\\b\\f\"" },
        { "\x01\x7f", "\"\\u0001\\u007F\"" },
        { "\xc3\xa9", "\"\\u00E9\"" },              /* é */
        { "\xf0\x9f\x98\x80", "\"\\uD83D\\uDE00\"" }, /* surrogate pair */
        { "b\xffz", "\"b\\uFFFDz\"" },             /* invalid UTF-8 */
        { "\xe2\x82", "\"\\uFFFD\"" },             /* truncated */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(QObject) s = QOBJECT(qstring_from_str(cases[i].in));
        g_autofree char *got = to_json(s, false);
        g_assert_cmpstr(got, ==, cases[i].out);
    }
}

static void test_reader_roundtrip(void)
{
    const char *text = "{\"a\": [1, -2, 3.5, true, false, null], "
                       "'b': {\"c\": \"\\u00e9\\ud83d\\ude00\"}, "
                       "\"big\": 18446744073709551615}";
    g_autoptr(Error) err = NULL;
    g_autoptr(QObject) obj = qobject_from_json(text, &err);
    QDict *d, *b;
    QNum *big;
    uint64_t u;

    g_assert_null(err);
    d = qobject_to_qdict(obj);
    g_assert_nonnull(d);
    g_assert_cmpuint(qlist_size(qdict_get_qlist(d, "a")), ==, 6);
    b = qdict_get_qdict(d, "b");
    g_assert_cmpstr(qdict_get_try_str(b, "c"), ==, "\xc3\xa9\xf0\x9f\x98\x80");
    big = qobject_to_qnum(qdict_get(d, "big"));
    g_assert_true(qnum_get_try_uint(big, &u));
    g_assert_cmpuint(u, ==, UINT64_MAX);
}

static void test_reader_errors(void)
{
    static const char *const bad[] = {
        "", "{", "[1,", "{\"a\" 1}", "\"abc", "tru", "{1: 2}", "[1] x",
        "\"\\x\"", "\"\\ud800\"", "nul",
    };
    g_autofree char *deep = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        Error *err = NULL;
        QObject *obj = qobject_from_json(bad[i], &err);
        g_assert_null(obj);
        g_assert_nonnull(err);
        error_free(err);
    }
    /* Hostile nesting is refused, not a stack overflow. */
    deep = g_strnfill(100000, '[');
    {
        Error *err = NULL;
        g_assert_null(qobject_from_json(deep, &err));
        g_assert_nonnull(err);
        error_free(err);
    }
}

static void test_equal(void)
{
    g_autoptr(QObject) a = qobject_from_json("{\"x\": [1, \"y\"]}", NULL);
    g_autoptr(QObject) b = qobject_from_json("{\"x\": [1, \"y\"]}", NULL);
    g_autoptr(QObject) c = qobject_from_json("{\"x\": [2, \"y\"]}", NULL);

    g_assert_true(qobject_is_equal(a, b));
    g_assert_false(qobject_is_equal(a, c));
}

/* The hand-written number printers against printf, at every boundary. */
static void test_writer_numbers(void)
{
    static const uint64_t u[] = {
        0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 65536, 4294967295u,
        4294967296u, 1099511627776u, 9999999999999999999u, UINT64_MAX,
    };
    static const int64_t i[] = {
        0, -1, -9, -10, -99, -100, 1234567, -1234567, INT64_MAX, INT64_MIN,
    };

    for (size_t k = 0; k < G_N_ELEMENTS(u); k++) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *want = g_strdup_printf("%" PRIu64, u[k]);

        qjson_append_uint(out, u[k]);
        g_assert_cmpstr(out->str, ==, want);
    }
    for (size_t k = 0; k < G_N_ELEMENTS(i); k++) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *want = g_strdup_printf("%" PRId64, i[k]);

        qjson_append_int(out, i[k]);
        g_assert_cmpstr(out->str, ==, want);
    }
    for (uint64_t v = 0; v < 100000; v++) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autofree char *want = g_strdup_printf("%" PRIu64, v);

        qjson_append_uint(out, v);
        g_assert_cmpstr(out->str, ==, want);
    }
}

/*
 * qjson_put_uint() counts the digits before writing them: around every
 * power of ten and of two, it writes exactly the digits (nothing past
 * their end), as a signed value too.
 */
static void check_put(uint64_t v)
{
    char buf[QJSON_INT_MAX + 8];
    g_autofree char *want = g_strdup_printf("%" PRIu64, v);
    g_autofree char *want_neg = g_strdup_printf("%" PRId64, -(int64_t)v);
    char *end;

    memset(buf, '#', sizeof(buf));
    end = qjson_put_uint(buf, v);
    g_assert_cmpmem(buf, end - buf, want, strlen(want));
    g_assert_cmpint(*end, ==, '#');
    if (v <= INT64_MAX) {
        memset(buf, '#', sizeof(buf));
        end = qjson_put_int(buf, -(int64_t)v);
        g_assert_cmpmem(buf, end - buf, want_neg, strlen(want_neg));
        g_assert_cmpint(*end, ==, '#');
    }
}

static void test_writer_digit_counts(void)
{
    uint64_t p10 = 1;

    for (int k = 0; k < 64; k++) {
        uint64_t p2 = (uint64_t)1 << k;

        check_put(p2 - 1);
        check_put(p2);
        check_put(p2 + 1);
    }
    for (int k = 0; k < 20; k++, p10 *= 10) {
        check_put(p10 - 1);
        check_put(p10);
        check_put(p10 + 1);
    }
    check_put(UINT64_MAX);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qdict/order/image-check", test_order_image_check);
    g_test_add_func("/qdict/order/image-info", test_order_image_info);
    g_test_add_func("/qdict/hash", test_hash_values);
    g_test_add_func("/qdict/replace", test_replace_keeps_position);
    g_test_add_func("/json/writer/pretty", test_writer_pretty);
    g_test_add_func("/json/writer/compact", test_writer_compact);
    g_test_add_func("/json/writer/escapes", test_writer_escapes);
    g_test_add_func("/json/writer/numbers", test_writer_numbers);
    g_test_add_func("/json/writer/digit-counts", test_writer_digit_counts);
    g_test_add_func("/json/reader/roundtrip", test_reader_roundtrip);
    g_test_add_func("/json/reader/errors", test_reader_errors);
    g_test_add_func("/qobject/equal", test_equal);
    return g_test_run();
}

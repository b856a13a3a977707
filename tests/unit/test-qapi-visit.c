/*
 * The code scripts/qapi-gen.py generates from
 * tests/qapi-schema/qapi-schema-test.json: output visitors, emitters,
 * free functions, enum string tables and introspection data.
 *
 * The expected JSON follows QEMU's QDict order (buckets in ascending
 * order of hash % 512, the member inserted last first inside a bucket;
 * see docs in ARCHITECTURE.md) and was computed from that rule, not
 * from our QDict, so these tests check both the visitors' insertion
 * order and the dictionary.
 */
#include "qobject/qobject-all.h"
#include "test-qapi-visit.h"
#include "test-qapi-emit.h"
#include "test-qapi-introspect.h"

/* Print @obj as QEMU's pretty JSON, compare, and drop the reference. */
static void check_json(QObject *obj, const char *expected)
{
    GString *json = qobject_to_json_pretty(obj, true);

    g_assert_cmpstr(json->str, ==, expected);
    g_string_free(json, TRUE);
    qobject_unref_impl(obj);
}

/*
 * Both ways of printing @value of type @T must give @expected: the JSON
 * writer over the tree qapi_out_T() builds, and the JSON emitter that
 * qapi_emit_T() drives straight from the C value.
 */
#define CHECK_JSON(T, value, expected) do {                             \
        GString *emitted_ = g_string_new(NULL);                         \
        QapiEmitter *emitter_ = qapi_json_emitter_new_gstring(emitted_); \
                                                                        \
        qapi_emit_##T(emitter_, value);                                 \
        qapi_emitter_free(emitter_);                                    \
        g_assert_cmpstr(emitted_->str, ==, expected);                   \
        g_string_free(emitted_, TRUE);                                  \
        check_json(qapi_out_##T(value), expected);                      \
    } while (0)

static TestSub *make_sub(const char *name, bool has_count, uint8_t count)
{
    TestSub *sub = g_new0(TestSub, 1);

    sub->name = g_strdup(name);
    sub->has_count = has_count;
    sub->count = count;
    return sub;
}

static TestUnion *make_union_plain(const char *common, int64_t value)
{
    TestUnion *u = g_new0(TestUnion, 1);

    u->kind = QCOW2_TEST_KIND_PLAIN;
    u->common = g_strdup(common);
    u->u.plain.plain_value = value;
    return u;
}

static TestUnion *make_union_fancy(void)
{
    TestUnion *u = g_new0(TestUnion, 1);

    u->kind = QCOW2_TEST_KIND_FANCY;
    u->common = g_strdup("f");
    u->u.fancy.inc_flag = true;
    u->u.fancy.fancy_str = g_strdup("fs");
    u->u.fancy.has_fancy_sub = true;
    u->u.fancy.fancy_sub = make_sub("fsub", true, 1);
    return u;
}

static void test_scalars(void)
{
    g_autoptr(TestScalars) s = g_new0(TestScalars, 1);

    s->base_int = -1;
    s->has_base_str = true;
    s->base_str = g_strdup("base");
    s->str = g_strdup("hello \"world\"\n");
    s->i = 42;
    s->i8 = INT8_MIN;
    s->i16 = INT16_MAX;
    s->i32 = INT32_MIN;
    s->i64 = INT64_MIN;
    s->u8 = UINT8_MAX;
    s->u16 = UINT16_MAX;
    s->u32 = UINT32_MAX;
    s->u64 = UINT64_MAX;
    s->sz = UINT64_C(1) << 40;
    s->num = -0.25;
    s->flag = true;
    s->q_enum = TEST_ENUM_VALUE_TWO;
    s->q_default = false;
    s->q_unix = 7;
    CHECK_JSON(TestScalars, s,
               "{\n"
               "    \"str\": \"hello \\\"world\\\"\\n\",\n"
               "    \"i\": 42,\n"
               "    \"enum\": \"value-two\",\n"
               "    \"sz\": 1099511627776,\n"
               "    \"u8\": 255,\n"
               "    \"i32\": -2147483648,\n"
               "    \"i64\": -9223372036854775808,\n"
               "    \"base-str\": \"base\",\n"
               "    \"u16\": 65535,\n"
               "    \"unix\": 7,\n"
               "    \"default\": false,\n"
               "    \"i8\": -128,\n"
               "    \"num\": -0.25,\n"
               "    \"u32\": 4294967295,\n"
               "    \"u64\": 18446744073709551615,\n"
               "    \"i16\": 32767,\n"
               "    \"flag\": true,\n"
               "    \"base-int\": -1\n"
               "}");
}

/*
 * has_base_str false hides base_str even though it is set (and the free
 * function still frees it); a NULL mandatory string prints as "", an
 * enum value out of range as "".
 */
static void test_has_flag_skips(void)
{
    g_autoptr(TestScalars) s = g_new0(TestScalars, 1);
    QObject *obj;

    s->has_base_str = false;
    s->base_str = g_strdup("hidden");
    s->q_enum = (TestEnum)99;
    s->q_default = true;
    obj = qapi_out_TestScalars(s);
    g_assert_false(qdict_haskey(qobject_to_qdict(obj), "base-str"));
    g_assert_cmpuint(qdict_size(qobject_to_qdict(obj)), ==, 17);
    qobject_unref_impl(obj);
    CHECK_JSON(TestScalars, s,
               "{\n"
               "    \"str\": \"\",\n"
               "    \"i\": 0,\n"
               "    \"enum\": \"\",\n"
               "    \"sz\": 0,\n"
               "    \"u8\": 0,\n"
               "    \"i32\": 0,\n"
               "    \"i64\": 0,\n"
               "    \"u16\": 0,\n"
               "    \"unix\": 0,\n"
               "    \"default\": true,\n"
               "    \"i8\": 0,\n"
               "    \"num\": 0,\n"
               "    \"u32\": 0,\n"
               "    \"u64\": 0,\n"
               "    \"i16\": 0,\n"
               "    \"flag\": false,\n"
               "    \"base-int\": 0\n"
               "}");
}

static void test_optional_all(void)
{
    g_autoptr(TestOptional) o = g_new0(TestOptional, 1);
    TestSubList **sub_tail = &o->opt_sub_list;

    o->has_opt_str = true;
    o->opt_str = g_strdup("s");
    o->has_opt_int = true;
    o->opt_int = -5;
    o->has_opt_u64 = true;
    o->opt_u64 = UINT64_MAX;
    o->has_opt_size = true;
    o->opt_size = 512;
    o->has_opt_num = true;
    o->opt_num = 1.5;
    o->has_opt_bool = true;
    o->opt_bool = false;
    o->has_opt_enum = true;
    o->opt_enum = TEST_ENUM_3RD;
    o->has_opt_sub = true;
    o->opt_sub = make_sub("sub", true, 3);
    o->has_opt_str_list = true;
    QAPI_LIST_PREPEND(o->opt_str_list, g_strdup("b"));
    QAPI_LIST_PREPEND(o->opt_str_list, g_strdup("a"));
    o->has_opt_sub_list = true;
    QAPI_LIST_APPEND(sub_tail, make_sub("x", false, 0));
    QAPI_LIST_APPEND(sub_tail, make_sub("y", true, 0));
    o->has_opt_union = true;
    o->opt_union = g_new0(TestUnion, 1);
    o->opt_union->kind = QCOW2_TEST_KIND_BARE;
    o->opt_union->common = g_strdup("c");
    o->has_opt_mixed_name = true;
    o->opt_mixed_name = 9;
    CHECK_JSON(TestOptional, o,
               "{\n"
               "    \"opt-str\": \"s\",\n"
               "    \"opt-int\": -5,\n"
               "    \"opt-union\": {\n"
               "        \"common\": \"c\",\n"
               "        \"kind\": \"bare\"\n"
               "    },\n"
               "    \"opt-sub\": {\n"
               "        \"name\": \"sub\",\n"
               "        \"count\": 3\n"
               "    },\n"
               "    \"opt-size\": 512,\n"
               "    \"opt-str-list\": [\n"
               "        \"a\",\n"
               "        \"b\"\n"
               "    ],\n"
               "    \"opt-num\": 1.5,\n"
               "    \"opt-enum\": \"3rd\",\n"
               "    \"opt-u64\": 18446744073709551615,\n"
               "    \"opt-bool\": false,\n"
               "    \"opt-mixed_name\": 9,\n"
               "    \"opt-sub-list\": [\n"
               "        {\n"
               "            \"name\": \"x\"\n"
               "        },\n"
               "        {\n"
               "            \"name\": \"y\",\n"
               "            \"count\": 0\n"
               "        }\n"
               "    ]\n"
               "}");
}

/* No has_ flag set: nothing is printed, whatever the pointers hold. */
static void test_optional_none(void)
{
    g_autoptr(TestOptional) o = g_new0(TestOptional, 1);

    o->opt_int = 5;
    o->opt_sub = make_sub("ignored", false, 0);
    QAPI_LIST_PREPEND(o->opt_str_list, g_strdup("ignored"));
    CHECK_JSON(TestOptional, o, "{\n}");
}

static void test_lists(void)
{
    g_autoptr(TestLists) l = g_new0(TestLists, 1);

    QAPI_LIST_PREPEND(l->str_list, g_strdup("three"));
    QAPI_LIST_PREPEND(l->str_list, g_strdup("two"));
    QAPI_LIST_PREPEND(l->str_list, g_strdup("one"));
    QAPI_LIST_PREPEND(l->int_list, -2);
    QAPI_LIST_PREPEND(l->int_list, 1);
    QAPI_LIST_PREPEND(l->u8_list, 255);
    QAPI_LIST_PREPEND(l->u8_list, 0);
    QAPI_LIST_PREPEND(l->size_list, 4096);
    QAPI_LIST_PREPEND(l->num_list, 2.0);
    QAPI_LIST_PREPEND(l->num_list, 0.5);
    QAPI_LIST_PREPEND(l->bool_list, false);
    QAPI_LIST_PREPEND(l->bool_list, true);
    QAPI_LIST_PREPEND(l->enum_list, TEST_ENUM_DOTTED_VALUE);
    QAPI_LIST_PREPEND(l->enum_list, TEST_ENUM_UNDER_SCORE);
    QAPI_LIST_PREPEND(l->enum_list, TEST_ENUM_DEFAULT);
    QAPI_LIST_PREPEND(l->sub_list, make_sub("s", false, 0));
    QAPI_LIST_PREPEND(l->union_list, make_union_fancy());
    QAPI_LIST_PREPEND(l->union_list, make_union_plain("p", 1));
    CHECK_JSON(TestLists, l,
               "{\n"
               "    \"enum-list\": [\n"
               "        \"default\",\n"
               "        \"under_score\",\n"
               "        \"dotted.value\"\n"
               "    ],\n"
               "    \"bool-list\": [\n"
               "        true,\n"
               "        false\n"
               "    ],\n"
               "    \"num-list\": [\n"
               "        0.5,\n"
               "        2\n"
               "    ],\n"
               "    \"u8-list\": [\n"
               "        0,\n"
               "        255\n"
               "    ],\n"
               "    \"sub-list\": [\n"
               "        {\n"
               "            \"name\": \"s\"\n"
               "        }\n"
               "    ],\n"
               "    \"empty-list\": [\n"
               "    ],\n"
               "    \"union-list\": [\n"
               "        {\n"
               "            \"plain-value\": 1,\n"
               "            \"common\": \"p\",\n"
               "            \"kind\": \"plain\"\n"
               "        },\n"
               "        {\n"
               "            \"common\": \"f\",\n"
               "            \"fancy-sub\": {\n"
               "                \"name\": \"fsub\",\n"
               "                \"count\": 1\n"
               "            },\n"
               "            \"fancy-str\": \"fs\",\n"
               "            \"inc-flag\": true,\n"
               "            \"kind\": \"fancy\"\n"
               "        }\n"
               "    ],\n"
               "    \"int-list\": [\n"
               "        1,\n"
               "        -2\n"
               "    ],\n"
               "    \"str-list\": [\n"
               "        \"one\",\n"
               "        \"two\",\n"
               "        \"three\"\n"
               "    ],\n"
               "    \"size-list\": [\n"
               "        4096\n"
               "    ]\n"
               "}");
}

/*
 * Lists of a struct named by pragma 'array-lists' are arrays: built by
 * qapi_append_*(), printed like any list, freed in one piece.
 */
static void test_array_lists(void)
{
    g_autoptr(TestArrays) a = g_new0(TestArrays, 1);
    g_autoptr(GString) expected = g_string_new("{\n    \"points\": [");
    TestPoint *p;

    /* An absent list prints as an empty one. */
    CHECK_JSON(TestArrays, a, "{\n    \"points\": [\n    ]\n}");

    /* 40 points: the array grows twice past its first 16. */
    for (int i = 0; i < 40; i++) {
        p = qapi_append_TestPointList(&a->points);
        g_assert_cmpint(p->x, ==, 0);
        g_assert_false(p->has_flag);
        p->x = -i;
        p->y = UINT64_MAX - i;
        p->kind = i % 2 ? TEST_ENUM_DOTTED_VALUE : TEST_ENUM_DEFAULT;
        p->has_flag = i == 7;
        p->flag = true;
        g_string_append_printf(expected,
                               "%s\n        {\n"
                               "            \"x\": %d,\n"
                               "            \"y\": %" PRIu64 ",\n"
                               "            \"kind\": \"%s\"%s\n"
                               "        }",
                               i ? "," : "", -i, UINT64_MAX - i,
                               i % 2 ? "dotted.value" : "default",
                               i == 7 ? ",\n            \"flag\": true"
                                      : "");
    }
    g_assert_cmpuint(a->points->len, ==, 40);
    g_assert_cmpuint(a->points->capacity, >=, 40);
    for (int i = 0; i < 40; i++) {
        g_assert_cmpint(a->points->items[i].x, ==, -i);
    }
    g_string_append(expected, "\n    ]\n}");
    CHECK_JSON(TestArrays, a, expected->str);

    /* An optional one, present and empty, then with one element. */
    a->has_more = true;
    g_string_truncate(expected, expected->len - 2);
    g_string_append(expected, ",\n    \"more\": [\n    ]\n}");
    CHECK_JSON(TestArrays, a, expected->str);
    /* A new element is zeroed: its enum is the first value. */
    qapi_append_TestPointList(&a->more)->y = 5;
    g_string_truncate(expected, expected->len - strlen("\n    ]\n}"));
    g_string_append(expected, "\n        {\n"
                    "            \"x\": 0,\n"
                    "            \"y\": 5,\n"
                    "            \"kind\": \"value1\"\n"
                    "        }\n    ]\n}");
    CHECK_JSON(TestArrays, a, expected->str);
    CHECK_JSON(TestPointList, NULL, "[\n]");
}

/* Keys in one bucket print newest first: schema order shows. */
static void test_bucket_order(void)
{
    TestCollision c = {
        .kappa = 1, .xi = 2, .has_alpha_beta = true, .alpha_beta = true,
    };

    CHECK_JSON(TestCollision, &c,
               "{\n"
               "    \"xi\": 2,\n"
               "    \"kappa\": 1,\n"
               "    \"alpha-zeta\": false,\n"
               "    \"alpha-beta\": true\n"
               "}");
    c.has_alpha_beta = false;
    CHECK_JSON(TestCollision, &c,
               "{\n"
               "    \"xi\": 2,\n"
               "    \"kappa\": 1,\n"
               "    \"alpha-zeta\": false\n"
               "}");
}

static void test_union_inline(void)
{
    g_autoptr(TestUnionInline) u = g_new0(TestUnionInline, 1);
    g_autoptr(TestUnionInline) d = g_new0(TestUnionInline, 1);
    g_autoptr(TestUnionInline) n = g_new0(TestUnionInline, 1);

    u->type = TEST_ENUM_3RD;
    u->has_note = true;
    u->note = g_strdup("n");
    CHECK_JSON(TestUnionInline, u,
               "{\n"
               "    \"note\": \"n\",\n"
               "    \"type\": \"3rd\"\n"
               "}");

    d->type = TEST_ENUM_DEFAULT;
    d->u.q_default.fancy_str = g_strdup("d");
    CHECK_JSON(TestUnionInline, d,
               "{\n"
               "    \"fancy-str\": \"d\",\n"
               "    \"inc-flag\": false,\n"
               "    \"type\": \"default\"\n"
               "}");

    n->type = TEST_ENUM_VALUE_TWO;
    CHECK_JSON(TestUnionInline, n,
               "{\n"
               "    \"type\": \"value-two\"\n"
               "}");
}

static void test_recursive(void)
{
    g_autoptr(TestRecursive) root = g_new0(TestRecursive, 1);
    TestRecursive *c1 = g_new0(TestRecursive, 1);
    TestRecursive *c2 = g_new0(TestRecursive, 1);

    root->name = g_strdup("root");
    root->has_child = true;
    root->child = g_new0(TestRecursive, 1);
    root->child->name = g_strdup("kid");
    c1->name = g_strdup("c1");
    c1->has_children = true;       /* a present, empty list */
    c2->name = g_strdup("c2");
    c2->has_child = true;
    c2->child = g_new0(TestRecursive, 1);
    c2->child->name = g_strdup("gc");
    root->has_children = true;
    QAPI_LIST_PREPEND(root->children, c2);
    QAPI_LIST_PREPEND(root->children, c1);
    CHECK_JSON(TestRecursive, root,
               "{\n"
               "    \"name\": \"root\",\n"
               "    \"children\": [\n"
               "        {\n"
               "            \"name\": \"c1\",\n"
               "            \"children\": [\n"
               "            ]\n"
               "        },\n"
               "        {\n"
               "            \"name\": \"c2\",\n"
               "            \"child\": {\n"
               "                \"name\": \"gc\"\n"
               "            }\n"
               "        }\n"
               "    ],\n"
               "    \"child\": {\n"
               "        \"name\": \"kid\"\n"
               "    }\n"
               "}");
}

static void test_null_values(void)
{
    g_autoptr(strList) strs = NULL;
    TestSub sub = { 0 };
    TestEmpty empty = { 0 };

    CHECK_JSON(TestSub, NULL, "{\n}");
    CHECK_JSON(TestSubList, NULL, "[\n]");
    CHECK_JSON(strList, NULL, "[\n]");
    CHECK_JSON(TestUnion, NULL, "{\n}");
    CHECK_JSON(TestSub, &sub, "{\n    \"name\": \"\"\n}");
    CHECK_JSON(TestEmpty, &empty, "{\n}");
    QAPI_LIST_PREPEND(strs, NULL);
    QAPI_LIST_PREPEND(strs, g_strdup("x"));
    CHECK_JSON(strList, strs, "[\n    \"x\",\n    \"\"\n]");
}

static void test_enum_out(void)
{
    g_autoptr(TestEnumList) list = NULL;

    CHECK_JSON(TestEnum, TEST_ENUM_DOTTED_VALUE, "\"dotted.value\"");
    CHECK_JSON(TestPrefixed, TEST_PFX_TWO, "\"two\"");
    CHECK_JSON(QCryptoTestFormat, Q_CRYPTO_TEST_FORMAT_LUKS,
               "\"luks\"");
    QAPI_LIST_PREPEND(list, TEST_ENUM_UNDER_SCORE);
    QAPI_LIST_PREPEND(list, TEST_ENUM_VALUE1);
    CHECK_JSON(TestEnumList, list,
               "[\n    \"value1\",\n    \"under_score\"\n]");
}

static void test_enum_str_parse(void)
{
    static const char *const names[] = {
        "value1", "value-two", "3rd", "default", "under_score",
        "dotted.value",
    };
    TestEnum e = TEST_ENUM__MAX;
    Qcow2TestKind k;
    TestEmptyEnum none;

    g_assert_cmpint(TEST_ENUM__MAX, ==, G_N_ELEMENTS(names));
    for (int i = 0; i < TEST_ENUM__MAX; i++) {
        g_assert_cmpstr(TestEnum_str((TestEnum)i), ==, names[i]);
        g_assert_true(TestEnum_parse(names[i], &e));
        g_assert_cmpint(e, ==, i);
    }
    g_assert_cmpint(TEST_ENUM_VALUE1, ==, 0);
    g_assert_cmpint(TEST_ENUM_DOTTED_VALUE, ==, 5);
    g_assert_null(TestEnum_str(TEST_ENUM__MAX));
    g_assert_null(TestEnum_str((TestEnum)-1));

    e = TEST_ENUM_3RD;
    g_assert_false(TestEnum_parse("value_two", &e));
    g_assert_false(TestEnum_parse("", &e));
    g_assert_false(TestEnum_parse("VALUE1", &e));
    g_assert_false(TestEnum_parse(NULL, &e));
    g_assert_cmpint(e, ==, TEST_ENUM_3RD);      /* untouched on failure */

    g_assert_cmpstr(TestPrefixed_str(TEST_PFX_ONE), ==, "one");
    g_assert_cmpint(TEST_PFX__MAX, ==, 2);
    g_assert_cmpstr(QCryptoTestFormat_str(Q_CRYPTO_TEST_FORMAT_QCOW), ==,
                    "qcow");
    g_assert_true(Qcow2TestKind_parse("bare", &k));
    g_assert_cmpint(k, ==, QCOW2_TEST_KIND_BARE);
    g_assert_cmpint(TEST_EMPTY_ENUM__MAX, ==, 0);
    g_assert_null(TestEmptyEnum_str(TEST_EMPTY_ENUM__MAX));
    g_assert_false(TestEmptyEnum_parse("x", &none));
}

static void test_free(void)
{
    TestUnion *plain = make_union_plain("p", 1);
    TestUnionList *list = NULL;

    /* NULL-safe */
    qapi_free_TestScalars(NULL);
    qapi_free_TestUnion(NULL);
    qapi_free_TestUnionInline(NULL);
    qapi_free_TestSubList(NULL);
    qapi_free_strList(NULL);
    qapi_free_TestEnumList(NULL);

    /* deep: everything reachable is freed (LeakSanitizer checks) */
    QAPI_LIST_PREPEND(list, plain);
    QAPI_LIST_PREPEND(list, make_union_fancy());
    qapi_free_TestUnionList(list);
}

static QDict *find_info(QList *infos, const char *name)
{
    for (const QListEntry *e = qlist_first(infos); e; e = qlist_next(e)) {
        QDict *info = qobject_to_qdict(qlist_entry_obj(e));

        g_assert_nonnull(info);
        if (!g_strcmp0(qdict_get_try_str(info, "name"), name)) {
            return info;
        }
    }
    return NULL;
}

/*
 * The introspection text is a JSON list of SchemaInfo objects, with the
 * real type names, and every type it refers to is in it.
 */
static void test_introspect(void)
{
    Error *err = NULL;
    QObject *obj = qobject_from_json(test_qapi_introspect_json(), &err);
    QList *infos = qobject_to_qlist(obj);
    QDict *info;
    QList *list;
    const QListEntry *e;

    g_assert_null(err);
    g_assert_nonnull(infos);

    info = find_info(infos, "TestUnion");
    g_assert_nonnull(info);
    g_assert_cmpstr(qdict_get_try_str(info, "meta-type"), ==, "object");
    g_assert_cmpstr(qdict_get_try_str(info, "tag"), ==, "kind");
    list = qdict_get_qlist(info, "variants");
    g_assert_cmpuint(qlist_size(list), ==, 2);
    info = qobject_to_qdict(qlist_entry_obj(qlist_first(list)));
    g_assert_cmpstr(qdict_get_try_str(info, "case"), ==, "plain");
    g_assert_cmpstr(qdict_get_try_str(info, "type"), ==, "TestBranchPlain");

    info = find_info(infos, "TestOptional");
    list = qdict_get_qlist(info, "members");
    info = qobject_to_qdict(qlist_entry_obj(qlist_first(list)));
    g_assert_cmpstr(qdict_get_try_str(info, "name"), ==, "opt-str");
    g_assert_true(qdict_haskey(info, "default"));

    info = find_info(infos, "[TestSub]");
    g_assert_cmpstr(qdict_get_try_str(info, "meta-type"), ==, "array");
    g_assert_cmpstr(qdict_get_try_str(info, "element-type"), ==, "TestSub");
    info = find_info(infos, "uint8");
    g_assert_cmpstr(qdict_get_try_str(info, "json-type"), ==, "int");
    info = find_info(infos, "TestEnum");
    g_assert_cmpuint(qlist_size(qdict_get_qlist(info, "values")), ==, 6);

    for (e = qlist_first(infos); e; e = qlist_next(e)) {
        QList *members;

        info = qobject_to_qdict(qlist_entry_obj(e));
        if (g_strcmp0(qdict_get_try_str(info, "meta-type"), "object")) {
            continue;
        }
        members = qdict_get_qlist(info, "members");
        for (const QListEntry *m = qlist_first(members); m;
             m = qlist_next(m)) {
            QDict *member = qobject_to_qdict(qlist_entry_obj(m));

            g_assert_nonnull(find_info(infos,
                                       qdict_get_try_str(member, "type")));
        }
    }
    qobject_unref_impl(obj);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi/visit/scalars", test_scalars);
    g_test_add_func("/qapi/visit/has-flag-skips", test_has_flag_skips);
    g_test_add_func("/qapi/visit/optional-all", test_optional_all);
    g_test_add_func("/qapi/visit/optional-none", test_optional_none);
    g_test_add_func("/qapi/visit/lists", test_lists);
    g_test_add_func("/qapi/visit/array-lists", test_array_lists);
    g_test_add_func("/qapi/visit/bucket-order", test_bucket_order);
    g_test_add_func("/qapi/visit/union-inline", test_union_inline);
    g_test_add_func("/qapi/visit/recursive", test_recursive);
    g_test_add_func("/qapi/visit/null-values", test_null_values);
    g_test_add_func("/qapi/visit/enum-out", test_enum_out);
    g_test_add_func("/qapi/enum/str-parse", test_enum_str_parse);
    g_test_add_func("/qapi/free", test_free);
    g_test_add_func("/qapi/introspect", test_introspect);
    return g_test_run();
}

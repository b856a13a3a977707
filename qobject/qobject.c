/*
 * QObject reference counting, downcasts and equality.
 */
#include "qobject/qobject-all.h"

static void qdict_destroy(QDict *dict)
{
    for (size_t i = 0; i < QDICT_BUCKET_MAX; i++) {
        QDictEntry *e = dict->table[i];
        while (e) {
            QDictEntry *next = e->next;
            qobject_unref_impl(e->value);
            g_free(e->key);
            g_free(e);
            e = next;
        }
    }
    g_free(dict);
}

static void qlist_destroy(QList *list)
{
    QListEntry *e = list->head;
    while (e) {
        QListEntry *next = e->next;
        qobject_unref_impl(e->value);
        g_free(e);
        e = next;
    }
    g_free(list);
}

QObject *qobject_ref_impl(QObject *obj)
{
    if (obj) {
        obj->refcnt++;
    }
    return obj;
}

void qobject_unref_impl(QObject *obj)
{
    if (!obj) {
        return;
    }
    g_assert(obj->refcnt > 0);
    if (--obj->refcnt > 0) {
        return;
    }
    switch (obj->type) {
    case QTYPE_QDICT:
        qdict_destroy((QDict *)obj);
        break;
    case QTYPE_QLIST:
        qlist_destroy((QList *)obj);
        break;
    case QTYPE_QSTRING:
        g_free(((QString *)obj)->str);
        g_free(obj);
        break;
    case QTYPE_QNUM:
    case QTYPE_QBOOL:
        g_free(obj);
        break;
    case QTYPE_QNULL:       /* the singleton is never freed */
    case QTYPE_NONE:
    case QTYPE__MAX:
        g_assert_not_reached();
    }
}

#define DEFINE_DOWNCAST(fn, T, qtype)           \
    T *fn(QObject *obj)                         \
    {                                           \
        if (!obj || obj->type != (qtype)) {     \
            return NULL;                        \
        }                                       \
        return (T *)obj;                        \
    }

DEFINE_DOWNCAST(qobject_to_qdict, QDict, QTYPE_QDICT)
DEFINE_DOWNCAST(qobject_to_qlist, QList, QTYPE_QLIST)
DEFINE_DOWNCAST(qobject_to_qstring, QString, QTYPE_QSTRING)
DEFINE_DOWNCAST(qobject_to_qnum, QNum, QTYPE_QNUM)
DEFINE_DOWNCAST(qobject_to_qbool, QBool, QTYPE_QBOOL)

static bool qnum_is_equal(const QNum *a, const QNum *b)
{
    int64_t ia, ib;
    uint64_t ua, ub;

    if (qnum_get_try_int(a, &ia) && qnum_get_try_int(b, &ib)) {
        return a->kind != QNUM_DOUBLE && b->kind != QNUM_DOUBLE
               ? ia == ib : qnum_get_double(a) == qnum_get_double(b);
    }
    if (qnum_get_try_uint(a, &ua) && qnum_get_try_uint(b, &ub)) {
        return ua == ub;
    }
    if (a->kind == QNUM_DOUBLE && b->kind == QNUM_DOUBLE) {
        return a->u.dbl == b->u.dbl;
    }
    return false;
}

static bool qdict_is_equal(const QDict *a, const QDict *b)
{
    if (qdict_size(a) != qdict_size(b)) {
        return false;
    }
    for (const QDictEntry *e = qdict_first(a); e; e = qdict_next(a, e)) {
        QObject *other = qdict_get(b, e->key);
        if (!other || !qobject_is_equal(e->value, other)) {
            return false;
        }
    }
    return true;
}

static bool qlist_is_equal(const QList *a, const QList *b)
{
    const QListEntry *ea = a->head, *eb = b->head;

    for (; ea && eb; ea = ea->next, eb = eb->next) {
        if (!qobject_is_equal(ea->value, eb->value)) {
            return false;
        }
    }
    return !ea && !eb;
}

bool qobject_is_equal(const QObject *a, const QObject *b)
{
    if (a == b) {
        return true;
    }
    if (!a || !b || a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case QTYPE_QNULL:
        return true;
    case QTYPE_QBOOL:
        return ((const QBool *)a)->value == ((const QBool *)b)->value;
    case QTYPE_QSTRING:
        return !strcmp(((const QString *)a)->str, ((const QString *)b)->str);
    case QTYPE_QNUM:
        return qnum_is_equal((const QNum *)a, (const QNum *)b);
    case QTYPE_QDICT:
        return qdict_is_equal((const QDict *)a, (const QDict *)b);
    case QTYPE_QLIST:
        return qlist_is_equal((const QList *)a, (const QList *)b);
    case QTYPE_NONE:
    case QTYPE__MAX:
        break;
    }
    g_assert_not_reached();
}

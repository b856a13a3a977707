/*
 * Scalar QObjects: QString, QNum, QBool and the QNull singleton.
 */
#include <math.h>
#include "qobject/qobject-all.h"

static void qobject_init(QObject *obj, QType type)
{
    obj->type = type;
    obj->refcnt = 1;
}

QString *qstring_from_substr(const char *str, size_t start, size_t end)
{
    QString *qs = g_new0(QString, 1);

    qobject_init(&qs->base, QTYPE_QSTRING);
    qs->str = g_strndup(str + start, end - start);
    return qs;
}

QString *qstring_from_str(const char *str)
{
    return qstring_from_substr(str, 0, strlen(str));
}

const char *qstring_get_str(const QString *qstring)
{
    return qstring->str;
}

static QNum *qnum_alloc(QNumKind kind)
{
    QNum *qn = g_new0(QNum, 1);

    qobject_init(&qn->base, QTYPE_QNUM);
    qn->kind = kind;
    return qn;
}

QNum *qnum_from_int(int64_t value)
{
    QNum *qn = qnum_alloc(QNUM_I64);

    qn->u.i64 = value;
    return qn;
}

QNum *qnum_from_uint(uint64_t value)
{
    QNum *qn = qnum_alloc(QNUM_U64);

    qn->u.u64 = value;
    return qn;
}

QNum *qnum_from_double(double value)
{
    QNum *qn = qnum_alloc(QNUM_DOUBLE);

    qn->u.dbl = value;
    return qn;
}

bool qnum_get_try_int(const QNum *qn, int64_t *val)
{
    switch (qn->kind) {
    case QNUM_I64:
        *val = qn->u.i64;
        return true;
    case QNUM_U64:
        if (qn->u.u64 > INT64_MAX) {
            return false;
        }
        *val = (int64_t)qn->u.u64;
        return true;
    case QNUM_DOUBLE:
        break;
    }
    return false;
}

bool qnum_get_try_uint(const QNum *qn, uint64_t *val)
{
    switch (qn->kind) {
    case QNUM_I64:
        if (qn->u.i64 < 0) {
            return false;
        }
        *val = (uint64_t)qn->u.i64;
        return true;
    case QNUM_U64:
        *val = qn->u.u64;
        return true;
    case QNUM_DOUBLE:
        break;
    }
    return false;
}

double qnum_get_double(const QNum *qn)
{
    switch (qn->kind) {
    case QNUM_I64:
        return (double)qn->u.i64;
    case QNUM_U64:
        return (double)qn->u.u64;
    case QNUM_DOUBLE:
        return qn->u.dbl;
    }
    g_assert_not_reached();
}

QBool *qbool_from_bool(bool value)
{
    QBool *qb = g_new0(QBool, 1);

    qobject_init(&qb->base, QTYPE_QBOOL);
    qb->value = value;
    return qb;
}

bool qbool_get_bool(const QBool *qb)
{
    return qb->value;
}

/* Never freed: its count starts at one and every user takes its own. */
static QNull qnull_singleton = { .base = { QTYPE_QNULL, 1 } };

QNull *qnull(void)
{
    qnull_singleton.base.refcnt++;
    return &qnull_singleton;
}

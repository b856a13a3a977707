/*
 * QObject: the reference-counted value tree that every printed JSON
 * document is built from (dict, list, string, number, bool, null).
 */
#ifndef QOBJECT_QOBJECT_H
#define QOBJECT_QOBJECT_H

#include "qemu/osdep.h"

typedef enum QType {
    QTYPE_NONE,
    QTYPE_QNULL,
    QTYPE_QNUM,
    QTYPE_QSTRING,
    QTYPE_QDICT,
    QTYPE_QLIST,
    QTYPE_QBOOL,
    QTYPE__MAX,
} QType;

typedef struct QObject {
    QType type;
    size_t refcnt;
} QObject;

typedef struct QDict QDict;
typedef struct QList QList;
typedef struct QString QString;
typedef struct QNum QNum;
typedef struct QBool QBool;
typedef struct QNull QNull;

/*
 * Every concrete type embeds QObject as its first member named 'base'.
 * The argument is evaluated once (it is often g_steal_pointer()).
 */
#define QOBJECT(obj) ({                         \
    __typeof__(obj) qobject_o_ = (obj);         \
    qobject_o_ ? &qobject_o_->base : NULL;      \
})

QObject *qobject_ref_impl(QObject *obj);
void qobject_unref_impl(QObject *obj);
#define qobject_ref(obj) ((void)qobject_ref_impl(QOBJECT(obj)), (obj))
#define qobject_unref(obj) qobject_unref_impl(QOBJECT(obj))

static inline QType qobject_type(const QObject *obj)
{
    return obj->type;
}

/* Downcasts: NULL when @obj is NULL or of another type. */
QDict *qobject_to_qdict(QObject *obj);
QList *qobject_to_qlist(QObject *obj);
QString *qobject_to_qstring(QObject *obj);
QNum *qobject_to_qnum(QObject *obj);
QBool *qobject_to_qbool(QObject *obj);

/* Deep structural equality (numbers compare by value and kind). */
bool qobject_is_equal(const QObject *a, const QObject *b);

static inline void qobject_unref_cleanup(QObject *obj)
{
    qobject_unref_impl(obj);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QObject, qobject_unref_cleanup)

#endif

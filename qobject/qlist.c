/*
 * QList: append-only ordered list.
 */
#include "qobject/qobject-all.h"

QList *qlist_new(void)
{
    QList *list = g_new0(QList, 1);

    list->base.type = QTYPE_QLIST;
    list->base.refcnt = 1;
    return list;
}

void qlist_append_obj(QList *list, QObject *value)
{
    QListEntry *e = g_new0(QListEntry, 1);

    g_assert(value);
    e->value = value;
    if (list->tail) {
        list->tail->next = e;
    } else {
        list->head = e;
    }
    list->tail = e;
    list->size++;
}

void qlist_append_int(QList *list, int64_t value)
{
    qlist_append(list, qnum_from_int(value));
}

void qlist_append_str(QList *list, const char *value)
{
    qlist_append(list, qstring_from_str(value));
}

void qlist_append_bool(QList *list, bool value)
{
    qlist_append(list, qbool_from_bool(value));
}

size_t qlist_size(const QList *list)
{
    return list->size;
}

bool qlist_empty(const QList *list)
{
    return list->size == 0;
}

/*
 * QList: an ordered sequence of QObjects.
 */
#ifndef QOBJECT_QLIST_H
#define QOBJECT_QLIST_H

#include "qobject/qobject.h"

typedef struct QListEntry {
    QObject *value;
    struct QListEntry *next;
} QListEntry;

struct QList {
    QObject base;
    QListEntry *head;
    QListEntry *tail;
    size_t size;
};

QList *qlist_new(void);
/* Takes ownership of @value. */
void qlist_append_obj(QList *list, QObject *value);
#define qlist_append(list, obj) qlist_append_obj(list, QOBJECT(obj))
void qlist_append_int(QList *list, int64_t value);
void qlist_append_str(QList *list, const char *value);
void qlist_append_bool(QList *list, bool value);
size_t qlist_size(const QList *list);
bool qlist_empty(const QList *list);

static inline const QListEntry *qlist_first(const QList *list)
{
    return list->head;
}

static inline const QListEntry *qlist_next(const QListEntry *entry)
{
    return entry->next;
}

static inline QObject *qlist_entry_obj(const QListEntry *entry)
{
    return entry->value;
}

static inline void qlist_unref(QList *l)
{
    qobject_unref(l);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QList, qlist_unref)

#endif

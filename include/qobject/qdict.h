/*
 * QDict: a string-keyed map whose iteration order is QEMU's, so that
 * JSON printed from it is byte-identical to qemu-img's.
 *
 * QEMU iterates a 512-bucket hash table: buckets in ascending order of
 * tdb_hash(key) % 512, newest entry first inside a bucket.  Replacing
 * the value of an existing key keeps its position.
 */
#ifndef QOBJECT_QDICT_H
#define QOBJECT_QDICT_H

#include "qobject/qobject.h"

#define QDICT_BUCKET_MAX 512

typedef struct QDictEntry {
    char *key;
    QObject *value;
    struct QDictEntry *next;        /* next in the same bucket */
} QDictEntry;

struct QDict {
    QObject base;
    size_t size;
    QDictEntry *table[QDICT_BUCKET_MAX];
};

uint32_t qdict_hash(const char *key);
QDict *qdict_new(void);
size_t qdict_size(const QDict *dict);
/* Takes ownership of @value; replaces an existing value in place. */
void qdict_put_obj(QDict *dict, const char *key, QObject *value);
#define qdict_put(dict, key, obj) qdict_put_obj(dict, key, QOBJECT(obj))
void qdict_put_int(QDict *dict, const char *key, int64_t value);
void qdict_put_uint(QDict *dict, const char *key, uint64_t value);
void qdict_put_bool(QDict *dict, const char *key, bool value);
void qdict_put_str(QDict *dict, const char *key, const char *value);
void qdict_put_null(QDict *dict, const char *key);

QObject *qdict_get(const QDict *dict, const char *key);
bool qdict_haskey(const QDict *dict, const char *key);
const char *qdict_get_try_str(const QDict *dict, const char *key);
QDict *qdict_get_qdict(const QDict *dict, const char *key);
QList *qdict_get_qlist(const QDict *dict, const char *key);
bool qdict_del(QDict *dict, const char *key);

/* Iteration in QEMU order. */
const QDictEntry *qdict_first(const QDict *dict);
const QDictEntry *qdict_next(const QDict *dict, const QDictEntry *entry);

static inline const char *qdict_entry_key(const QDictEntry *e)
{
    return e->key;
}

static inline QObject *qdict_entry_value(const QDictEntry *e)
{
    return e->value;
}

static inline void qdict_unref(QDict *d)
{
    qobject_unref(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QDict, qdict_unref)

#endif

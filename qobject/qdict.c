/*
 * QDict with QEMU's iteration order (see qdict.h).
 */
#include "qobject/qobject-all.h"

/*
 * The hash QEMU's QDict uses (from tdb/gdbm), in 32-bit unsigned
 * arithmetic.  JSON key order depends on it, so it is part of our
 * output format.
 */
uint32_t qdict_hash(const char *key)
{
    size_t len = strlen(key);
    uint32_t value = 0x238F13AFu * (uint32_t)len;

    for (size_t i = 0; i < len; i++) {
        value += (uint32_t)(unsigned char)key[i] << (i * 5 % 24);
    }
    return 1103515243u * value + 12345u;
}

static unsigned qdict_bucket(const char *key)
{
    return qdict_hash(key) % QDICT_BUCKET_MAX;
}

QDict *qdict_new(void)
{
    QDict *dict = g_new0(QDict, 1);

    dict->base.type = QTYPE_QDICT;
    dict->base.refcnt = 1;
    return dict;
}

size_t qdict_size(const QDict *dict)
{
    return dict->size;
}

static QDictEntry *qdict_find(const QDict *dict, const char *key)
{
    for (QDictEntry *e = dict->table[qdict_bucket(key)]; e; e = e->next) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

void qdict_put_obj(QDict *dict, const char *key, QObject *value)
{
    QDictEntry *e = qdict_find(dict, key);
    unsigned bucket;

    g_assert(value);
    if (e) {
        qobject_unref_impl(e->value);
        e->value = value;
        return;
    }
    bucket = qdict_bucket(key);
    e = g_new0(QDictEntry, 1);
    e->key = g_strdup(key);
    e->value = value;
    e->next = dict->table[bucket];      /* newest first in a bucket */
    dict->table[bucket] = e;
    dict->size++;
}

void qdict_put_int(QDict *dict, const char *key, int64_t value)
{
    qdict_put(dict, key, qnum_from_int(value));
}

void qdict_put_uint(QDict *dict, const char *key, uint64_t value)
{
    qdict_put(dict, key, qnum_from_uint(value));
}

void qdict_put_bool(QDict *dict, const char *key, bool value)
{
    qdict_put(dict, key, qbool_from_bool(value));
}

void qdict_put_str(QDict *dict, const char *key, const char *value)
{
    qdict_put(dict, key, qstring_from_str(value));
}

void qdict_put_null(QDict *dict, const char *key)
{
    qdict_put(dict, key, qnull());
}

QObject *qdict_get(const QDict *dict, const char *key)
{
    QDictEntry *e = qdict_find(dict, key);

    return e ? e->value : NULL;
}

bool qdict_haskey(const QDict *dict, const char *key)
{
    return qdict_find(dict, key) != NULL;
}

const char *qdict_get_try_str(const QDict *dict, const char *key)
{
    QString *s = qobject_to_qstring(qdict_get(dict, key));

    return s ? qstring_get_str(s) : NULL;
}

QDict *qdict_get_qdict(const QDict *dict, const char *key)
{
    return qobject_to_qdict(qdict_get(dict, key));
}

QList *qdict_get_qlist(const QDict *dict, const char *key)
{
    return qobject_to_qlist(qdict_get(dict, key));
}

bool qdict_del(QDict *dict, const char *key)
{
    QDictEntry **link = &dict->table[qdict_bucket(key)];

    for (; *link; link = &(*link)->next) {
        QDictEntry *e = *link;
        if (!strcmp(e->key, key)) {
            *link = e->next;
            qobject_unref_impl(e->value);
            g_free(e->key);
            g_free(e);
            dict->size--;
            return true;
        }
    }
    return false;
}

static const QDictEntry *qdict_scan_from(const QDict *dict, unsigned bucket)
{
    for (; bucket < QDICT_BUCKET_MAX; bucket++) {
        if (dict->table[bucket]) {
            return dict->table[bucket];
        }
    }
    return NULL;
}

const QDictEntry *qdict_first(const QDict *dict)
{
    return qdict_scan_from(dict, 0);
}

const QDictEntry *qdict_next(const QDict *dict, const QDictEntry *entry)
{
    if (entry->next) {
        return entry->next;
    }
    return qdict_scan_from(dict, qdict_bucket(entry->key) + 1);
}

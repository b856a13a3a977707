/*
 * Scalar QObjects: string, number, bool, null.
 */
#ifndef QOBJECT_QSCALAR_H
#define QOBJECT_QSCALAR_H

#include "qobject/qobject.h"

struct QString {
    QObject base;
    char *str;
};

typedef enum QNumKind {
    QNUM_I64,
    QNUM_U64,
    QNUM_DOUBLE,
} QNumKind;

struct QNum {
    QObject base;
    QNumKind kind;
    union {
        int64_t i64;
        uint64_t u64;
        double dbl;
    } u;
};

struct QBool {
    QObject base;
    bool value;
};

struct QNull {
    QObject base;
};

QString *qstring_from_str(const char *str);
QString *qstring_from_substr(const char *str, size_t start, size_t end);
const char *qstring_get_str(const QString *qstring);

QNum *qnum_from_int(int64_t value);
QNum *qnum_from_uint(uint64_t value);
QNum *qnum_from_double(double value);
/* Conversions succeed only when the value is exactly representable. */
bool qnum_get_try_int(const QNum *qn, int64_t *val);
bool qnum_get_try_uint(const QNum *qn, uint64_t *val);
double qnum_get_double(const QNum *qn);

QBool *qbool_from_bool(bool value);
bool qbool_get_bool(const QBool *qb);

/* The null singleton, with a new reference. */
QNull *qnull(void);

#endif

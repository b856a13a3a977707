/*
 * QapiEmitter: prints a QAPI value while it is walked, instead of
 * building a QObject tree and printing that.
 *
 * `qemu-img check -M` values hold millions of list entries; a tree
 * would double the memory.  An emitter keeps one small frame per open
 * object or list (memory O(nesting depth)) and writes the text as it
 * goes.  The generated qapi_emit_T() functions (qapi-emit.h) drive it
 * in the member order the QObject printers would see, so that each
 * backend prints exactly the bytes its QObject counterpart prints:
 *
 * - JSON: qobject_to_json_pretty(qapi_out_T(v), true), QEMU 7.2's
 *   pretty JSON, quirks included (qobject/qjson.c).
 * - human: the generic printer of qemu-img's "Format specific
 *   information": "key: value" lines, '-' in keys printed as ' ', an
 *   object or list value on the lines below its key, four spaces
 *   deeper, list items labelled "[i]", strings printed as they are.
 *   Nothing is printed for the outermost object or list itself, only
 *   for what it holds, starting at the indent level given (in units
 *   of four spaces).
 *
 * Output goes to a FILE * or is appended to a GString.  For a FILE *
 * the text is buffered and written whenever the buffer fills and each
 * time the outermost value is complete, so the caller may write to
 * the stream itself between values.  Write errors are left in the
 * stream's error indicator (check ferror() or fflush()).
 *
 * A value is a scalar, or start_struct, then any number of pairs of
 * qapi_emitter_member() and a value, then end_struct; or start_list,
 * any number of values, end_list.  Misuse is a programming error and
 * aborts.
 */
#ifndef QAPI_EMITTER_H
#define QAPI_EMITTER_H

#include "qemu/osdep.h"

typedef struct QapiEmitter QapiEmitter;

QapiEmitter *qapi_json_emitter_new(FILE *out);
QapiEmitter *qapi_json_emitter_new_gstring(GString *out);
QapiEmitter *qapi_human_emitter_new(FILE *out, int indent);
QapiEmitter *qapi_human_emitter_new_gstring(GString *out, int indent);
/* Writes what is buffered, then frees @e (not the FILE or GString). */
void qapi_emitter_free(QapiEmitter *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QapiEmitter, qapi_emitter_free)

void qapi_emitter_start_struct(QapiEmitter *e);
/* The name of the struct member whose value comes next. */
void qapi_emitter_member(QapiEmitter *e, const char *name);
/* The same, with strlen(@name) known (generated code: no strlen). */
void qapi_emitter_member_len(QapiEmitter *e, const char *name, size_t len);
/*
 * A member and its integer value in one call: the bulk of a big value
 * (offsets, sizes, counts of `check -M`) is such pairs, and the JSON
 * text for one is written in one go.  Same output as
 * qapi_emitter_member_len() followed by qapi_emitter_int()/_uint().
 */
void qapi_emitter_member_int(QapiEmitter *e, const char *name, size_t len,
                             int64_t value);
void qapi_emitter_member_uint(QapiEmitter *e, const char *name, size_t len,
                              uint64_t value);
void qapi_emitter_end_struct(QapiEmitter *e);
void qapi_emitter_start_list(QapiEmitter *e);
void qapi_emitter_end_list(QapiEmitter *e);

/*
 * A whole struct whose members are all integers, all present: the
 * small objects that `check -M` prints by the hundred thousand.  In
 * JSON it is written in one go, with no frame of its own.  Same output
 * as start_struct, qapi_emitter_member_int()/_uint() for each member in
 * turn, end_struct.  Generated code keeps the names in a static table;
 * a name is stored padded to a fixed size so that it is copied as one
 * block (schema names longer than that take the general path).
 */
#define QAPI_EMITTER_INT_NAME_MAX 32
typedef struct QapiEmitterIntMember {
    char name[QAPI_EMITTER_INT_NAME_MAX];
    uint8_t len;                /* strlen(name), < QAPI_EMITTER_INT_NAME_MAX */
    bool is_signed;             /* the value is .i, else .u */
} QapiEmitterIntMember;

typedef union QapiEmitterInt {
    int64_t i;
    uint64_t u;
} QapiEmitterInt;

void qapi_emitter_int_struct(QapiEmitter *e,
                             const QapiEmitterIntMember *members,
                             const QapiEmitterInt *values, size_t n);

void qapi_emitter_int(QapiEmitter *e, int64_t value);
void qapi_emitter_uint(QapiEmitter *e, uint64_t value);
void qapi_emitter_double(QapiEmitter *e, double value);
void qapi_emitter_bool(QapiEmitter *e, bool value);
/* NULL prints as "", as the output visitors turn it into "". */
void qapi_emitter_str(QapiEmitter *e, const char *value);
void qapi_emitter_null(QapiEmitter *e);

#endif

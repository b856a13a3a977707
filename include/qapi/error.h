/*
 * Error reporting: an Error is set once where the cause is known and
 * reported once, at the top, by the tool.
 */
#ifndef QAPI_ERROR_H
#define QAPI_ERROR_H

#include "qemu/osdep.h"

typedef struct Error Error;

void error_setg(Error **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Appends ": strerror(os_errno)" like QEMU does. */
void error_setg_errno(Error **errp, int os_errno, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
void error_prepend(Error **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void error_append_hint(Error **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void error_propagate(Error **dst_errp, Error *local_err);
const char *error_get_pretty(const Error *err);
const char *error_get_hint(const Error *err);
void error_free(Error *err);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Error, error_free)

/* Program name printed before every reported message ("qemu-img"). */
void error_set_progname(const char *name);
const char *error_get_progname(void);
/* "progname: message\n" on stderr. */
void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* "progname: warning: message\n" on stderr. */
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Raw text on stderr, no program name, no newline added. */
void error_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Reports the message and its hint, then frees @err. */
void error_report_err(Error *err);

#endif

/*
 * crash-after: an LD_PRELOAD shim that simulates a crash in the middle
 * of a command that modifies an image (test tool, tests/crash/run.sh).
 *
 * It wraps the calls that change a file's contents or size -- the
 * pwrite and pwritev families, ftruncate, fallocate (the discard path
 * punches holes with it) and write/writev on regular files other than
 * stdin/stdout/stderr -- and counts them.
 *
 *   CRASH_AFTER_WRITES=N   let the first N modifying calls through, then
 *                          kill the process with SIGKILL instead of
 *                          making call N+1 (N=0: before the first one).
 *                          Unset: never crash, only count.
 *   CRASH_COUNT_FILE=PATH  at a normal exit, append the number of
 *                          modifying calls made ("N\n") to PATH.
 *   CRASH_LOG=PATH         append one line per modifying call:
 *                          "#K OP fd=F path=P off=O len=L data=HEX"
 *                          (the first 16 bytes written), and for the
 *                          call that is not made, "#K CRASH before OP ...".
 *                          Flushes (fsync, fdatasync) are logged as
 *                          "-- OP fd=F" lines; they are not counted.
 *   CRASH_SUFFIX=S         count only calls on files whose path ends in S
 *                          (others pass through uncounted).
 *
 * A crash here is the death of the process: every call made before it
 * has reached the page cache, none after it has.  Power loss, which can
 * also lose or reorder unflushed writes, is not modelled.  Not wrapped:
 * open(O_TRUNC), mmap'ed writes, copy_file_range, sendfile, and block
 * device ioctls (BLKDISCARD, BLKZEROOUT); the file layer uses none of
 * them on an image it repairs.
 *
 * The real functions are found with dlsym(RTLD_NEXT).
 */
/* Our own definitions of pwrite and pwrite64 must be distinct symbols. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static long long crash_after = -1;   /* -1: never crash */
static long long ncalls;
static const char *count_file;
static const char *log_file;
static const char *suffix;

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (!f) {
        static const char msg[] = "crash-after: cannot resolve a symbol\n";
        /* the raw system call: write() itself is wrapped here */
        (void)!syscall(SYS_write, 2, msg, sizeof(msg) - 1);
        _exit(126);
    }
    return f;
}

/* real_NAME: the next definition of NAME (ours has the same type). */
#define REAL(name) \
    static __typeof__(name) *real_##name; \
    if (!real_##name) { \
        real_##name = (__typeof__(name) *)real(#name); \
    }

__attribute__((constructor))
static void crash_after_init(void)
{
    const char *s = getenv("CRASH_AFTER_WRITES");

    if (s && *s) {
        char *end;
        long long n = strtoll(s, &end, 10);
        if (*end == '\0' && n >= 0) {
            crash_after = n;
        }
    }
    count_file = getenv("CRASH_COUNT_FILE");
    log_file = getenv("CRASH_LOG");
    suffix = getenv("CRASH_SUFFIX");
    if (count_file && !*count_file) {
        count_file = NULL;
    }
    if (log_file && !*log_file) {
        log_file = NULL;
    }
    if (suffix && !*suffix) {
        suffix = NULL;
    }
}

__attribute__((destructor))
static void crash_after_fini(void)
{
    if (count_file) {
        FILE *f = fopen(count_file, "a");
        if (f) {
            fprintf(f, "%lld\n", __atomic_load_n(&ncalls, __ATOMIC_SEQ_CST));
            fclose(f);
        }
    }
}

static void fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, buf, size - 1);
    if (n < 0) {
        n = 0;
    }
    buf[n] = '\0';
}

static int path_matches(int fd)
{
    char path[PATH_MAX];
    size_t lp, ls;

    if (!suffix) {
        return 1;
    }
    fd_path(fd, path, sizeof(path));
    lp = strlen(path);
    ls = strlen(suffix);
    return lp >= ls && strcmp(path + lp - ls, suffix) == 0;
}

/* K: the call's number, from 1. */
static void log_call(long long k, const char *what, const char *op, int fd,
                     long long off, long long len, const void *data)
{
    char path[PATH_MAX];
    FILE *f;
    int saved = errno;

    if (!log_file) {
        return;
    }
    f = fopen(log_file, "a");
    if (!f) {
        errno = saved;
        return;
    }
    fd_path(fd, path, sizeof(path));
    fprintf(f, "#%lld %s%s fd=%d path=%s off=0x%llx len=%lld",
            k, what, op, fd, path, off, len);
    if (data && len > 0) {
        const unsigned char *p = data;
        fputs(" data=", f);
        for (long long i = 0; i < len && i < 16; i++) {
            fprintf(f, "%02x", p[i]);
        }
    }
    fputc('\n', f);
    fclose(f);
    errno = saved;
}

/*
 * Called before each modifying call; returns after counting it, or does
 * not return when this is the call the crash replaces.  (Atomic, for
 * callers that write from several threads.)
 */
static void before(const char *op, int fd, long long off, long long len,
                   const void *data)
{
    long long k;
    int saved = errno;

    if (!path_matches(fd)) {
        errno = saved;
        return;
    }
    errno = saved;
    k = __atomic_fetch_add(&ncalls, 1, __ATOMIC_SEQ_CST);
    if (crash_after >= 0 && k >= crash_after) {
        log_call(k + 1, "CRASH before ", op, fd, off, len, data);
        kill(getpid(), SIGKILL);
        _exit(137);
    }
    log_call(k + 1, "", op, fd, off, len, data);
}

static int regular_output(int fd)
{
    struct stat st;

    return fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static long long iov_len(const struct iovec *iov, int cnt)
{
    long long n = 0;

    for (int i = 0; i < cnt; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

static const void *iov_first(const struct iovec *iov, int cnt)
{
    return cnt > 0 ? iov[0].iov_base : NULL;
}

/* ---- pwrite family ---- */

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    before("pwrite", fd, off, n, buf);
    return real_pwrite(fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    REAL(pwrite64);
    before("pwrite", fd, off, n, buf);
    return real_pwrite64(fd, buf, n, off);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev);
    before("pwritev", fd, off, iov_len(iov, cnt), iov_first(iov, cnt));
    return real_pwritev(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt,
                         off64_t off)
{
    REAL(pwritev64);
    before("pwritev", fd, off, iov_len(iov, cnt), iov_first(iov, cnt));
    return real_pwritev64(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off,
                        int flags)
{
    REAL(pwritev2);
    before("pwritev", fd, off, iov_len(iov, cnt), iov_first(iov, cnt));
    return real_pwritev2(fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt,
                           off64_t off, int flags)
{
    REAL(pwritev64v2);
    before("pwritev", fd, off, iov_len(iov, cnt), iov_first(iov, cnt));
    return real_pwritev64v2(fd, iov, cnt, off, flags);
}

/* ---- write/writev: only on regular files other than fds 0-2 ---- */

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (regular_output(fd)) {
        before("write", fd, lseek(fd, 0, SEEK_CUR), n, buf);
    }
    return real_write(fd, buf, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(writev);
    if (regular_output(fd)) {
        before("writev", fd, lseek(fd, 0, SEEK_CUR), iov_len(iov, cnt),
               iov_first(iov, cnt));
    }
    return real_writev(fd, iov, cnt);
}

/* ---- size changes and hole punching ---- */

EXPORT int ftruncate(int fd, off_t len)
{
    REAL(ftruncate);
    before("ftruncate", fd, len, 0, NULL);
    return real_ftruncate(fd, len);
}

EXPORT int ftruncate64(int fd, off64_t len)
{
    REAL(ftruncate64);
    before("ftruncate", fd, len, 0, NULL);
    return real_ftruncate64(fd, len);
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
    REAL(fallocate);
    before(mode & FALLOC_FL_PUNCH_HOLE ? "fallocate(punch)" : "fallocate",
           fd, off, len, NULL);
    return real_fallocate(fd, mode, off, len);
}

EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    REAL(fallocate64);
    before(mode & FALLOC_FL_PUNCH_HOLE ? "fallocate(punch)" : "fallocate",
           fd, off, len, NULL);
    return real_fallocate64(fd, mode, off, len);
}

EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
    REAL(posix_fallocate);
    before("posix_fallocate", fd, off, len, NULL);
    return real_posix_fallocate(fd, off, len);
}

EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
    REAL(posix_fallocate64);
    before("posix_fallocate", fd, off, len, NULL);
    return real_posix_fallocate64(fd, off, len);
}

/* ---- flushes: logged, not counted ---- */

static void log_flush(const char *op, int fd)
{
    FILE *f;
    int saved = errno;

    if (!log_file || !path_matches(fd)) {
        return;
    }
    f = fopen(log_file, "a");
    if (f) {
        fprintf(f, "-- %s fd=%d\n", op, fd);
        fclose(f);
    }
    errno = saved;
}

EXPORT int fsync(int fd)
{
    REAL(fsync);
    log_flush("fsync", fd);
    return real_fsync(fd);
}

EXPORT int fdatasync(int fd)
{
    REAL(fdatasync);
    log_flush("fdatasync", fd);
    return real_fdatasync(fd);
}

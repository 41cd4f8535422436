/*
 * faultfs: a syscall-level storage fault injector for node/tests/storage_faults.rs.
 *
 * Built at test time as an LD_PRELOAD shared object:
 *
 *     cc -shared -fPIC -O1 -o faultfs.so faultfs.c -ldl
 *
 * It wraps the libc entry points through which RocksDB (and Rust's std)
 * write, sync and rename files: write, pwrite, pwrite64, writev, pwritev,
 * fsync, fdatasync, sync_file_range, rename, renameat and renameat2. A call
 * is *watched* when its file lies under FAULTFS_DIR (the path of an fd is
 * read from /proc/self/fd); every other call passes straight through.
 *
 * Environment (all optional except FAULTFS_DIR):
 *
 *   FAULTFS_DIR        the directory whose files are watched (the node's db)
 *   FAULTFS_LOG        a file that gets one line per watched call (below)
 *   FAULTFS_KIND       write | fsync | rename | any (default): the kinds counted
 *   FAULTFS_THREADS    comma-separated thread-name prefixes; a call is counted
 *                      only from a thread matching one of them, and never from
 *                      one matching a prefix written with a leading '!'
 *                      (e.g. "receipt-log" or "!receipt-log,!rocksdb")
 *   FAULTFS_FUNC       a function name (write, fdatasync, rename, ...): only
 *                      its calls are counted
 *   FAULTFS_CLASS      a file class (below): only calls on such files counted
 *   FAULTFS_ARM        a path: calls are counted only once it exists (the test
 *                      creates it to open the window it wants to hit)
 *   FAULTFS_FAIL_AT    N >= 1: the Nth counted call fails with EIO, once
 *                      (0 or unset: count and log only)
 *   FAULTFS_AMBIGUOUS  1: the failing call is performed for real first and
 *                      then reported as -1/EIO (the bytes reached the file,
 *                      the caller saw an error)
 *   FAULTFS_KEEP_UNSYNCED  1: a plain (not ambiguous) failed fsync leaves the
 *                      file alone; by default it truncates the file back to
 *                      the size it had at its last successful sync, since
 *                      after a failed fsync the kernel may have dropped those
 *                      pages (what a caller wrote since its last good sync is
 *                      treated as lost)
 *
 * File classes, from the file's name (RocksDB's): dir (the watched directory
 * itself), manifest (MANIFEST-*), options (OPTIONS-*), current (CURRENT and
 * its *.dbtmp), sst, blob, wal (*.log), other. RocksDB's diagnostic info
 * log (LOG, LOG.old.*) is not watched at all: nothing durable lives there.
 *
 * A plain failed write writes nothing; a plain failed rename renames
 * nothing.
 *
 * Log lines (space separated, the path last):
 *
 *   <line> <counted index or -> <kind> <function> <thread> <bytes> <outcome> <class> <path>
 *
 * where outcome is ok, err:<errno>, FAULT (plain) or FAULT-AMBIGUOUS, and a
 * plain fsync fault that dropped bytes adds a line `... DROPPED <n> <path>`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum kind { K_WRITE = 1, K_FSYNC = 2, K_RENAME = 4 };
enum action { PASS = 0, FAIL_PLAIN = 1, FAIL_AMBIGUOUS = 2 };

static char watch_dir[PATH_MAX];
static size_t watch_len;
static int enabled;
static int log_fd = -1;
static char arm_path[PATH_MAX];
static int armed_cached;
static long fail_at;
static int kinds = K_WRITE | K_FSYNC | K_RENAME;
static int ambiguous;
static int keep_unsynced;
static char threads[512];
static char only_func[32];
static char only_class[32];

static long line_no;
static long counted;
static int fired;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);

#define RESOLVE(name)                                              \
    do {                                                           \
        if (!real_##name)                                          \
            *(void **)(&real_##name) = dlsym(RTLD_NEXT, #name);    \
    } while (0)

/* Size at the last successful sync, per fd (for the plain fsync fault). */
#define TRACKED_FDS 4096
struct synced {
    int valid;
    dev_t dev;
    ino_t ino;
    off_t size;
};
static struct synced synced[TRACKED_FDS];
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void faultfs_init(void) {
    RESOLVE(write);
    const char *d = getenv("FAULTFS_DIR");
    if (!d || !*d)
        return;
    char resolved[PATH_MAX];
    if (realpath(d, resolved))
        d = resolved;
    snprintf(watch_dir, sizeof watch_dir, "%s", d);
    watch_len = strlen(watch_dir);
    while (watch_len > 1 && watch_dir[watch_len - 1] == '/')
        watch_dir[--watch_len] = '\0';
    const char *l = getenv("FAULTFS_LOG");
    if (l && *l)
        log_fd = open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const char *a = getenv("FAULTFS_ARM");
    if (a && *a)
        snprintf(arm_path, sizeof arm_path, "%s", a);
    const char *f = getenv("FAULTFS_FAIL_AT");
    if (f)
        fail_at = strtol(f, NULL, 10);
    const char *k = getenv("FAULTFS_KIND");
    if (k && strcmp(k, "write") == 0)
        kinds = K_WRITE;
    else if (k && strcmp(k, "fsync") == 0)
        kinds = K_FSYNC;
    else if (k && strcmp(k, "rename") == 0)
        kinds = K_RENAME;
    const char *m = getenv("FAULTFS_AMBIGUOUS");
    ambiguous = m && strcmp(m, "1") == 0;
    const char *u = getenv("FAULTFS_KEEP_UNSYNCED");
    keep_unsynced = u && strcmp(u, "1") == 0;
    const char *t = getenv("FAULTFS_THREADS");
    if (t)
        snprintf(threads, sizeof threads, "%s", t);
    const char *fn = getenv("FAULTFS_FUNC");
    if (fn)
        snprintf(only_func, sizeof only_func, "%s", fn);
    const char *cl = getenv("FAULTFS_CLASS");
    if (cl)
        snprintf(only_class, sizeof only_class, "%s", cl);
    enabled = 1;
}

static int starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The class of a watched path (see the header). */
static const char *file_class(const char *path) {
    if (strcmp(path, watch_dir) == 0)
        return "dir";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (starts(base, "LOG"))
        return "infolog";
    if (starts(base, "MANIFEST"))
        return "manifest";
    if (starts(base, "OPTIONS"))
        return "options";
    if (starts(base, "CURRENT") || strstr(base, ".dbtmp"))
        return "current";
    if (ends(base, ".sst"))
        return "sst";
    if (ends(base, ".blob"))
        return "blob";
    if (ends(base, ".log"))
        return "wal";
    return "other";
}

static int under_watch(const char *path) {
    return strncmp(path, watch_dir, watch_len) == 0 &&
           (path[watch_len] == '\0' || path[watch_len] == '/') &&
           strcmp(file_class(path), "infolog") != 0;
}

/* The path of `fd`, if it is under the watched directory. */
static int fd_watched(int fd, char *out) {
    if (!enabled || fd < 0)
        return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n <= 0)
        return 0;
    out[n] = '\0';
    return under_watch(out);
}

/* `path` made absolute against `dirfd` (AT_FDCWD: the working directory);
 * `out` holds 2 * PATH_MAX bytes. */
static void absolute(int dirfd, const char *path, char *out) {
    if (path[0] == '/') {
        snprintf(out, 2 * PATH_MAX, "%s", path);
        return;
    }
    char base[PATH_MAX];
    base[0] = '\0';
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base))
            base[0] = '\0';
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(link, base, sizeof base - 1);
        base[n > 0 ? n : 0] = '\0';
    }
    snprintf(out, 2 * PATH_MAX, "%s/%s", base, path);
}

static void thread_name(char *out) {
    out[0] = '\0';
    if (prctl(PR_GET_NAME, out, 0, 0, 0) != 0)
        strcpy(out, "?");
    out[15] = '\0';
    for (char *c = out; *c; c++)
        if (*c == ' ')
            *c = '_';
}

static int thread_counts(const char *name) {
    if (!threads[0])
        return 1;
    int any_positive = 0, matched = 0;
    char list[sizeof threads];
    snprintf(list, sizeof list, "%s", threads);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int neg = item[0] == '!';
        const char *prefix = neg ? item + 1 : item;
        int hit = strncmp(name, prefix, strlen(prefix)) == 0;
        if (neg && hit)
            return 0;
        if (!neg) {
            any_positive = 1;
            matched |= hit;
        }
    }
    return !any_positive || matched;
}

static int is_armed(void) {
    if (!arm_path[0] || __atomic_load_n(&armed_cached, __ATOMIC_ACQUIRE))
        return 1;
    if (access(arm_path, F_OK) == 0) {
        __atomic_store_n(&armed_cached, 1, __ATOMIC_RELEASE);
        return 1;
    }
    return 0;
}

/* Counts a watched call and says what to do with it; `*index` is its
 * counted index (0: not counted). */
static enum action decide(int kind, const char *func, const char *path, const char *thread,
                          long *index) {
    *index = 0;
    if (!(kinds & kind) || (only_func[0] && strcmp(func, only_func) != 0) ||
        (only_class[0] && strcmp(file_class(path), only_class) != 0) ||
        !thread_counts(thread) || !is_armed())
        return PASS;
    *index = __atomic_add_fetch(&counted, 1, __ATOMIC_SEQ_CST);
    if (fail_at > 0 && *index == fail_at) {
        int expected = 0;
        if (__atomic_compare_exchange_n(&fired, &expected, 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return ambiguous ? FAIL_AMBIGUOUS : FAIL_PLAIN;
    }
    return PASS;
}

static void note(long index, const char *kind, const char *func, const char *thread, long bytes,
                 const char *outcome, const char *path) {
    if (log_fd < 0)
        return;
    char line[2 * PATH_MAX + 256];
    long no = __atomic_add_fetch(&line_no, 1, __ATOMIC_SEQ_CST);
    char idx[32];
    if (index > 0)
        snprintf(idx, sizeof idx, "%ld", index);
    else
        strcpy(idx, "-");
    int n = snprintf(line, sizeof line, "%ld %s %s %s %s %ld %s %s %s\n", no, idx, kind, func,
                     thread[0] ? thread : "?", bytes, outcome, file_class(path), path);
    if (n > 0) {
        RESOLVE(write);
        ssize_t ignored = real_write(log_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)ignored;
    }
}

static void outcome_of(long r, int err, char *out) {
    if (r < 0)
        snprintf(out, 32, "err:%d", err);
    else
        strcpy(out, "ok");
}

/* Remembers the size of `fd`'s file before its first watched write. */
static void track_write(int fd) {
    if (fd < 0 || fd >= TRACKED_FDS)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    pthread_mutex_lock(&synced_lock);
    struct synced *s = &synced[fd];
    if (!s->valid || s->dev != st.st_dev || s->ino != st.st_ino) {
        s->valid = 1;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->size = st.st_size;
    }
    pthread_mutex_unlock(&synced_lock);
}

static void track_synced(int fd) {
    if (fd < 0 || fd >= TRACKED_FDS)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    pthread_mutex_lock(&synced_lock);
    struct synced *s = &synced[fd];
    s->valid = 1;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    pthread_mutex_unlock(&synced_lock);
}

/* The plain fsync fault: what was written since the last good sync is lost. */
static long drop_unsynced(int fd) {
    if (keep_unsynced || fd < 0 || fd >= TRACKED_FDS)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    long dropped = 0;
    pthread_mutex_lock(&synced_lock);
    struct synced *s = &synced[fd];
    if (s->valid && s->dev == st.st_dev && s->ino == st.st_ino && st.st_size > s->size) {
        if (ftruncate(fd, s->size) == 0)
            dropped = (long)(st.st_size - s->size);
    }
    pthread_mutex_unlock(&synced_lock);
    return dropped;
}

#define WRITE_BODY(func, bytes, call)                                         \
    char path[PATH_MAX];                                                      \
    if (!fd_watched(fd, path))                                                \
        return call;                                                          \
    char thread[32];                                                          \
    thread_name(thread);                                                      \
    long index;                                                               \
    enum action act = decide(K_WRITE, func, path, thread, &index);                        \
    if (act == FAIL_PLAIN) {                                                  \
        note(index, "write", func, thread, (long)(bytes), "FAULT", path);     \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    track_write(fd);                                                          \
    ssize_t r = call;                                                         \
    int err = errno;                                                          \
    if (act == FAIL_AMBIGUOUS) {                                              \
        note(index, "write", func, thread, (long)(bytes), "FAULT-AMBIGUOUS", path); \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    char out[32];                                                             \
    outcome_of(r, err, out);                                                  \
    note(index, "write", func, thread, (long)(bytes), out, path);             \
    errno = err;                                                              \
    return r;

static size_t iov_bytes(const struct iovec *iov, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

ssize_t write(int fd, const void *buf, size_t n) {
    RESOLVE(write);
    WRITE_BODY("write", n, real_write(fd, buf, n))
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    RESOLVE(pwrite);
    WRITE_BODY("pwrite", n, real_pwrite(fd, buf, n, off))
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    RESOLVE(pwrite64);
    WRITE_BODY("pwrite64", n, real_pwrite64(fd, buf, n, off))
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    RESOLVE(writev);
    WRITE_BODY("writev", iov_bytes(iov, cnt), real_writev(fd, iov, cnt))
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    RESOLVE(pwritev);
    WRITE_BODY("pwritev", iov_bytes(iov, cnt), real_pwritev(fd, iov, cnt, off))
}

#define SYNC_BODY(func, call, barrier)                                        \
    char path[PATH_MAX];                                                      \
    if (!fd_watched(fd, path))                                                \
        return call;                                                          \
    char thread[32];                                                          \
    thread_name(thread);                                                      \
    long index;                                                               \
    enum action act = decide(K_FSYNC, func, path, thread, &index);                        \
    if (act == FAIL_PLAIN) {                                                  \
        long dropped = (barrier) ? drop_unsynced(fd) : 0;                     \
        note(index, "fsync", func, thread, 0, "FAULT", path);                 \
        if (dropped > 0)                                                      \
            note(index, "fsync", func, thread, dropped, "DROPPED", path);     \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    int r = call;                                                             \
    int err = errno;                                                          \
    if (r == 0 && (barrier))                                                  \
        track_synced(fd);                                                     \
    if (act == FAIL_AMBIGUOUS) {                                              \
        note(index, "fsync", func, thread, 0, "FAULT-AMBIGUOUS", path);       \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    char out[32];                                                             \
    outcome_of(r, err, out);                                                  \
    note(index, "fsync", func, thread, 0, out, path);                         \
    errno = err;                                                              \
    return r;

int fsync(int fd) {
    RESOLVE(fsync);
    SYNC_BODY("fsync", real_fsync(fd), 1)
}

int fdatasync(int fd) {
    RESOLVE(fdatasync);
    SYNC_BODY("fdatasync", real_fdatasync(fd), 1)
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags) {
    RESOLVE(sync_file_range);
    SYNC_BODY("sync_file_range", real_sync_file_range(fd, off, n, flags), 0)
}

#define RENAME_BODY(func, olddir, oldp, newdir, newp, call)                   \
    if (!enabled)                                                             \
        return call;                                                          \
    char from[2 * PATH_MAX], to[2 * PATH_MAX];                                        \
    absolute(olddir, oldp, from);                                             \
    absolute(newdir, newp, to);                                               \
    if (!under_watch(from) && !under_watch(to))                               \
        return call;                                                          \
    char thread[32];                                                          \
    thread_name(thread);                                                      \
    long index;                                                               \
    enum action act = decide(K_RENAME, func, under_watch(to) ? to : from, thread, &index);                       \
    if (act == FAIL_PLAIN) {                                                  \
        note(index, "rename", func, thread, 0, "FAULT", to);                  \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    int r = call;                                                             \
    int err = errno;                                                          \
    if (act == FAIL_AMBIGUOUS) {                                              \
        note(index, "rename", func, thread, 0, "FAULT-AMBIGUOUS", to);        \
        errno = EIO;                                                          \
        return -1;                                                            \
    }                                                                         \
    char out[32];                                                             \
    outcome_of(r, err, out);                                                  \
    note(index, "rename", func, thread, 0, out, to);                          \
    errno = err;                                                              \
    return r;

int rename(const char *oldp, const char *newp) {
    RESOLVE(rename);
    RENAME_BODY("rename", AT_FDCWD, oldp, AT_FDCWD, newp, real_rename(oldp, newp))
}

int renameat(int olddir, const char *oldp, int newdir, const char *newp) {
    RESOLVE(renameat);
    RENAME_BODY("renameat", olddir, oldp, newdir, newp, real_renameat(olddir, oldp, newdir, newp))
}

int renameat2(int olddir, const char *oldp, int newdir, const char *newp, unsigned int flags) {
    RESOLVE(renameat2);
    RENAME_BODY("renameat2", olddir, oldp, newdir, newp,
                real_renameat2(olddir, oldp, newdir, newp, flags))
}

/* SPDX-License-Identifier: MIT */
/*
 * blobs.c - the bytes of attachments: a folder of files named by the hex
 * BLAKE2b-256 of their bytes (content-addressed, like git's loose
 * objects). A home keeps its photos here (<home>/attachments), the server
 * the bytes devices upload.
 *
 * Every file is written as name.tmp, fsync'd, renamed and the folder
 * fsync'd, so a crash leaves either the old state or the whole file; a
 * file being received arrives in <hash>.part, appended and fsync'd chunk
 * by chunk (an upload cut at 90 % resumes at 90 %), and becomes <hash>
 * only when its bytes hash to its name. Reading a whole file out checks
 * it again. What a file holds is never trusted from its name alone.
 *
 * Does not know the log: which hashes an entry references is attach.c's.
 * Depends on util/ and crypto/ (hashing) only; no SQLite.
 */
#include "ntm_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_CHUNK 65536

const char *
ntm_attach_sniff(const void *head, size_t n)
{
    const unsigned char *p = head;
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
        return "application/pdf";
    return NULL;
}

static int
hash_name_valid(const char *hash)
{
    return hash && strlen(hash) == NTM_HEX_ID_LEN &&
           ntm_is_lower_hex(hash, NTM_HEX_ID_LEN);
}

/* new: dir/hash + suffix, or NULL (out of memory). */
static char *
blob_path(const char *dir, const char *hash, const char *suffix)
{
    struct ntm_buf b = NTM_BUF_INIT;
    if (ntm_buf_addf(&b, "%s/%s%s", dir, hash, suffix) != NTM_OK) {
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

static enum ntm_err
make_dir(const char *dir, struct ntm_error *err)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return NTM_OK;
    return ntm_error_set_errno(err, NTM_EIO, errno,
                               "cannot make the attachments folder '%s'", dir);
}

static enum ntm_err
sync_dir(const char *dir, struct ntm_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return ntm_error_set_errno(err, NTM_EIO, errno, "cannot open '%s'",
                                   dir);
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0)
        return ntm_error_set_errno(err, NTM_EIO, e, "cannot sync '%s'", dir);
    return NTM_OK;
}

static enum ntm_err
write_all(int fd, const void *data, size_t len, const char *path,
          struct ntm_error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ntm_error_set_errno(err,
                                       errno == ENOSPC ? NTM_EFULL : NTM_EIO,
                                       errno, "cannot write '%s'", path);
        p += w;
        len -= (size_t)w;
    }
    return NTM_OK;
}

/* Hash the file open at fd from its start: hex in hash, length in *size. */
/* Copy in (named src) to out (named dst) through buf (IO_CHUNK bytes),
 * hashing what passes into hex (BLAKE2b-256, also on failure: only a
 * success is used); *n the bytes copied; more than max (when > 0) is
 * NTM_ETOOLARGE. */
static enum ntm_err
copy_hashed(int in, const char *src, int out, const char *dst,
            unsigned char *buf, int64_t max, int64_t *n, char *hex,
            struct ntm_error *err)
{
    struct ntm_hash_stream h;
    enum ntm_err rc = NTM_OK;
    ntm_hash_stream_init(&h);
    *n = 0;
    for (;;) {
        ssize_t r = read(in, buf, IO_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot read '%s'",
                                     src);
            break;
        }
        if (r == 0)
            break;
        *n += r;
        if (max > 0 && *n > max) {
            rc = ntm_error_set(err, NTM_ETOOLARGE,
                               "'%s' has more than the %lld bytes allowed", src,
                               (long long)max);
            break;
        }
        ntm_hash_stream_update(&h, buf, (size_t)r);
        if ((rc = write_all(out, buf, (size_t)r, dst, err)) != NTM_OK)
            break;
    }
    ntm_hash_stream_final_hex(&h, hex);
    return rc;
}

static enum ntm_err
hash_fd(int fd, const char *path, char hash[NTM_HEX_ID_LEN + 1], int64_t *size,
        struct ntm_error *err)
{
    struct ntm_hash_stream h;
    unsigned char *buf = ntm_malloc(IO_CHUNK);
    if (!buf)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    ntm_hash_stream_init(&h);
    int64_t n = 0;
    enum ntm_err rc = NTM_OK;
    for (;;) {
        ssize_t r = pread(fd, buf, IO_CHUNK, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot read '%s'",
                                     path);
            break;
        }
        if (r == 0)
            break;
        ntm_hash_stream_update(&h, buf, (size_t)r);
        n += r;
    }
    ntm_hash_stream_final_hex(&h, hash);
    ntm_free(buf);
    if (size)
        *size = n;
    return rc;
}

/* Move tmp (written and fsync'd) to dir/hash; the folder is synced. */
static enum ntm_err
install(const char *dir, const char *tmp, const char *hash,
        struct ntm_error *err)
{
    char *final = blob_path(dir, hash, "");
    if (!final)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = NTM_OK;
    if (rename(tmp, final) != 0)
        rc =
            ntm_error_set_errno(err, NTM_EIO, errno, "cannot rename '%s'", tmp);
    ntm_free(final);
    if (rc == NTM_OK)
        rc = sync_dir(dir, err);
    return rc;
}

enum ntm_err
ntm_blob_put_file(const char *dir, const char *src, int64_t max, char *hash,
                  int64_t *size, struct ntm_error *err)
{
    enum ntm_err rc = make_dir(dir, err);
    if (rc != NTM_OK)
        return rc;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return ntm_error_set_errno(err, errno == ENOENT ? NTM_ENOENT : NTM_EIO,
                                   errno, "cannot open '%s'", src);
    struct stat sb;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(in);
        return ntm_error_set(err, NTM_EINVAL, "'%s' is not a file", src);
    }
    if (max > 0 && sb.st_size > max) {
        close(in);
        return ntm_error_set(err, NTM_ETOOLARGE,
                             "'%s' has %lld bytes, more than the %lld allowed",
                             src, (long long)sb.st_size, (long long)max);
    }
    char tmpname[64];
    snprintf(tmpname, sizeof(tmpname), "/in-%ld-%lld.tmp", (long)getpid(),
             (long long)ntm_now_ms());
    struct ntm_buf tb = NTM_BUF_INIT;
    unsigned char *buf = ntm_malloc(IO_CHUNK);
    int out = -1;
    if (!buf || ntm_buf_addf(&tb, "%s%s", dir, tmpname) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    out = open(ntm_buf_str(&tb), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot create '%s'",
                                 ntm_buf_str(&tb));
        goto out;
    }
    int64_t n = 0;
    rc = copy_hashed(in, src, out, ntm_buf_str(&tb), buf, max, &n, hash, err);
    if (rc == NTM_OK && n == 0)
        rc = ntm_error_set(err, NTM_EINVAL, "'%s' is empty", src);
    if (rc == NTM_OK && fsync(out) != 0)
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot sync '%s'",
                                 ntm_buf_str(&tb));
    if (close(out) != 0 && rc == NTM_OK)
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot write '%s'",
                                 ntm_buf_str(&tb));
    out = -1;
    if (rc == NTM_OK)
        rc = install(dir, ntm_buf_str(&tb), hash, err);
    if (rc != NTM_OK)
        unlink(ntm_buf_str(&tb));
    if (size)
        *size = n;
out:
    if (out >= 0)
        close(out);
    close(in);
    ntm_free(buf);
    ntm_buf_release(&tb);
    return rc;
}

enum ntm_err
ntm_blob_put_mem(const char *dir, const void *data, size_t len, char *hash,
                 struct ntm_error *err)
{
    enum ntm_err rc = make_dir(dir, err);
    if (rc != NTM_OK)
        return rc;
    ntm_hash_hex(hash, data, len);
    char *tmp = blob_path(dir, hash, ".tmp");
    if (!tmp)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc =
            ntm_error_set_errno(err, NTM_EIO, errno, "cannot create '%s'", tmp);
    } else {
        rc = write_all(fd, data, len, tmp, err);
        if (rc == NTM_OK && fsync(fd) != 0)
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot sync '%s'",
                                     tmp);
        close(fd);
        if (rc == NTM_OK)
            rc = install(dir, tmp, hash, err);
        if (rc != NTM_OK)
            unlink(tmp);
    }
    ntm_free(tmp);
    return rc;
}

enum ntm_err
ntm_blob_check(const char *dir, const char *hash, int64_t *size,
               struct ntm_error *err)
{
    if (!hash_name_valid(hash))
        return ntm_error_set(err, NTM_EINVAL, "'%s' is not an attachment hash",
                             hash ? hash : "");
    char *path = blob_path(dir, hash, "");
    if (!path)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT
                 ? ntm_error_set(err, NTM_ENOENT,
                                 N_("attachment %.16s... is not in this home"),
                                 hash)
                 : ntm_error_set_errno(err, NTM_EIO, errno, "cannot open '%s'",
                                       path);
    } else {
        char got[NTM_HEX_ID_LEN + 1];
        rc = hash_fd(fd, path, got, size, err);
        close(fd);
        if (rc == NTM_OK && strcmp(got, hash) != 0)
            rc = ntm_error_set(
                err, NTM_ECORRUPT,
                N_("attachment %.16s... is damaged: its bytes do not match "
                   "its hash"),
                hash);
    }
    ntm_free(path);
    return rc;
}

enum ntm_err
ntm_blob_copy_out(const char *dir, const char *hash, const char *path,
                  struct ntm_error *err)
{
    if (!hash_name_valid(hash))
        return ntm_error_set(err, NTM_EINVAL, "'%s' is not an attachment hash",
                             hash ? hash : "");
    char *src = blob_path(dir, hash, "");
    struct ntm_buf tmp = NTM_BUF_INIT;
    unsigned char *buf = ntm_malloc(IO_CHUNK);
    int in = -1, out = -1;
    enum ntm_err rc = NTM_OK;
    if (!src || !buf || ntm_buf_addf(&tmp, "%s.tmp", path) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = errno == ENOENT
                 ? ntm_error_set(err, NTM_ENOENT,
                                 N_("attachment %.16s... is not in this home"),
                                 hash)
                 : ntm_error_set_errno(err, NTM_EIO, errno, "cannot open '%s'",
                                       src);
        goto out;
    }
    out =
        open(ntm_buf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot create '%s'",
                                 ntm_buf_str(&tmp));
        goto out;
    }
    char got[NTM_HEX_ID_LEN + 1];
    int64_t copied = 0;
    rc =
        copy_hashed(in, src, out, ntm_buf_str(&tmp), buf, 0, &copied, got, err);
    if (rc == NTM_OK && strcmp(got, hash) != 0)
        rc = ntm_error_set(
            err, NTM_ECORRUPT,
            N_("attachment %.16s... is damaged: its bytes do not match its "
               "hash"),
            hash);
    if (rc == NTM_OK && fsync(out) != 0)
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot sync '%s'",
                                 ntm_buf_str(&tmp));
    close(out);
    out = -1;
    if (rc == NTM_OK && rename(ntm_buf_str(&tmp), path) != 0)
        rc =
            ntm_error_set_errno(err, NTM_EIO, errno, "cannot write '%s'", path);
    if (rc != NTM_OK)
        unlink(ntm_buf_str(&tmp));
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    ntm_free(buf);
    ntm_free(src);
    ntm_buf_release(&tmp);
    return rc;
}

enum ntm_err
ntm_blob_held(const char *dir, const char *hash, int64_t *held, int *complete,
              struct ntm_error *err)
{
    *held = 0;
    *complete = 0;
    if (!hash_name_valid(hash))
        return ntm_error_set(err, NTM_EINVAL, "'%s' is not an attachment hash",
                             hash ? hash : "");
    char *full = blob_path(dir, hash, "");
    char *part = blob_path(dir, hash, ".part");
    enum ntm_err rc = NTM_OK;
    struct stat sb;
    if (!full || !part)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    else if (stat(full, &sb) == 0) {
        *held = (int64_t)sb.st_size;
        *complete = 1;
    } else if (stat(part, &sb) == 0) {
        *held = (int64_t)sb.st_size;
    }
    ntm_free(full);
    ntm_free(part);
    return rc;
}

static int
size_claimed(const int64_t *sizes, size_t nsizes, int64_t n)
{
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] == n)
            return 1;
    return 0;
}

enum ntm_err
ntm_blob_append(const char *dir, const char *hash, const int64_t *sizes,
                size_t nsizes, int64_t offset, const void *data, size_t len,
                int *complete, struct ntm_error *err)
{
    int64_t held;
    enum ntm_err rc = ntm_blob_held(dir, hash, &held, complete, err);
    if (rc != NTM_OK || *complete)
        return rc;
    if (offset != held)
        return ntm_error_set(err, NTM_ECONFLICT,
                             "the bytes of %.16s... go on at offset %lld, not "
                             "%lld",
                             hash, (long long)held, (long long)offset);
    /* The bound is the largest size claimed; the file is complete at any
     * claimed size its bytes hash to (who claimed last does not matter). */
    int64_t size = 0;
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] > size)
            size = sizes[i];
    if (size < 1 || offset + (int64_t)len > size)
        return ntm_error_set(err, NTM_ETOOLARGE,
                             "bytes past the attachment's size %lld",
                             (long long)size);
    if ((rc = make_dir(dir, err)) != NTM_OK)
        return rc;
    char *part = blob_path(dir, hash, ".part");
    if (!part)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot open '%s'", part);
        goto out;
    }
    /* Written at the offset checked, never past bytes already held (a
     * concurrent writer of the same part is the server's to prevent). */
    if (ftruncate(fd, (off_t)offset) != 0 ||
        lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        rc =
            ntm_error_set_errno(err, NTM_EIO, errno, "cannot write '%s'", part);
        goto out;
    }
    rc = write_all(fd, data, len, part, err);
    if (rc == NTM_OK && fsync(fd) != 0)
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot sync '%s'", part);
    if (rc == NTM_OK && offset == 0)
        rc = sync_dir(dir, err);
    int64_t end = offset + (int64_t)len;
    if (rc != NTM_OK || !size_claimed(sizes, nsizes, end))
        goto out;
    char got[NTM_HEX_ID_LEN + 1];
    int64_t n;
    if ((rc = hash_fd(fd, part, got, &n, err)) != NTM_OK)
        goto out;
    if (n != end || strcmp(got, hash) != 0) {
        if (end < size)
            goto out; /* a claim that was wrong; a larger one may be true */
        unlink(part);
        rc = ntm_error_set(err, NTM_ECORRUPT,
                           N_("the bytes received do not match the "
                              "attachment's hash %.16s...: they were "
                              "discarded"),
                           hash);
        goto out;
    }
    if ((rc = install(dir, part, hash, err)) == NTM_OK)
        *complete = 1;
out:
    if (fd >= 0)
        close(fd);
    ntm_free(part);
    return rc;
}

enum ntm_err
ntm_blob_read(const char *dir, const char *hash, int64_t offset, void *buf,
              size_t len, size_t *got, struct ntm_error *err)
{
    *got = 0;
    if (!hash_name_valid(hash))
        return ntm_error_set(err, NTM_EINVAL, "'%s' is not an attachment hash",
                             hash ? hash : "");
    char *path = blob_path(dir, hash, "");
    if (!path)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = NTM_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT
                 ? ntm_error_set(err, NTM_ENOENT,
                                 N_("attachment %.16s... is not in this home"),
                                 hash)
                 : ntm_error_set_errno(err, NTM_EIO, errno, "cannot open '%s'",
                                       path);
    } else {
        while (*got < len) {
            ssize_t r = pread(fd, (char *)buf + *got, len - *got,
                              (off_t)(offset + (int64_t)*got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                         "cannot read '%s'", path);
                break;
            }
            if (r == 0)
                break;
            *got += (size_t)r;
        }
        close(fd);
    }
    ntm_free(path);
    return rc;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

enum ntm_err
ntm_blob_each(const char *dir, ntm_blob_fn fn, void *ud, struct ntm_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? NTM_OK
                               : ntm_error_set_errno(err, NTM_EIO, errno,
                                                     "cannot read '%s'", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    enum ntm_err rc = NTM_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!hash_name_valid(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = ntm_realloc(names, cap * sizeof(*p));
            if (!p) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                break;
            }
            names = p;
        }
        if (!(names[n] = ntm_strdup(de->d_name))) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == NTM_OK && n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; rc == NTM_OK && i < n; i++)
        if (fn(ud, names[i]))
            break;
    for (size_t i = 0; i < n; i++)
        ntm_free(names[i]);
    ntm_free(names);
    return rc;
}

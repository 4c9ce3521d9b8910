#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "file.h"
#include "secrets.h"

const char sl_usage_reseal[] =
        "Usage: sluice reseal -r RECIPIENT... -i IDENTITY... [--dry-run] PATH...\n\n"
        "Re-encrypt every SealedSecret value under PATH (files, or directories walked\n"
        "recursively for *.yaml and *.yml) and every whole-file secret (*.age) to a\n"
        "new recipient set: key rotation.\n"
        "Each value is decrypted with the IDENTITY files (the old keys) and sealed\n"
        "again with the same scope binding. Only the armored blocks change; the rest\n"
        "of every file, comments and other documents included, stays byte for byte.\n"
        "A file with any value that cannot be decrypted is left untouched and\n"
        "reported; the exit status is then 1.\n\n"
        "Options:\n"
        "  -r, --recipient AGE1...     the new recipients (repeatable)\n"
        "  -R, --recipients-file FILE  new recipients, one per line\n"
        "  -i, --identity FILE         an identity that can decrypt today (repeatable;\n"
        "                              must be mode 0600 and owned by you)\n"
        "      --dry-run               decrypt and report, write nothing\n";

struct reseal_run {
    const struct sl_identities *ids;
    const struct sl_recipient *rcpts;
    size_t nrcpts;
    bool dry_run;
    size_t files, values, failed;
};

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);

    return n >= m && strcmp(s + n - m, suf) == 0;
}

static void reseal_file(struct reseal_run *run, const char *path)
{
    struct sl_buf text = SL_BUF_INIT(SL_FILE_MAX), out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_error err = SL_ERROR_INIT;
    struct stat st;
    size_t n = 0;

    if (sl_file_read(&text, path, SL_FILE_MAX, &err) != 0)
        goto fail;
    /* Cheap filter: only files that mention our apiVersion are parsed. */
    if (strstr(text.ptr, SL_SEALED_API_VERSION) == NULL)
        goto done;
    if (sl_sealed_reseal_text(text.ptr, text.len, path, run->ids, run->rcpts, run->nrcpts, &out, &n,
                              &err) != 0)
        goto fail;
    if (n == 0)
        goto done;
    if (!run->dry_run) {
        if (stat(path, &st) != 0) {
            sl_error_errno(&err, errno, "%s", path);
            goto fail;
        }
        if (sl_file_write_atomic(path, out.ptr, out.len, st.st_mode & 07777, &err) != 0)
            goto fail;
    }
    fprintf(stderr, "%s: %zu value%s %s\n", path, n, n == 1 ? "" : "s",
            run->dry_run ? "would be resealed" : "resealed");
    run->files++;
    run->values += n;
    goto done;
fail:
    run->failed++;
    fprintf(stderr, "sluice reseal: %s\n", err.msg);
done:
    sl_buf_release(&text);
    sl_buf_release(&out);
}

/* A whole-file secret (*.age): re-encrypt it, keeping armored files armored. */
static void reseal_age_file(struct reseal_run *run, const char *path)
{
    struct sl_buf text = SL_BUF_INIT(SL_FILE_MAX), out = SL_BUF_INIT(SL_BUF_DEFAULT_MAX);
    struct sl_secbuf pt = SL_SECBUF_INIT(SL_SECRET_MAX);
    struct sl_error err = SL_ERROR_INIT;
    struct stat st;
    bool armored;

    if (sl_file_read(&text, path, SL_FILE_MAX, &err) != 0 ||
        sl_age_decrypt_buffer(text.ptr, text.len, run->ids, &pt, &err) != 0) {
        sl_error_wrap(&err, "%s", path);
        goto fail;
    }
    armored = strncmp(text.ptr, "age-encryption.org/", 19) != 0;
    if (sl_age_encrypt(pt.ptr, pt.len, run->rcpts, run->nrcpts, NULL, armored, &out, &err) != 0)
        goto fail;
    if (!run->dry_run) {
        if (stat(path, &st) != 0) {
            sl_error_errno(&err, errno, "%s", path);
            goto fail;
        }
        if (sl_file_write_atomic(path, out.ptr, out.len, st.st_mode & 07777, &err) != 0)
            goto fail;
    }
    fprintf(stderr, "%s: whole file %s\n", path, run->dry_run ? "would be resealed" : "resealed");
    run->files++;
    run->values++;
    goto done;
fail:
    run->failed++;
    fprintf(stderr, "sluice reseal: %s\n", err.msg);
done:
    sl_secbuf_release(&pt);
    sl_buf_release(&text);
    sl_buf_release(&out);
}

static void walk(struct reseal_run *run, const char *path, int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st) != 0) {
        fprintf(stderr, "sluice reseal: %s: %s\n", path, strerror(errno));
        run->failed++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        if (has_suffix(path, ".age"))
            reseal_age_file(run, path);
        else if (depth == 0 || has_suffix(path, ".yaml") || has_suffix(path, ".yml"))
            reseal_file(run, path);
        return;
    }
    if (!S_ISDIR(st.st_mode) || depth > 64)
        return; /* symlinks and special files are not followed */
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "sluice reseal: %s: %s\n", path, strerror(errno));
        run->failed++;
        return;
    }
    while ((de = readdir(d)) != NULL) {
        char child[4096];
        if (de->d_name[0] == '.')
            continue; /* ., .., .git and other hidden entries */
        if (snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= (int)sizeof(child))
            continue;
        walk(run, child, depth + 1);
    }
    closedir(d);
}

int sl_cmd_reseal(int argc, char **argv)
{
    static const struct option opts[] = {{"recipient", required_argument, NULL, 'r'},
                                         {"recipients-file", required_argument, NULL, 'R'},
                                         {"identity", required_argument, NULL, 'i'},
                                         {"dry-run", no_argument, NULL, 'N'},
                                         {NULL, 0, NULL, 0}};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_recipient *rcpts = NULL;
    struct reseal_run run = {0};
    size_t nrcpts = 0;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "r:R:i:", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (sl_recipients_add(&rcpts, &nrcpts, optarg, &err) != 0)
                goto fail;
            break;
        case 'R':
            if (sl_recipients_load_file(&rcpts, &nrcpts, optarg, &err) != 0)
                goto fail;
            break;
        case 'i':
            if (sl_identities_load_file(&ids, optarg, &err) != 0)
                goto fail;
            break;
        case 'N':
            run.dry_run = true;
            break;
        default:
            rc = sl_cli_usage_error("reseal", "unknown option");
            goto done;
        }
    }
    if (nrcpts == 0 || ids.n == 0 || optind >= argc) {
        rc = sl_cli_usage_error("reseal", "need -r RECIPIENT, -i IDENTITY and a PATH");
        goto done;
    }
    run.ids = &ids;
    run.rcpts = rcpts;
    run.nrcpts = nrcpts;
    for (int i = optind; i < argc; i++)
        walk(&run, argv[i], 0);
    printf("%zu value%s in %zu file%s %s, %zu failure%s\n", run.values, run.values == 1 ? "" : "s",
           run.files, run.files == 1 ? "" : "s", run.dry_run ? "would be resealed" : "resealed",
           run.failed, run.failed == 1 ? "" : "s");
    rc = run.failed > 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
    goto done;
fail:
    sl_cli_fail(&err);
done:
    sl_identities_release(&ids);
    free(rcpts);
    return rc;
}

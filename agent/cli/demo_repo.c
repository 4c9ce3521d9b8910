/*
 * The demo's git repository, written with libgit2 (no git CLI needed): the
 * work tree under <dir>/repo, commits on main by a fixed demo author, and
 * annotated release tags. Edits are small text changes to the example's
 * YAML that fail loudly when the example no longer has what they expect.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo_internal.h"
#include "file.h"

#define DEMO_AUTHOR "sluice demo"
#define DEMO_EMAIL  "demo@sluice.invalid"

static int git_fail(struct sl_error *err, int grc, const char *what)
{
    const git_error *ge = git_error_last();
    return sl_error_set(err, SL_EIO, "%s: %s (libgit2 %d)", what,
                        ge != NULL && ge->message != NULL ? ge->message : "error", grc);
}

int sl_demo_repo_init(struct sl_demo *d, struct sl_error *err)
{
    git_repository_init_options o;
    int grc;

    if ((grc = git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION)) < 0)
        return git_fail(err, grc, "git init");

    o.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    o.initial_head = "main";
    if ((grc = git_repository_init_ext(&d->git, d->repo, &o)) < 0) {
        d->git = NULL;
        return git_fail(err, grc, "git init");
    }
    return 0;
}

static int signature_now(git_signature **sig, struct sl_error *err)
{
    int grc = git_signature_now(sig, DEMO_AUTHOR, DEMO_EMAIL);
    if (grc < 0)
        return git_fail(err, grc, "git signature");
    return 0;
}

int sl_demo_commit(struct sl_demo *d, const char *message, char hex[41], struct sl_error *err)
{
    git_index *index = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_commit *parent = NULL;
    git_reference *head = NULL;
    git_oid tree_id, commit_id;
    int grc, rc = -1;

    if ((grc = git_repository_index(&index, d->git)) < 0 ||
        (grc = git_index_add_all(index, NULL, GIT_INDEX_ADD_DEFAULT, NULL, NULL)) < 0 ||
        (grc = git_index_update_all(index, NULL, NULL, NULL)) < 0 ||
        (grc = git_index_write(index)) < 0 || (grc = git_index_write_tree(&tree_id, index)) < 0 ||
        (grc = git_tree_lookup(&tree, d->git, &tree_id)) < 0) {
        git_fail(err, grc, "git add");
        goto done;
    }
    grc = git_repository_head(&head, d->git);
    if (grc == 0) {
        if ((grc = git_commit_lookup(&parent, d->git, git_reference_target(head))) < 0) {
            git_fail(err, grc, "git HEAD");
            goto done;
        }
    } else if (grc != GIT_EUNBORNBRANCH && grc != GIT_ENOTFOUND) {
        git_fail(err, grc, "git HEAD");
        goto done;
    }
    if (signature_now(&sig, err) != 0)
        goto done;
    {
        const git_commit *parents[1] = {parent};
        grc = git_commit_create(&commit_id, d->git, "HEAD", sig, sig, NULL, message, tree,
                                parent != NULL ? 1 : 0, parents);
    }
    if (grc < 0) {
        git_fail(err, grc, "git commit");
        goto done;
    }
    git_oid_tostr(hex, 41, &commit_id);
    rc = 0;
done:
    git_reference_free(head);
    git_commit_free(parent);
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(index);
    return rc;
}

int sl_demo_tag(struct sl_demo *d, const char *name, const char *hex, const char *message,
                struct sl_error *err)
{
    git_oid id, tag_id;
    git_object *target = NULL;
    git_signature *sig = NULL;
    int grc, rc = -1;

    if ((grc = git_oid_fromstr(&id, hex)) < 0 ||
        (grc = git_object_lookup(&target, d->git, &id, GIT_OBJECT_COMMIT)) < 0) {
        git_fail(err, grc, "git tag target");
        goto done;
    }
    if (signature_now(&sig, err) != 0)
        goto done;
    if ((grc = git_tag_create(&tag_id, d->git, name, target, sig, message, 0)) < 0) {
        git_fail(err, grc, "git tag");
        goto done;
    }
    rc = 0;
done:
    git_signature_free(sig);
    git_object_free(target);
    return rc;
}

static int load(struct sl_demo *d, const char *rel, struct sl_buf *b, char *path, size_t pathlen,
                struct sl_error *err)
{
    int n = snprintf(path, pathlen, "%s/%s", d->repo, rel);
    if (n < 0 || (size_t)n >= pathlen)
        return sl_error_set(err, SL_ETOOLARGE, "path too long: %s", rel);
    return sl_file_read(b, path, SL_FILE_MAX, err);
}

/* Start and end (exclusive, before the newline) of the value after key following anchor. */
static int find_value(const char *text, const char *rel, const char *anchor, const char *key,
                      size_t *start, size_t *end, struct sl_error *err)
{
    const char *a = strstr(text, anchor), *k, *e;

    if (a == NULL)
        return sl_error_set(err, SL_ENOTFOUND, "%s: \"%s\" not found (the demo edits it)", rel,
                            anchor);
    k = strstr(a + strlen(anchor), key);
    if (k == NULL)
        return sl_error_set(err, SL_ENOTFOUND, "%s: no \"%s\" after \"%s\" (the demo edits it)",
                            rel, key, anchor);
    k += strlen(key);
    e = strchr(k, '\n');
    if (e == NULL)
        e = k + strlen(k);
    *start = (size_t)(k - text);
    *end = (size_t)(e - text);
    return 0;
}

/* Write text with [start, end) replaced by insert to path, atomically. */
static int splice_write(const char *path, const char *text, size_t start, size_t end,
                        const char *insert, struct sl_error *err)
{
    struct sl_buf out = SL_BUF_INIT(SL_FILE_MAX);
    int rc = -1;

    if (sl_buf_append(&out, text, start, err) == 0 && sl_buf_puts(&out, insert, err) == 0 &&
        sl_buf_puts(&out, text + end, err) == 0 &&
        sl_file_write_atomic(path, out.ptr, out.len, 0644, err) == 0)
        rc = 0;
    sl_buf_release(&out);
    return rc;
}

int sl_demo_edit_after(struct sl_demo *d, const char *rel, const char *anchor, const char *key,
                       const char *value, struct sl_error *err)
{
    struct sl_buf in = SL_BUF_INIT(SL_FILE_MAX);
    char path[SL_DEMO_PATH + 256];
    size_t s, e;
    int rc = -1;

    if (load(d, rel, &in, path, sizeof(path), err) == 0 &&
        find_value(in.ptr, rel, anchor, key, &s, &e, err) == 0)
        rc = splice_write(path, in.ptr, s, e, value, err);
    sl_buf_release(&in);
    return rc;
}

char *sl_demo_read_after(struct sl_demo *d, const char *rel, const char *anchor, const char *key,
                         struct sl_error *err)
{
    struct sl_buf in = SL_BUF_INIT(SL_FILE_MAX);
    char path[SL_DEMO_PATH + 256], *v = NULL;
    size_t s, e;

    if (load(d, rel, &in, path, sizeof(path), err) == 0 &&
        find_value(in.ptr, rel, anchor, key, &s, &e, err) == 0) {
        v = strndup(in.ptr + s, e - s);
        if (v == NULL)
            sl_error_set(err, SL_ENOMEM, "out of memory");
    }
    sl_buf_release(&in);
    return v;
}

int sl_demo_insert_after_line(struct sl_demo *d, const char *rel, const char *line,
                              const char *text, struct sl_error *err)
{
    struct sl_buf in = SL_BUF_INIT(SL_FILE_MAX);
    char path[SL_DEMO_PATH + 256];
    size_t ll = strlen(line), at = 0;
    bool found = false;
    int rc = -1;

    if (load(d, rel, &in, path, sizeof(path), err) != 0)
        goto done;
    for (const char *p = in.ptr; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (len == ll && memcmp(p, line, ll) == 0 && nl != NULL) {
            at = (size_t)(nl + 1 - in.ptr);
            found = true;
            break;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (!found) {
        sl_error_set(err, SL_ENOTFOUND, "%s: no line \"%s\" (the demo edits it)", rel, line);
        goto done;
    }
    rc = splice_write(path, in.ptr, at, at, text, err);
done:
    sl_buf_release(&in);
    return rc;
}

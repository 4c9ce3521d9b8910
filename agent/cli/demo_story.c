/*
 * The story `sluice demo` tells, one step at a time. Each step does what a
 * person would do (commit, tag, scale by hand), runs the agent the way a user
 * runs it (this binary's verbs in subprocesses), and checks the outcome
 * twice: in what the verb reported and in the cluster itself. A step that
 * does not get its expected outcome stops the story; the timeline says which
 * and why. Secret values are generated here, kept in sodium memory, and
 * never printed.
 */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "demo_internal.h"
#include "file.h"
#include "kube.h"
#include "secmem.h"

#define NENVS     3
#define PW_STRLEN 32 /* 24 random bytes, URL-safe base64 without padding */
#define PW_SLOT   (PW_STRLEN + 1)
#define BAD_TAG   "1.2.0"
#define API_IMAGE "registry.example.com/shop/api"

static const char *const env_names[NENVS] = {"dev", "stage", "prod"};

/* What the story learned along the way, for later checks. */
struct story {
    char rev_a[41], rev_b[41];
    char *stage_api_image; /* live before the bad release */
};

/* ---- output ---- */

static double elapsed_s(const struct sl_demo *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - d->t0.tv_sec) + (double)(now.tv_nsec - d->t0.tv_nsec) / 1e9;
}

void sl_demo_say(struct sl_demo *d, const char *fmt, ...)
{
    char ts[16];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;

    if (localtime_r(&t, &tm) == NULL || strftime(ts, sizeof(ts), "%H:%M:%S", &tm) == 0)
        snprintf(ts, sizeof(ts), "--:--:--");
    fprintf(d->tty, "%s %6.1fs  ", ts, elapsed_s(d));
    va_start(ap, fmt);
    vfprintf(d->tty, fmt, ap);
    va_end(ap);
    fputc('\n', d->tty);
    fflush(d->tty);
}

void sl_demo_note(struct sl_demo *d, const char *fmt, ...)
{
    va_list ap;

    fputs("                   ", d->tty);
    va_start(ap, fmt);
    vfprintf(d->tty, fmt, ap);
    va_end(ap);
    fputc('\n', d->tty);
    fflush(d->tty);
}

/* Print text line by line as notes, at most max lines (the rest counted). */
static void note_lines(struct sl_demo *d, const char *prefix, const char *text, size_t max)
{
    size_t shown = 0, total = 0;

    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        int len = (int)(nl != NULL ? nl - p : (ptrdiff_t)strlen(p));
        if (len > 0 || nl == NULL) {
            if (shown < max) {
                sl_demo_note(d, "%s%.*s", prefix, len, p);
                shown++;
            }
            total++;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (total > shown)
        sl_demo_note(d, "%s... (%zu more lines)", prefix, total - shown);
}

/* The last lines of text (stderr of a failed verb). */
static void note_tail(struct sl_demo *d, const char *text, size_t lines)
{
    size_t len = strlen(text), n = 0;
    const char *p = text + len;

    while (p > text) {
        p--;
        if (*p == '\n' && p + 1 < text + len && ++n > lines) {
            p++;
            break;
        }
    }
    note_lines(d, "| ", p, lines + 1);
}

static void pause_here(struct sl_demo *d)
{
    char line[64];

    if (!d->opts.interactive)
        return;
    fprintf(d->tty, "                   [press Enter to continue] ");
    fflush(d->tty);
    if (fgets(line, sizeof(line), stdin) == NULL)
        d->opts.interactive = false;
}

/* ---- steps ---- */

struct step {
    json_t *j;
    struct timespec start;
};

static void step_begin(struct sl_demo *d, struct step *s, const char *name, const char *title)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;

    clock_gettime(CLOCK_MONOTONIC, &s->start);
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    s->j = json_pack("{s:s, s:s, s:s, s:I}", "step", name, "title", title, "time", ts, "elapsedMs",
                     (json_int_t)(elapsed_s(d) * 1000));
    fputc('\n', d->tty);
    sl_demo_say(d, "== %s", title);
}

/* Record the outcome; returns 0 when ok. The message is printed and kept in the timeline. */
static int step_end(struct sl_demo *d, struct step *s, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int step_end(struct sl_demo *d, struct step *s, bool ok, const char *fmt, ...)
{
    char msg[1024];
    struct timespec now;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (s->j != NULL) {
        json_object_set_new(s->j, "ok", json_boolean(ok));
        json_object_set_new(s->j, "message", json_string(msg));
        json_object_set_new(s->j, "durationMs",
                            json_integer((json_int_t)(now.tv_sec - s->start.tv_sec) * 1000 +
                                         (now.tv_nsec - s->start.tv_nsec) / 1000000));
        json_array_append_new(d->steps, s->j);
        s->j = NULL;
    }
    sl_demo_say(d, "%s %s", ok ? "ok  " : "FAIL", msg);
    return ok ? 0 : -1;
}

static void step_set(struct step *s, const char *key, json_t *v)
{
    if (s->j != NULL)
        json_object_set_new(s->j, key, v);
    else
        json_decref(v);
}

static void step_set_str(struct step *s, const char *key, const char *v)
{
    step_set(s, key, v != NULL ? json_string(v) : json_null());
}

/* ---- running verbs ---- */

/* Run `sluice ARGS... [--config CONFIG]`, showing the command as a user types it. */
static int run_sluice(struct sl_demo *d, struct sl_demo_run *r, const char *const *args,
                      bool with_config, struct sl_error *err)
{
    char *argv[24];
    char shown[512];
    size_t n = 0, off = 0;

    if (d->stop != NULL && *d->stop)
        return sl_error_set(err, SL_ECANCELED, "interrupted");
    argv[n++] = d->self;
    for (size_t i = 0; args[i] != NULL && n < 20; i++) {
        size_t dl = strlen(d->dir);
        const char *a = args[i];
        int w;
        argv[n++] = (char *)(uintptr_t)a;
        /* Paths inside the demo directory are shown as $DIR/...: shorter, same meaning. */
        if (dl > 0 && strncmp(a, d->dir, dl) == 0 && (a[dl] == '/' || a[dl] == '\0'))
            w = snprintf(shown + off, sizeof(shown) - off, " $DIR%s", a + dl);
        else if (strchr(a, '=') != NULL && strstr(a, d->dir) != NULL && dl > 0)
            w = snprintf(shown + off, sizeof(shown) - off, " %.*s$DIR%s",
                         (int)(strstr(a, d->dir) - a), a, strstr(a, d->dir) + dl);
        else
            w = snprintf(shown + off, sizeof(shown) - off, " %s", a);
        if (w > 0 && (size_t)w < sizeof(shown) - off)
            off += (size_t)w;
    }
    if (with_config) {
        argv[n++] = "--config";
        argv[n++] = d->config;
    }
    argv[n] = NULL;
    shown[off] = '\0';
    sl_demo_note(d, "$ sluice%s%s", shown, r->input != NULL ? "  < (a secret on stdin)" : "");
    if (sl_demo_spawn(d, argv, r, err) != 0)
        return -1;
    if (d->opts.show_output) {
        note_lines(d, "> ", r->out.ptr, 200);
        note_lines(d, "! ", r->err.ptr, 200);
    }
    return 0;
}

static int verb(struct sl_demo *d, struct sl_demo_run *r, const char *const *args,
                struct sl_error *err)
{
    return run_sluice(d, r, args, true, err);
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static long long jint(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static const char *short_rev(const char *rev, char out[13])
{
    snprintf(out, 13, "%.12s", rev != NULL && rev[0] != '\0' ? rev : "-");
    return out;
}

/*
 * `sluice reconcile [ENV] --once -o json`: *results is the parsed array (NULL
 * when the output was not JSON; the step then fails with the verb's stderr).
 */
static int reconcile(struct sl_demo *d, const char *env, json_t **results, int *status,
                     struct sl_error *err)
{
    struct sl_demo_run r;
    const char *args_env[] = {"reconcile", env, "--once", "-o", "json", NULL};
    const char *args_all[] = {"reconcile", "--once", "-o", "json", NULL};
    json_error_t je;
    int rc = -1;

    *results = NULL;
    sl_demo_run_init(&r);
    if (verb(d, &r, env != NULL ? args_env : args_all, err) != 0)
        goto done;
    *status = r.status;
    *results = json_loads(r.out.ptr, 0, &je);
    if (!json_is_array(*results) || json_array_size(*results) == 0) {
        json_decref(*results);
        *results = NULL;
        note_tail(d, r.err.ptr, 15);
        sl_error_set(err, SL_EPARSE, "sluice reconcile exited %d without a JSON result", r.status);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(*results); i++) {
        const json_t *res = json_array_get(*results, i);
        const json_t *c = json_object_get(res, "counts");
        char rev[13];
        sl_demo_note(d,
                     "%s: %s at %s (%s): %lld created, %lld updated, %lld unchanged, %lld "
                     "drifted, %lld pruned, %lld writes in %.1fs",
                     jstr(res, "environment"), jstr(res, "result"),
                     short_rev(jstr(res, "revision"), rev),
                     jstr(res, "ref")[0] != '\0' ? jstr(res, "ref") : "-", jint(c, "created"),
                     jint(c, "updated"), jint(c, "unchanged"), jint(c, "drifted"),
                     jint(c, "pruned"), jint(res, "writes"),
                     (double)jint(res, "durationMs") / 1000.0);
        if (jstr(res, "message")[0] != '\0')
            sl_demo_note(d, "%s: %s", jstr(res, "environment"), jstr(res, "message"));
    }
    if (r.status != 0 && r.status != 1)
        note_tail(d, r.err.ptr, 15);
    rc = 0;
done:
    sl_demo_run_release(&r);
    return rc;
}

/* ---- the cluster, read and changed through the Kubernetes API ---- */

static json_t *kget(struct sl_demo *d, const char *api_version, const char *kind, const char *ns,
                    const char *name, struct sl_error *err)
{
    struct sl_kube_ref ref = {api_version, kind, ns, name};
    json_t *o = NULL;

    if (sl_kube_get(d->kube, &ref, &o, NULL, err) != 0)
        return NULL;
    return o;
}

static const json_t *container(const json_t *deploy, const char *name)
{
    const json_t *cs = json_object_get(
            json_object_get(json_object_get(json_object_get(deploy, "spec"), "template"), "spec"),
            "containers");
    size_t i;
    const json_t *c;

    json_array_foreach(cs, i, c)
    {
        if (strcmp(jstr(c, "name"), name) == 0)
            return c;
    }
    return NULL;
}

/* The image of container `name` of a Deployment (malloc'ed), NULL with err set. */
static char *deploy_image(struct sl_demo *d, const char *ns, const char *name, struct sl_error *err)
{
    json_t *o = kget(d, "apps/v1", "Deployment", ns, name, err);
    const json_t *c;
    char *img = NULL;

    if (o == NULL)
        return NULL;
    c = container(o, name);
    if (c == NULL || jstr(c, "image")[0] == '\0')
        sl_error_set(err, SL_ENOTFOUND, "Deployment %s/%s has no container %s", ns, name, name);
    else if ((img = strdup(jstr(c, "image"))) == NULL)
        sl_error_set(err, SL_ENOMEM, "out of memory");
    json_decref(o);
    return img;
}

static int deploy_replicas(struct sl_demo *d, const char *ns, const char *name, long long *out,
                           struct sl_error *err)
{
    json_t *o = kget(d, "apps/v1", "Deployment", ns, name, err);
    if (o == NULL)
        return -1;
    *out = (long long)json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas"));
    json_decref(o);
    return 0;
}

/* Does Secret ns/api-db hold exactly the password sealed for environment i? */
static int secret_matches(struct sl_demo *d, size_t i, bool *match, struct sl_error *err)
{
    char ns[64];
    json_t *o;
    const char *b64;
    struct sl_secbuf bin = SL_SECBUF_INIT(256);
    size_t binlen = 0;
    int rc = -1;

    *match = false;
    snprintf(ns, sizeof(ns), "shop-%s", env_names[i]);
    if ((o = kget(d, "v1", "Secret", ns, "api-db", err)) == NULL)
        return -1;
    b64 = jstr(json_object_get(o, "data"), "password");
    if (sl_secbuf_resize(&bin, 255, err) != 0)
        goto done;
    if (sodium_base642bin(bin.ptr, 255, b64, strlen(b64), NULL, &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        sl_error_set(err, SL_EPARSE, "Secret %s/api-db: data.password is not base64", ns);
        goto done;
    }
    *match = binlen == PW_STRLEN &&
             sl_secure_equal(bin.ptr, d->passwords + i * PW_SLOT, PW_STRLEN) != 0;
    rc = 0;
done:
    sl_secbuf_release(&bin);
    json_decref(o);
    return rc;
}

/* ---- the steps ---- */

static int step_cluster(struct sl_demo *d)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_kube_options ko = {0};
    json_t *ver = NULL;
    int rc;

    step_begin(d, &s, "cluster", "Start a simulated Kubernetes cluster (kubesim, in memory)");
    sl_demo_note(d, "%s", d->ksbin);
    if (sl_demo_kubesim_start(d, &err) != 0)
        return step_end(d, &s, false, "kubesim: %s", err.msg);
    ko.kubeconfig = d->kubeconfig;
    /* The demo's own hand on the cluster shows up as a person with kubectl would. */
    ko.field_manager = "kubectl-edit";
    ko.request_timeout_ms = 10000;
    ko.cancel = d->stop;
    if (sl_kube_open(&d->kube, &ko, &err) != 0 ||
        sl_kube_request(d->kube, "GET", "/version", NULL, NULL, 0, &ver, NULL, &err) != 0)
        return step_end(d, &s, false, "kubesim does not answer: %s", err.msg);
    step_set(&s, "port", json_integer(d->port));
    step_set(&s, "pid", json_integer(d->kubesim_pid));
    rc = step_end(d, &s, true,
                  "kubesim %s on http://127.0.0.1:%d (pid %d): workloads become ready %.1fs "
                  "after a change; image %s never does",
                  jstr(ver, "gitVersion"), d->port, (int)d->kubesim_pid,
                  (double)d->opts.ready_delay_ms / 1000.0, d->fail_image);
    json_decref(ver);
    return rc;
}

static int step_repository(struct sl_demo *d)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    char to[SL_DEMO_PATH + 32];

    step_begin(d, &s, "repository", "Create a git repository from the example environments");
    sl_demo_note(d, "from %s", d->envsrc);
    snprintf(to, sizeof(to), "%s/environments", d->repo);
    if (sl_demo_repo_init(d, &err) != 0 || sl_demo_copytree(d->envsrc, to, &err) != 0)
        return step_end(d, &s, false, "%s", err.msg);
    step_set_str(&s, "path", d->repo);
    return step_end(d, &s, true, "%s: base/ and the dev, stage and prod overlays (libgit2)",
                    d->repo);
}

static int step_secrets(struct sl_demo *d)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_demo_run r;
    struct sl_buf sealed = SL_BUF_INIT(SL_FILE_MAX);
    const char *kg[] = {"keygen", "-o", d->identity, NULL};
    int rc = -1;

    step_begin(d, &s, "secrets",
               "Generate a decryption identity and seal the api's database password");
    sl_demo_run_init(&r);
    if (run_sluice(d, &r, kg, false, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    if (r.status != 0 || r.out.len < 10 || strncmp(r.out.ptr, "age1", 4) != 0) {
        note_tail(d, r.err.ptr, 10);
        step_end(d, &s, false, "sluice keygen failed (exit %d)", r.status);
        goto done;
    }
    snprintf(d->recipient, sizeof(d->recipient), "%.*s", (int)strcspn(r.out.ptr, "\r\n"),
             r.out.ptr);
    sl_demo_note(d, "identity %s (mode 0600), recipient %s", d->identity, d->recipient);
    for (size_t i = 0; i < NENVS; i++) {
        char out[SL_DEMO_PATH + 64], ns[32], rel[64];
        unsigned char raw[24];
        const char *seal[] = {"seal", "-r",          d->recipient, "--name", "api-db", "-n",
                              ns,     "--from-file", "password=-", "-o",     out,      NULL};
        char *pw = (char *)d->passwords + i * PW_SLOT;
        bool leaked;

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2base64(pw, PW_SLOT, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof(raw));
        snprintf(ns, sizeof(ns), "shop-%s", env_names[i]);
        snprintf(rel, sizeof(rel), "environments/%s/api-db.sealed.yaml", env_names[i]);
        snprintf(out, sizeof(out), "%s/%s", d->repo, rel);
        /* The value goes through a pipe: never on disk, never in an argument list. */
        r.input = pw;
        r.input_len = PW_STRLEN;
        rc = run_sluice(d, &r, seal, false, &err);
        r.input = NULL;
        r.input_len = 0;
        if (rc != 0 || r.status != 0) {
            note_tail(d, r.err.ptr, 10);
            rc = step_end(d, &s, false, "sluice seal for %s failed: %s", env_names[i],
                          rc != 0 ? err.msg : "see above");
            goto done;
        }
        rc = -1;
        sl_buf_reset(&sealed);
        if (sl_file_read(&sealed, out, SL_FILE_MAX, &err) != 0) {
            step_end(d, &s, false, "%s", err.msg);
            goto done;
        }
        leaked = memmem(sealed.ptr, sealed.len, pw, PW_STRLEN) != NULL;
        if (leaked || strstr(sealed.ptr, "kind: SealedSecret") == NULL) {
            step_end(d, &s, false, "%s is not a SealedSecret without the plaintext", rel);
            goto done;
        }
        {
            char kz[64];
            snprintf(kz, sizeof(kz), "environments/%s/kustomization.yaml", env_names[i]);
            if (sl_demo_insert_after_line(d, kz, "resources:", "  - api-db.sealed.yaml\n", &err) !=
                0) {
                step_end(d, &s, false, "%s", err.msg);
                goto done;
            }
        }
    }
    step_set_str(&s, "recipient", d->recipient);
    rc = step_end(d, &s, true,
                  "a random password per environment, sealed strictly to shop-ENV/api-db in "
                  "environments/*/api-db.sealed.yaml (never printed, not in git as plaintext)");
done:
    sl_buf_release(&sealed);
    sl_demo_run_release(&r);
    return rc;
}

static int write_config(struct sl_demo *d, struct sl_buf *yb, struct sl_error *err)
{
    struct sl_buf y = SL_BUF_INIT(16384);
    long long ht = d->opts.ready_delay_ms * 10 / 1000 + 30; /* seconds */
    int rc = -1;

    if (sl_buf_printf(
                &y, err,
                "# Written by `sluice demo`: the agent as a user would configure it, pointed at\n"
                "# a local repository and the simulated cluster.\n"
                "name: sluice\n"
                "stateDir: %s/state\n"
                "source:\n"
                "  url: file://%s\n"
                "  timeout: 30s\n"
                "cluster:\n"
                "  kubeconfig: %s\n"
                "  requestTimeout: 10s\n"
                "decryption:\n"
                "  identities:\n"
                "    - %s\n"
                "environments:\n"
                "  - name: dev                # the head of main\n"
                "    path: environments/dev\n"
                "    namespace: shop-dev\n"
                "    healthTimeout: %llds\n"
                "    policy: warn\n"
                "  - name: stage              # the highest vX.Y.Z-rc.N tag\n"
                "    path: environments/stage\n"
                "    namespace: shop-stage\n"
                "    healthTimeout: %llds\n"
                "    policy: enforce\n"
                "  - name: prod               # the highest vX.Y.Z tag that passed stage\n"
                "    track:\n"
                "      type: release\n"
                "      requireRc: true\n"
                "    path: environments/prod\n"
                "    namespace: shop-prod\n"
                "    healthTimeout: %llds\n"
                "    policy: enforce\n",
                d->dir, d->repo, d->kubeconfig, d->identity, ht, ht, ht) != 0)
        goto done;
    rc = sl_file_write_new(d->config, y.ptr, y.len, 0600, err);
    if (rc == 0)
        rc = sl_buf_append(yb, y.ptr, y.len, err);
done:
    sl_buf_release(&y);
    return rc;
}

static int step_config(struct sl_demo *d)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_demo_run r;
    const char *cc[] = {"check-config", d->config, NULL};
    const char *ck[] = {"check", "--repo", d->repo, NULL};
    struct sl_buf yaml = SL_BUF_INIT(16384);
    int rc = -1;

    step_begin(d, &s, "config", "Configure the agent and check every environment offline");
    sl_demo_run_init(&r);
    if (write_config(d, &yaml, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    sl_demo_note(d, "$DIR/sluice.yaml:");
    {
        const char *body = strstr(yaml.ptr, "\nname:"); /* past the header comment */
        note_lines(d, "  ", body != NULL ? body + 1 : yaml.ptr, 60);
    }
    if (run_sluice(d, &r, cc, false, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    if (r.status != 0) {
        note_tail(d, r.err.ptr, 15);
        step_end(d, &s, false, "sluice check-config rejected %s", d->config);
        goto done;
    }
    if (verb(d, &r, ck, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    note_lines(d, "", r.out.ptr, 20);
    if (r.status != 0) {
        note_tail(d, r.err.ptr, 15);
        step_end(d, &s, false,
                 "sluice check (render, unseal, policies) failed (exit %d) before anything "
                 "reached the cluster",
                 r.status);
        goto done;
    }
    step_set_str(&s, "config", d->config);
    rc = step_end(d, &s, true,
                  "every environment renders, unseals and passes the policies (dev warn, stage "
                  "and prod enforce)");
done:
    sl_buf_release(&yaml);
    sl_demo_run_release(&r);
    return rc;
}

/* Common checks on one reconcile result. */
static bool result_is(const json_t *res, const char *result, const char *revision, const char *ref)
{
    return res != NULL && strcmp(jstr(res, "result"), result) == 0 &&
           (revision == NULL || strcmp(jstr(res, "revision"), revision) == 0) &&
           (ref == NULL || strcmp(jstr(res, "ref"), ref) == 0);
}

static int step_deploy(struct sl_demo *d, struct story *st, size_t ei, const char *name,
                       const char *title, const char *ref, const char *what)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    const char *env = env_names[ei];
    char ns[32], rev[13], *img = NULL;
    json_t *results = NULL;
    const json_t *res;
    int status = -1, rc = -1;
    bool secret_ok = false;

    pause_here(d);
    step_begin(d, &s, name, title);
    snprintf(ns, sizeof(ns), "shop-%s", env);
    sl_demo_note(d, "%s", what);
    if (reconcile(d, env, &results, &status, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    res = json_array_get(results, 0);
    step_set_str(&s, "environment", env);
    step_set_str(&s, "result", jstr(res, "result"));
    step_set_str(&s, "revision", jstr(res, "revision"));
    step_set_str(&s, "ref", jstr(res, "ref"));
    step_set(&s, "exit", json_integer(status));
    if (status != 0 || !result_is(res, "healthy", st->rev_a, ref)) {
        step_end(d, &s, false, "expected %s healthy at %s (%s), got %s at %s (exit %d)", env,
                 short_rev(st->rev_a, rev), ref, jstr(res, "result"), jstr(res, "revision"),
                 status);
        goto done;
    }
    /* The cluster itself, not only the agent's word for it. */
    if ((img = deploy_image(d, ns, "web", &err)) == NULL ||
        secret_matches(d, ei, &secret_ok, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    if (!secret_ok) {
        step_end(d, &s, false, "Secret %s/api-db does not hold the password sealed in git", ns);
        goto done;
    }
    sl_demo_note(d,
                 "cluster: Deployment %s/web runs %s; Secret %s/api-db holds the sealed "
                 "password",
                 ns, img, ns);
    step_set_str(&s, "webImage", img);
    rc = step_end(d, &s, true, "%s is healthy at %s (%s)", env, short_rev(st->rev_a, rev), ref);
done:
    free(img);
    json_decref(results);
    return rc;
}

static int step_dev(struct sl_demo *d, struct story *st)
{
    struct sl_error err = SL_ERROR_INIT;
    struct step s;
    char rev[13], what[256];

    step_begin(d, &s, "commit", "Commit the platform to main");
    if (sl_demo_commit(d,
                       "Import the shop platform\n\nbase, dev, stage and prod overlays, "
                       "sealed database passwords.\n",
                       st->rev_a, &err) != 0)
        return step_end(d, &s, false, "%s", err.msg);
    step_set_str(&s, "revision", st->rev_a);
    if (step_end(d, &s, true, "commit %s \"Import the shop platform\" on main",
                 short_rev(st->rev_a, rev)) != 0)
        return -1;
    snprintf(what, sizeof(what), "dev follows the head of main: %s", short_rev(st->rev_a, rev));
    return step_deploy(d, st, 0, "dev", "A commit on main deploys to dev", "main", what);
}

static int tag_and_deploy(struct sl_demo *d, struct story *st, size_t ei, const char *tag,
                          const char *title, const char *what)
{
    struct sl_error err = SL_ERROR_INIT;
    char msg[64];

    snprintf(msg, sizeof(msg), "Release %s\n", tag);
    if (sl_demo_tag(d, tag, st->rev_a, msg, &err) != 0) {
        struct step s;
        step_begin(d, &s, env_names[ei], title);
        return step_end(d, &s, false, "%s", err.msg);
    }
    return step_deploy(d, st, ei, env_names[ei], title, tag, what);
}

static int step_drift(struct sl_demo *d, struct story *st)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_demo_run r;
    struct sl_kube_ref ref = {"apps/v1", "Deployment", "shop-prod", "web"};
    const char *df[] = {"diff", "prod", NULL};
    json_t *patch = NULL, *results = NULL;
    const json_t *res;
    long long want, now = -1;
    int status = -1, rc = -1;

    pause_here(d);
    step_begin(d, &s, "drift", "Someone scales prod by hand; the agent puts git back");
    sl_demo_run_init(&r);
    if (deploy_replicas(d, "shop-prod", "web", &want, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    patch = json_pack("{s:{s:I}}", "spec", "replicas", (json_int_t)(want == 5 ? 6 : 5));
    sl_demo_note(d,
                 "by hand (a PATCH as field manager kubectl-edit): Deployment shop-prod/web "
                 "replicas %lld -> %lld",
                 want, (long long)(want == 5 ? 6 : 5));
    if (patch == NULL ||
        sl_kube_patch(d->kube, &ref, SL_KUBE_PATCH_MERGE, patch, false, NULL, NULL, &err) != 0 ||
        deploy_replicas(d, "shop-prod", "web", &now, &err) != 0) {
        step_end(d, &s, false, "cannot make the drift: %s", err.msg);
        goto done;
    }
    if (now != (want == 5 ? 6 : 5)) {
        step_end(d, &s, false, "the hand edit did not take: shop-prod/web has %lld replicas", now);
        goto done;
    }
    if (verb(d, &r, df, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    note_lines(d, "  ", r.out.ptr, 20);
    if (r.status != 1) {
        note_tail(d, r.err.ptr, 10);
        step_end(d, &s, false, "sluice diff prod should report the drift (exit 1), exit %d",
                 r.status);
        goto done;
    }
    if (reconcile(d, "prod", &results, &status, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    res = json_array_get(results, 0);
    step_set_str(&s, "result", jstr(res, "result"));
    step_set(&s, "drifted", json_integer(jint(json_object_get(res, "counts"), "drifted")));
    if (status != 0 || !result_is(res, "healthy", st->rev_a, NULL) ||
        jint(json_object_get(res, "counts"), "drifted") < 1) {
        step_end(d, &s, false, "expected prod healthy with the drift corrected, got %s (exit %d)",
                 jstr(res, "result"), status);
        goto done;
    }
    if (deploy_replicas(d, "shop-prod", "web", &now, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    step_set(&s, "replicas", json_integer(now));
    if (now != want) {
        step_end(d, &s, false, "shop-prod/web has %lld replicas, git says %lld", now, want);
        goto done;
    }
    rc = step_end(d, &s, true, "drift corrected: shop-prod/web back to %lld replicas as in git",
                  want);
done:
    sl_demo_run_release(&r);
    json_decref(patch);
    json_decref(results);
    return rc;
}

static int step_bad_release(struct sl_demo *d, struct story *st)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    const char *kz = "environments/stage/kustomization.yaml";
    char rev[13], rev2[13], *img = NULL, *old_tag = NULL;
    json_t *results = NULL;
    const json_t *res;
    int status = -1, rc = -1;

    pause_here(d);
    step_begin(d, &s, "bad-release", "A release whose image never becomes ready is rolled back");
    if ((st->stage_api_image = deploy_image(d, "shop-stage", "api", &err)) == NULL ||
        (old_tag = sl_demo_read_after(d, kz, "name: " API_IMAGE "\n", "newTag: ", &err)) == NULL ||
        sl_demo_edit_after(d, kz, "name: " API_IMAGE "\n", "newTag: ", BAD_TAG, &err) != 0 ||
        sl_demo_commit(d, "stage: api " BAD_TAG "\n", st->rev_b, &err) != 0 ||
        sl_demo_tag(d, "v1.1.0-rc.1", st->rev_b, "Release v1.1.0-rc.1\n", &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    sl_demo_note(d, "commit %s \"stage: api %s\" (was %s) on main, tagged v1.1.0-rc.1",
                 short_rev(st->rev_b, rev), BAD_TAG, old_tag);
    if (reconcile(d, "stage", &results, &status, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    res = json_array_get(results, 0);
    step_set_str(&s, "result", jstr(res, "result"));
    step_set_str(&s, "revision", jstr(res, "revision"));
    step_set_str(&s, "failedRevision", jstr(res, "failedRevision"));
    step_set_str(&s, "badRevision", st->rev_b);
    step_set(&s, "exit", json_integer(status));
    if (status != 1 || !result_is(res, "rolled-back", st->rev_a, NULL) ||
        strcmp(jstr(res, "failedRevision"), st->rev_b) != 0) {
        step_end(d, &s, false,
                 "expected stage rolled back from %s to %s (exit 1), got %s at %s (exit %d)",
                 short_rev(st->rev_b, rev), short_rev(st->rev_a, rev2), jstr(res, "result"),
                 jstr(res, "revision"), status);
        goto done;
    }
    if ((img = deploy_image(d, "shop-stage", "api", &err)) == NULL) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    step_set_str(&s, "apiImage", img);
    if (strcmp(img, st->stage_api_image) != 0) {
        step_end(d, &s, false, "shop-stage/api runs %s, expected the previous %s again", img,
                 st->stage_api_image);
        goto done;
    }
    sl_demo_note(d, "cluster: Deployment shop-stage/api runs %s again", img);
    rc = step_end(d, &s, true, "%s failed its health check; stage rolled back to %s",
                  short_rev(st->rev_b, rev), short_rev(st->rev_a, rev2));
done:
    free(img);
    free(old_tag);
    json_decref(results);
    return rc;
}

static const json_t *by_env(const json_t *arr, const char *key, const char *env)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (strcmp(jstr(v, key), env) == 0)
            return v;
    }
    return NULL;
}

static int step_next_poll(struct sl_demo *d, struct story *st)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    json_t *results = NULL;
    const json_t *dev, *stage, *prod;
    char rev[13];
    int status = -1, rc = -1;

    pause_here(d);
    step_begin(d, &s, "next-poll",
               "The next poll: dev takes the new commit, stage holds, the bad one is not retried");
    if (reconcile(d, NULL, &results, &status, &err) != 0) {
        step_end(d, &s, false, "%s", err.msg);
        goto done;
    }
    dev = by_env(results, "environment", "dev");
    stage = by_env(results, "environment", "stage");
    prod = by_env(results, "environment", "prod");
    step_set(&s, "exit", json_integer(status));
    if (status != 0 || !result_is(dev, "healthy", st->rev_b, "main") ||
        !result_is(stage, "healthy", st->rev_a, NULL) || jint(stage, "writes") != 0 ||
        !result_is(prod, "healthy", st->rev_a, "v1.0.0")) {
        step_end(d, &s, false,
                 "expected dev healthy at %s, stage at the last good revision with no writes, "
                 "prod unchanged (exit %d)",
                 short_rev(st->rev_b, rev), status);
        goto done;
    }
    sl_demo_note(d,
                 "stage: v1.1.0-rc.1 still names %s, marked bad: not tried again until a "
                 "newer rc tag (or `sluice retry stage`)",
                 short_rev(st->rev_b, rev));
    rc = step_end(d, &s, true,
                  "dev at %s (its overlay did not change), stage kept its last good revision "
                  "without a single write, prod unchanged",
                  short_rev(st->rev_b, rev));
done:
    json_decref(results);
    return rc;
}

static int step_status(struct sl_demo *d, struct story *st)
{
    struct step s;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_demo_run r;
    const char *const *cmds[] = {(const char *[]){"history", "stage", NULL},
                                 (const char *[]){"status", NULL},
                                 (const char *[]){"status", "-o", "json", NULL}};
    json_t *arr = NULL;
    const json_t *dev, *stage, *prod, *b;
    bool bad_listed = false;
    size_t i;
    int rc = -1;

    pause_here(d);
    step_begin(d, &s, "status", "Where every environment stands");
    sl_demo_run_init(&r);
    /* history and status are shown as users see them; the JSON status (last) is checked. */
    for (i = 0; i < 3; i++) {
        if (verb(d, &r, cmds[i], &err) != 0) {
            step_end(d, &s, false, "%s", err.msg);
            goto done;
        }
        if (r.status != 0) {
            note_tail(d, r.err.ptr, 10);
            step_end(d, &s, false, "sluice %s failed (exit %d)", cmds[i][0], r.status);
            goto done;
        }
        if (i < 2)
            note_lines(d, "", r.out.ptr, 30);
    }
    arr = json_loads(r.out.ptr, 0, NULL);
    dev = by_env(arr, "environment", "dev");
    stage = by_env(arr, "environment", "stage");
    prod = by_env(arr, "environment", "prod");
    json_array_foreach(json_object_get(stage, "badRevisions"), i, b)
    {
        const char *rv = json_is_string(b) ? json_string_value(b) : jstr(b, "revision");
        if (strcmp(rv, st->rev_b) == 0)
            bad_listed = true;
    }
    if (dev == NULL || stage == NULL || prod == NULL ||
        strcmp(jstr(dev, "appliedRevision"), st->rev_b) != 0 ||
        strcmp(jstr(stage, "appliedRevision"), st->rev_a) != 0 ||
        strcmp(jstr(prod, "appliedRevision"), st->rev_a) != 0 || !bad_listed) {
        step_end(d, &s, false,
                 "sluice status does not show dev at the new commit, stage and prod at the "
                 "release with the bad revision listed");
        goto done;
    }
    step_set(&s, "status", json_incref(arr));
    {
        char ra[13], rb[13];
        rc = step_end(d, &s, true,
                      "dev runs %s, stage and prod run %s, stage lists %s as bad: as the "
                      "cluster showed at every step",
                      short_rev(st->rev_b, rb), short_rev(st->rev_a, ra), rb);
    }
done:
    json_decref(arr);
    sl_demo_run_release(&r);
    return rc;
}

int sl_demo_story(struct sl_demo *d)
{
    struct story st;
    int rc = -1;
    char what[256], rev[13];

    memset(&st, 0, sizeof(st));
    d->passwords = sl_secure_alloc(NENVS * PW_SLOT, NULL);
    if (d->passwords == NULL)
        return -1;
    snprintf(d->fail_image, sizeof(d->fail_image), "%s:%s", API_IMAGE, BAD_TAG);
    if (step_cluster(d) != 0 || step_repository(d) != 0 || step_secrets(d) != 0 ||
        step_config(d) != 0 || step_dev(d, &st) != 0)
        goto done;
    snprintf(what, sizeof(what), "stage follows the highest vX.Y.Z-rc.N tag: v1.0.0-rc.1 on %s",
             short_rev(st.rev_a, rev));
    if (tag_and_deploy(d, &st, 1, "v1.0.0-rc.1", "Tag v1.0.0-rc.1 deploys to stage", what) != 0)
        goto done;
    snprintf(what, sizeof(what),
             "prod follows the highest vX.Y.Z tag whose commit passed stage: v1.0.0 on %s",
             short_rev(st.rev_a, rev));
    if (tag_and_deploy(d, &st, 2, "v1.0.0", "Tag v1.0.0 deploys to prod", what) != 0 ||
        step_drift(d, &st) != 0 || step_bad_release(d, &st) != 0 || step_next_poll(d, &st) != 0 ||
        step_status(d, &st) != 0)
        goto done;
    rc = 0;
done:
    free(st.stage_api_image);
    return rc;
}

void sl_demo_cleanup(struct sl_demo *d, bool ok)
{
    (void)ok;
    sl_kube_free(d->kube);
    d->kube = NULL;
    git_repository_free(d->git);
    d->git = NULL;
    sl_secure_free(d->passwords);
    d->passwords = NULL;
    if (d->opts.keep) {
        fputc('\n', d->tty);
        sl_demo_say(d, "kept %s", d->dir);
        if (d->kubesim_pid > 0) {
            sl_demo_note(d, "kubesim is still running (pid %d) on http://127.0.0.1:%d",
                         (int)d->kubesim_pid, d->port);
            sl_demo_note(d, "kubectl --kubeconfig %s get deployments -A", d->kubeconfig);
            sl_demo_note(d, "sluice status --config %s", d->config);
            sl_demo_note(d, "stop it with: kill %d; rm -rf %s", (int)d->kubesim_pid, d->dir);
        }
        return;
    }
    sl_demo_kubesim_stop(d);
    if (d->dir[0] != '\0') {
        if (sl_demo_rmtree(d->dir) != 0)
            sl_demo_say(d, "could not remove %s: %s", d->dir, strerror(errno));
    }
}

#include <jansson.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fake.h"
#include "file.h"

static const char *str(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : def;
}

int sl_fake_reconcile(void *arg, struct sl_daemon_ctx *ctx, const struct sl_env_config *env,
                      struct sl_run_result *res, struct sl_error *err)
{
    static const char *const names[] = {"unchanged", "applied", "rolled_back", "failed", "denied"};
    struct sl_buf data = SL_BUF_INIT(1 << 20);
    json_error_t jerr;
    json_t *root = NULL, *e;
    const char *result;
    json_int_t sleep_ms;
    bool ignore_stop;
    int rc = -1;

    if (sl_file_read(&data, arg, 1 << 20, err) != 0)
        goto done;
    root = json_loadb(data.ptr, data.len, 0, &jerr);
    if (root == NULL) {
        sl_error_set(err, SL_EPARSE, "%s:%d: %s", (const char *)arg, jerr.line, jerr.text);
        goto done;
    }
    e = json_object_get(root, env->name);
    result = str(e, "result", "unchanged");
    snprintf(res->revision, sizeof(res->revision), "%s", str(e, "revision", "0000000"));
    snprintf(res->ref, sizeof(res->ref), "%s", str(e, "ref", ""));
    snprintf(res->summary, sizeof(res->summary), "%s", str(e, "summary", ""));
    snprintf(res->failed_revision, sizeof(res->failed_revision), "%s",
             str(e, "failedRevision", ""));
    res->drifted = (unsigned)json_integer_value(json_object_get(e, "drifted"));
    res->applied = (unsigned)json_integer_value(json_object_get(e, "applied"));
    res->source_error = json_is_true(json_object_get(e, "sourceError"));
    {
        const char *rule;
        json_t *n;
        json_object_foreach(json_object_get(e, "violations"), rule, n)
        {
            if (res->nviolations == SL_RUN_MAX_VIOLATIONS)
                break;
            snprintf(res->violations[res->nviolations].rule, sizeof(res->violations[0].rule), "%s",
                     rule);
            res->violations[res->nviolations++].count = (unsigned)json_integer_value(n);
        }
    }
    /* A slow apply: stop at a safe point when the daemon is stopping. */
    sleep_ms = json_integer_value(json_object_get(e, "sleepMs"));
    ignore_stop = json_is_true(json_object_get(e, "ignoreStop"));
    while (sleep_ms > 0) {
        struct timespec ts = {0, 20 * 1000000L};
        if (sl_daemon_ctx_abandoned(ctx)) {
            /* What a killed worker process amounts to. */
            sl_error_set(err, SL_ECANCELED, "%s: the run was abandoned", env->name);
            goto done;
        }
        if (!ignore_stop && (sl_daemon_ctx_stopping(ctx) || *sl_daemon_ctx_cancel_flag(ctx) != 0)) {
            res->outcome = SL_RUN_CANCELED;
            rc = 0;
            goto done;
        }
        nanosleep(&ts, NULL);
        sleep_ms -= 20;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(result, names[i]) == 0) {
            res->outcome = (enum sl_run_outcome)i;
            if (res->outcome == SL_RUN_FAILED) {
                sl_error_set(err, SL_EGENERIC, "%s", str(e, "error", "simulated failure"));
                goto done;
            }
            rc = 0;
            goto done;
        }
    }
    sl_error_set(err, SL_EINVAL, "%s: %s: unknown result \"%s\"", (const char *)arg, env->name,
                 result);
done:
    json_decref(root);
    sl_buf_release(&data);
    return rc;
}

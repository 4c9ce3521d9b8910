/*
 * Benchmark: the shipped default policy set on 2,000 Deployments (each with
 * an init container and two containers, hardened so every rule walks its
 * full path) plus their Namespace and NetworkPolicy. Prints the best and
 * median of several runs, in wall-clock and CPU time; with
 * SLUICE_BENCH_BUDGET_MS set at build time (optimised, unsanitised builds)
 * it fails when the best run's CPU time exceeds it (CPU time and the best
 * run, because CI machines are shared: waiting for a core is not our cost).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "object.h"
#include "policy.h"

#define NDEPLOY 2000
#define RUNS    15

static const char DEPLOY[] =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web-%d\","
        "\"namespace\":\"shop\",\"labels\":{\"app\":\"web-%d\"}},\"spec\":{\"replicas\":2,"
        "\"selector\":{\"matchLabels\":{\"app\":\"web-%d\"}},\"template\":{\"metadata\":{"
        "\"labels\":{\"app\":\"web-%d\"}},\"spec\":{\"securityContext\":{\"runAsNonRoot\":true,"
        "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"initContainers\":[{\"name\":"
        "\"migrate\",\"image\":\"registry.example.com/shop/migrate:1.%d.0\",\"resources\":{"
        "\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"500m\","
        "\"memory\":\"128Mi\"}},\"securityContext\":{\"allowPrivilegeEscalation\":false,"
        "\"capabilities\":{\"drop\":[\"ALL\"]}}}],\"containers\":[{\"name\":\"web\",\"image\":"
        "\"registry.example.com/shop/web:1.%d.0\",\"ports\":[{\"containerPort\":8080}],"
        "\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080}},\"resources\":{"
        "\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"},\"limits\":{\"cpu\":\"1\","
        "\"memory\":\"1Gi\"}},\"securityContext\":{\"allowPrivilegeEscalation\":false,"
        "\"capabilities\":{\"drop\":[\"ALL\"]}}},{\"name\":\"proxy\",\"image\":"
        "\"registry.example.com/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef\",\"readinessProbe\":{\"tcpSocket\":{\"port\":15000}},\"resources\":{"
        "\"requests\":{\"cpu\":\"50m\",\"memory\":\"32Mi\"},\"limits\":{\"cpu\":\"200m\","
        "\"memory\":\"64Mi\"}},\"securityContext\":{\"allowPrivilegeEscalation\":false,"
        "\"capabilities\":{\"drop\":[\"ALL\"]}}}],\"volumes\":[{\"name\":\"tmp\",\"emptyDir\":{}},"
        "{\"name\":\"cfg\",\"configMap\":{\"name\":\"web\"}}]}}}}";

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int add(struct sl_objlist *l, const char *text, struct sl_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL)
        return sl_error_set(err, SL_EPARSE, "bench object: %s", je.text);
    return sl_objlist_add(l, j, "bench/deployments.yaml", 1, err);
}

int main(int argc, char **argv)
{
    struct sl_policy_set *set = NULL;
    struct sl_objlist objs = SL_OBJLIST_INIT;
    struct sl_error err = SL_ERROR_INIT;
    struct sl_diags d = SL_DIAGS_INIT;
    const char *dirs[1] = {argc > 1 ? argv[1] : "policies"};
    static char buf[8192];
    double t[RUNS], cpu[RUNS];
    int rc = 1;

    if (sl_policy_set_load(&set, dirs, 1, NULL, &d, &err) != 0) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
        goto done;
    }
    if (add(&objs,
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\","
            "\"labels\":{\"pod-security.kubernetes.io/enforce\":\"restricted\"}}}",
            &err) != 0 ||
        add(&objs,
            "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"
            "\"name\":\"deny\",\"namespace\":\"shop\"},\"spec\":{\"podSelector\":{},"
            "\"policyTypes\":[\"Ingress\"]}}",
            &err) != 0)
        goto done;
    for (int i = 0; i < NDEPLOY; i++) {
        snprintf(buf, sizeof(buf), DEPLOY, i, i, i, i, i % 50, i % 50);
        if (add(&objs, buf, &err) != 0)
            goto done;
    }
    for (int r = 0; r < RUNS; r++) {
        struct sl_policy_report rep = SL_POLICY_REPORT_INIT;
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        int n = sl_policy_check(set, &objs, "prod", SL_POLICY_ENFORCE, &rep, &err);
        t[r] = now_ms(CLOCK_MONOTONIC) - t0;
        cpu[r] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (n != 0 || rep.nviolations != 0) {
            fprintf(stderr, "bench_policy: expected a clean set, got %zu violations (%s)\n",
                    rep.nviolations, rep.n > 0 ? rep.items[0].message : err.msg);
            sl_policy_report_release(&rep);
            goto done;
        }
        sl_policy_report_release(&rep);
    }
    qsort(t, RUNS, sizeof(t[0]), cmp_double);
    qsort(cpu, RUNS, sizeof(cpu[0]), cmp_double);
    printf("policy: default set (%zu rules) on %d Deployments (+Namespace, NetworkPolicy), %d "
           "runs: wall best %.2f ms, median %.2f ms; cpu best %.2f ms, median %.2f ms\n",
           sl_policy_set_count(set), NDEPLOY, RUNS, t[0], t[RUNS / 2], cpu[0], cpu[RUNS / 2]);
    rc = 0;
#ifdef SLUICE_BENCH_BUDGET_MS
    if (cpu[0] > SLUICE_BENCH_BUDGET_MS) {
        fprintf(stderr, "bench_policy: best run %.2f ms of CPU is over the %d ms budget\n", cpu[0],
                SLUICE_BENCH_BUDGET_MS);
        rc = 1;
    }
#endif
done:
    sl_objlist_release(&objs);
    sl_diags_release(&d);
    sl_policy_set_free(set);
    return rc;
}

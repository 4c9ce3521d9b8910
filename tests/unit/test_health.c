#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "health.h"

static enum sl_health H(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    char msg[256];
    enum sl_health h;
    if (j == NULL)
        fail_msg("bad JSON %s: %s", e.text, text);
    h = sl_health_compute(j, 1800000000, msg, sizeof(msg));
    assert_true(msg[0] != '\0');
    json_decref(j);
    return h;
}

#define DEP(spec, status)                                                                          \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","            \
    "\"generation\":2},\"spec\":{" spec "},\"status\":{" status "}}"
#define AVAIL "{\"type\":\"Available\",\"status\":\"True\"}"
#define NRSA  "{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"NewReplicaSetAvailable\"}"

static void test_generic(void **s)
{
    (void)s;
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
                       "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"}}"),
                     SL_HEALTH_TERMINATING);
    assert_int_equal(H("{\"apiVersion\":\"x.io/v1\",\"kind\":\"W\",\"metadata\":{\"generation\":3},"
                       "\"status\":{\"observedGeneration\":2}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"x.io/v1\",\"kind\":\"W\",\"status\":{\"conditions\":["
                       "{\"type\":\"Ready\",\"status\":\"False\"}]}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"x.io/v1\",\"kind\":\"W\",\"status\":{\"conditions\":["
                       "{\"type\":\"Ready\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"x.io/v1\",\"kind\":\"W\",\"status\":{\"conditions\":["
                       "{\"type\":\"Stalled\",\"status\":\"True\",\"message\":\"m\"}]}}"),
                     SL_HEALTH_FAILED);
    assert_int_equal(H("{\"apiVersion\":\"x.io/v1\",\"kind\":\"W\",\"status\":{\"conditions\":["
                       "{\"type\":\"Reconciling\",\"status\":\"True\"},"
                       "{\"type\":\"Ready\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("[]"), SL_HEALTH_UNKNOWN);
    assert_string_equal(sl_health_name(SL_HEALTH_IN_PROGRESS), "InProgress");
}

static void test_deployment(void **s)
{
    (void)s;
    /* healthy */
    assert_int_equal(H(DEP("\"replicas\":3", "\"observedGeneration\":2,\"replicas\":3,"
                                             "\"updatedReplicas\":3,\"readyReplicas\":3,"
                                             "\"availableReplicas\":3,\"conditions\":[" AVAIL "]")),
                     SL_HEALTH_CURRENT);
    /* replicas defaults to 1 */
    assert_int_equal(H(DEP("", "\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,"
                               "\"availableReplicas\":1,\"conditions\":[" AVAIL "]")),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H(DEP("", "")), SL_HEALTH_IN_PROGRESS);
    /* old generation */
    assert_int_equal(H(DEP("\"replicas\":1", "\"observedGeneration\":1,\"replicas\":1,"
                                             "\"updatedReplicas\":1,\"readyReplicas\":1,"
                                             "\"availableReplicas\":1,\"conditions\":[" AVAIL "]")),
                     SL_HEALTH_IN_PROGRESS);
    /* image never ready */
    assert_int_equal(H(DEP("\"replicas\":2", "\"replicas\":3,\"updatedReplicas\":1,"
                                             "\"readyReplicas\":2,\"availableReplicas\":2")),
                     SL_HEALTH_IN_PROGRESS);
    /* not available */
    assert_int_equal(H(DEP("\"replicas\":1", "\"replicas\":1,\"updatedReplicas\":1,"
                                             "\"readyReplicas\":1,\"availableReplicas\":1")),
                     SL_HEALTH_IN_PROGRESS);
    /* progress deadline */
    assert_int_equal(
            H(DEP("\"replicas\":1", "\"conditions\":[{\"type\":\"Progressing\",\"status\":"
                                    "\"False\",\"reason\":\"ProgressDeadlineExceeded\"}]")),
            SL_HEALTH_FAILED);
    /* with progressDeadlineSeconds, needs NewReplicaSetAvailable */
    assert_int_equal(H(DEP("\"replicas\":1,\"progressDeadlineSeconds\":600",
                           "\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,"
                           "\"availableReplicas\":1,\"conditions\":[" AVAIL "]")),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H(DEP("\"replicas\":1,\"progressDeadlineSeconds\":600",
                           "\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1,"
                           "\"availableReplicas\":1,\"conditions\":[" AVAIL "," NRSA "]")),
                     SL_HEALTH_CURRENT);
}

static void test_statefulset_daemonset(void **s)
{
    (void)s;
    assert_int_equal(
            H("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{"
              "\"replicas\":2},\"status\":{\"replicas\":2,\"readyReplicas\":2,"
              "\"currentReplicas\":2,\"currentRevision\":\"a\",\"updateRevision\":\"a\"}}"),
            SL_HEALTH_CURRENT);
    assert_int_equal(
            H("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{"
              "\"replicas\":2},\"status\":{\"replicas\":2,\"readyReplicas\":2,"
              "\"currentReplicas\":2,\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}"),
            SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{"
                       "\"replicas\":2,\"updateStrategy\":{\"type\":\"OnDelete\"}}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{"
                       "\"replicas\":3,\"updateStrategy\":{\"rollingUpdate\":{\"partition\":2}}},"
                       "\"status\":{\"replicas\":3,\"readyReplicas\":3,\"updatedReplicas\":1}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{"
                       "\"generation\":1},\"status\":{\"observedGeneration\":1,"
                       "\"desiredNumberScheduled\":2,\"currentNumberScheduled\":2,"
                       "\"updatedNumberScheduled\":2,\"numberAvailable\":2,\"numberReady\":2}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{"
                       "\"generation\":1},\"status\":{\"observedGeneration\":1,"
                       "\"desiredNumberScheduled\":2,\"currentNumberScheduled\":2,"
                       "\"updatedNumberScheduled\":2,\"numberAvailable\":1,\"numberReady\":2}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"status\":{}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"spec\":{\"replicas\":"
                       "1},\"status\":{\"replicas\":1,\"fullyLabeledReplicas\":1,"
                       "\"availableReplicas\":1,\"readyReplicas\":1}}"),
                     SL_HEALTH_CURRENT);
}

static void test_core_kinds(void **s)
{
    (void)s;
    assert_int_equal(H("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"conditions\":["
                       "{\"type\":\"Complete\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"conditions\":["
                       "{\"type\":\"Failed\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_FAILED);
    assert_int_equal(H("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"startTime\":"
                       "\"2026-01-01T00:00:00Z\"}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"status\":{"
                       "\"phase\":\"Bound\"}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"status\":{"
                       "\"phase\":\"Pending\"}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"type\":"
                       "\"LoadBalancer\"}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"type\":"
                       "\"LoadBalancer\",\"clusterIP\":\"10.0.0.1\"}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\","
                       "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\","
                       "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{"
                       "\"reason\":\"CrashLoopBackOff\"}}}]}}"),
                     SL_HEALTH_FAILED);
    assert_int_equal(H("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Pending\","
                       "\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\","
                       "\"reason\":\"Unschedulable\",\"lastTransitionTime\":"
                       "\"2020-01-01T00:00:00Z\"}]}}"),
                     SL_HEALTH_FAILED);
    assert_int_equal(H("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
                       "\"CustomResourceDefinition\",\"status\":{\"conditions\":[{\"type\":"
                       "\"Established\",\"status\":\"True\"}]}}"),
                     SL_HEALTH_CURRENT);
    assert_int_equal(H("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
                       "\"CustomResourceDefinition\",\"status\":{\"conditions\":[{\"type\":"
                       "\"Established\",\"status\":\"False\",\"reason\":\"Installing\"}]}}"),
                     SL_HEALTH_IN_PROGRESS);
    assert_int_equal(H("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
                       "\"CustomResourceDefinition\",\"status\":{\"conditions\":[{\"type\":"
                       "\"NamesAccepted\",\"status\":\"False\"}]}}"),
                     SL_HEALTH_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_generic),
            cmocka_unit_test(test_deployment),
            cmocka_unit_test(test_statefulset_daemonset),
            cmocka_unit_test(test_core_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fuzz target for kubesim's request bodies and query strings: the first byte
 * picks the path through the server (apply, strategic/merge/json patch,
 * protobuf create, PUT, label and field selectors), the rest is the body or
 * the selector. Each input runs against a fresh store holding one
 * Deployment, so inputs are independent and leaks show up per input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubesim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char seed_deploy[] =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"labels\":{\"app\":\"web\"}},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
        "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":"
        "{\"containers\":[{\"name\":\"web\",\"image\":\"w:1\",\"ports\":[{\"containerPort\":80}],"
        "\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}";

static void run(struct ks_state *st, const char *method, const char *path, const char *ctype,
                const char *body, size_t len, const char *labels, const char *fields,
                const char *manager)
{
    struct ks_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = method;
    rq.path = path;
    rq.content_type = ctype;
    rq.body = body;
    rq.body_len = len;
    rq.q_label_selector = labels;
    rq.q_field_selector = fields;
    rq.q_field_manager = manager;
    rq.q_field_validation = "Strict";
    struct ks_reply out;
    memset(&out, 0, sizeof out);
    ks_handle_api(st, &rq, &out);
    json_decref(out.body);
    free(out.raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    struct ks_state st;
    memset(&st, 0, sizeof st);
    if (ks_state_init(&st) != 0) {
        ks_state_free(&st);
        return 0;
    }
    const char *dpath = "/apis/apps/v1/namespaces/default/deployments/web";
    run(&st, "PATCH", dpath, "application/apply-patch+yaml", seed_deploy, strlen(seed_deploy), NULL,
        NULL, "seed");
    char *text = malloc(size);
    if (!text) {
        ks_state_free(&st);
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    const char *b = text;
    size_t n = size - 1;
    switch (data[0] % 9) {
    case 0:
        run(&st, "PATCH", dpath, "application/apply-patch+yaml", b, n, NULL, NULL, "f");
        break;
    case 1:
        run(&st, "PATCH", dpath, "application/strategic-merge-patch+json", b, n, NULL, NULL, "f");
        break;
    case 2:
        run(&st, "PATCH", dpath, "application/merge-patch+json", b, n, NULL, NULL, "f");
        break;
    case 3:
        run(&st, "PATCH", dpath, "application/json-patch+json", b, n, NULL, NULL, "f");
        break;
    case 4:
        run(&st, "POST", "/api/v1/namespaces/default/configmaps",
            "application/vnd.kubernetes.protobuf", b, n, NULL, NULL, NULL);
        break;
    case 5:
        run(&st, "PUT", dpath, "application/json", b, n, NULL, NULL, "f");
        break;
    case 6:
        run(&st, "GET", "/apis/apps/v1/namespaces/default/deployments", NULL, NULL, 0, text, NULL,
            NULL);
        break;
    case 7:
        run(&st, "GET", "/apis/apps/v1/deployments", NULL, NULL, 0, NULL, text, NULL);
        break;
    default:
        run(&st, "PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.example.com",
            "application/apply-patch+yaml", b, n, NULL, NULL, "f");
        break;
    }
    free(text);
    ks_state_free(&st);
    return 0;
}

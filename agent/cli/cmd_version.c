#include <curl/curl.h>
#include <getopt.h>
#include <git2.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <yaml.h>

#include "cli.h"
#include "lazy.h"
#include "version.h"

const char sl_usage_version[] =
        "Usage: sluice version [-o text|json]\n\n"
        "Print sluice's version, the git commit it was built from and the versions of\n"
        "the libraries it runs with.\n\n"
        "Options:\n"
        "  -o, --output FORMAT  text (default) or json\n";

int sl_cmd_version(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    enum sl_output out = SL_OUT_TEXT;
    struct sl_error err = SL_ERROR_INIT;
    char git2[32];
    int c, major, minor, rev;

    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o') {
            if (sl_cli_parse_output("version", optarg, 1u << SL_OUT_TEXT | 1u << SL_OUT_JSON,
                                    &out) != 0)
                return SL_EXIT_USAGE;
        } else {
            return sl_cli_usage_error("version", "unknown option");
        }
    }
    if (optind < argc)
        return sl_cli_usage_error("version", "unexpected argument \"%s\"", argv[optind]);
    /* The versions come from the libraries themselves, so all three are loaded. */
    if (sl_lazy_require(SL_LAZY_GIT2, &err) != 0 || sl_lazy_require(SL_LAZY_CURL, &err) != 0 ||
        sl_lazy_require(SL_LAZY_MHD, &err) != 0)
        return sl_cli_fail(&err);
    git_libgit2_version(&major, &minor, &rev);
    snprintf(git2, sizeof(git2), "%d.%d.%d", major, minor, rev);
    if (out == SL_OUT_JSON) {
        json_t *v =
                json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "version", SLUICE_VERSION,
                          "commit", SLUICE_GIT_COMMIT, "libraries", "libgit2", git2, "libcurl",
                          curl_version_info(CURLVERSION_NOW)->version, "libyaml",
                          yaml_get_version_string(), "libsodium", sodium_version_string(),
                          "jansson", jansson_version_str(), "libmicrohttpd", MHD_get_version());
        int rc = v == NULL || sl_cli_print_json(v) != 0 ? SL_EXIT_FAIL : SL_EXIT_OK;
        json_decref(v);
        return rc;
    }
    printf("sluice %s (commit %s)\n", SLUICE_VERSION, SLUICE_GIT_COMMIT);
    printf("  libgit2       %s\n", git2);
    printf("  libcurl       %s\n", curl_version_info(CURLVERSION_NOW)->version);
    printf("  libyaml       %s\n", yaml_get_version_string());
    printf("  libsodium     %s\n", sodium_version_string());
    printf("  jansson       %s\n", jansson_version_str());
    printf("  libmicrohttpd %s\n", MHD_get_version());
    return SL_EXIT_OK;
}

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "secmem.h"

static const struct sl_verb verbs[] = {
#define SL_VERB(name, summary, usage, fn) {name, summary, usage, fn},
#include "verbs.def"
#undef SL_VERB
};

static const size_t nverbs = sizeof(verbs) / sizeof(verbs[0]);

static void print_main_usage(FILE *out)
{
    fprintf(out, "Usage: sluice [-v|--log-level LEVEL] VERB [ARGS...]\n\n"
                 "sluice keeps Kubernetes clusters in step with a git repository:\n"
                 "dev follows main, stage follows release-candidate tags, prod follows\n"
                 "release tags, and a release that fails its health checks is rolled back.\n\n"
                 "Verbs:\n");
    for (size_t i = 0; i < nverbs; i++)
        fprintf(out, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out, "  %-14s %s\n", "help", "Show help for a verb");
    fprintf(out, "\nGlobal options:\n"
                 "  -v, --verbose          more logging (repeat for debug)\n"
                 "      --log-level LEVEL  error, warn, notice, info (default) or debug\n"
                 "  -h, --help             this help\n\n"
                 "Run 'sluice help VERB' or 'sluice VERB --help' for a verb's options.\n");
}

static const struct sl_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < nverbs; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
            {"verbose", no_argument, NULL, 'v'},
            {"log-level", required_argument, NULL, 'L'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    enum sl_log_level level = SL_LOG_INFO;
    struct sl_error err = SL_ERROR_INIT;
    const struct sl_verb *verb;
    const char *env_level = getenv("SLUICE_LOG_LEVEL");
    int c;

    if (env_level != NULL && sl_log_parse_level(env_level, &level) != 0) {
        fprintf(stderr, "sluice: SLUICE_LOG_LEVEL=%s is not a log level\n", env_level);
        return SL_EXIT_USAGE;
    }
    /* '+': stop at the verb, so verbs parse their own flags. */
    while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            level = level >= SL_LOG_INFO ? SL_LOG_DEBUG : SL_LOG_INFO;
            break;
        case 'L':
            if (sl_log_parse_level(optarg, &level) != 0) {
                fprintf(stderr,
                        "sluice: --log-level: \"%s\" is not one of error, warn, "
                        "notice, info, debug\n",
                        optarg);
                return SL_EXIT_USAGE;
            }
            break;
        case 'h':
            print_main_usage(stdout);
            return SL_EXIT_OK;
        default:
            print_main_usage(stderr);
            return SL_EXIT_USAGE;
        }
    }
    sl_log_setup(level, NULL);
    if (sl_secmem_init(&err) != 0)
        return sl_cli_fail(&err);
    if (optind >= argc) {
        print_main_usage(stderr);
        return SL_EXIT_USAGE;
    }
    argc -= optind;
    argv += optind;
    if (strcmp(argv[0], "help") == 0) {
        if (argc < 2) {
            print_main_usage(stdout);
            return SL_EXIT_OK;
        }
        verb = find_verb(argv[1]);
        if (verb == NULL) {
            fprintf(stderr, "sluice: unknown verb \"%s\"\n\n", argv[1]);
            print_main_usage(stderr);
            return SL_EXIT_USAGE;
        }
        fputs(verb->usage, stdout);
        return SL_EXIT_OK;
    }
    verb = find_verb(argv[0]);
    if (verb == NULL) {
        fprintf(stderr, "sluice: unknown verb \"%s\"\n\n", argv[0]);
        print_main_usage(stderr);
        return SL_EXIT_USAGE;
    }
    if (wants_help(argc, argv)) {
        fputs(verb->usage, stdout);
        return SL_EXIT_OK;
    }
    optind = 0; /* reset getopt for the verb (0 also re-reads GNU extensions) */
    return verb->run(argc, argv);
}

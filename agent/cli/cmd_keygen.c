#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "file.h"
#include "secrets.h"

const char sl_usage_keygen[] =
        "Usage: sluice keygen [-o FILE]\n\n"
        "Generate an age X25519 identity for unsealing secrets and print its\n"
        "recipient (the public key to seal to, age1...).\n\n"
        "With -o, the identity is written to FILE with mode 0600; an existing FILE is\n"
        "never overwritten. The recipient is printed on stdout. Without -o, the identity\n"
        "file is printed on stdout and the recipient on stderr (as age-keygen does).\n"
        "The file is interchangeable with age-keygen's.\n\n"
        "Options:\n"
        "  -o, --output FILE  write the identity to FILE (created, mode 0600)\n";

int sl_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct sl_error err = SL_ERROR_INIT;
    struct sl_age_identity *id = NULL;
    struct sl_secbuf text = SL_SECBUF_INIT(1024);
    char *idstr = NULL, rcpt[SL_AGE_RECIPIENT_STRLEN + 1], ts[32];
    const char *out = NULL;
    time_t now = time(NULL);
    struct tm tm;
    int c, rc = SL_EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else
            return sl_cli_usage_error("keygen", "unknown option");
    }
    if (optind != argc)
        return sl_cli_usage_error("keygen", "unexpected argument \"%s\"", argv[optind]);
    id = sl_age_identity_generate(&err);
    idstr = sl_secure_alloc(SL_AGE_IDENTITY_STRLEN + 1, &err);
    if (id == NULL || idstr == NULL)
        goto fail;
    if (sl_age_identity_format(id, idstr, SL_AGE_IDENTITY_STRLEN + 1) != 0) {
        sl_error_set(&err, SL_EGENERIC, "cannot encode the identity");
        goto fail;
    }
    sl_recipient_format(id->pk, rcpt, sizeof(rcpt));
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    {
        char head[256];
        int n = snprintf(head, sizeof(head), "# created: %s\n# public key: %s\n", ts, rcpt);
        if (sl_secbuf_append(&text, head, (size_t)n, &err) != 0 ||
            sl_secbuf_append(&text, idstr, strlen(idstr), &err) != 0 ||
            sl_secbuf_append(&text, "\n", 1, &err) != 0)
            goto fail;
    }
    if (out != NULL) {
        if (sl_file_write_new(out, text.ptr, text.len, 0600, &err) != 0)
            goto fail;
        printf("%s\n", rcpt);
    } else {
        if (fwrite(text.ptr, 1, text.len, stdout) != text.len || fflush(stdout) != 0) {
            sl_error_set(&err, SL_EIO, "cannot write to stdout");
            goto fail;
        }
        fprintf(stderr, "Public key: %s\n", rcpt);
    }
    rc = SL_EXIT_OK;
    goto done;
fail:
    sl_cli_fail(&err);
done:
    sl_secbuf_release(&text);
    sl_secure_free(idstr);
    sl_age_identity_free(id);
    return rc;
}

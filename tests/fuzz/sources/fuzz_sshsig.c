/*
 * libFuzzer target: SSH signatures and the text formats next to them
 * (sources/sshsig.h, resolve.h state, repo.h known_hosts). The first byte
 * selects the parser; the rest is its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"
#include "resolve.h"
#include "sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ssrc_error e = SSRC_ERROR_INIT;
    struct ssrc_sshsig sig;
    uint8_t *copy;

    if (size < 1)
        return 0;
    /* An exact-size copy so that any overread is caught. */
    copy = malloc(size - 1 + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    switch (data[0] % 5) {
    case 0:
        if (ssrc_sshsig_parse(copy, size - 1, &sig, &e) == 0)
            (void)ssrc_sshsig_verify(&sig, copy, size - 1, "git", &e);
        break;
    case 1:
        if (ssrc_sshsig_parse_armored((const char *)copy, size - 1, &sig, &e) == 0)
            (void)ssrc_sshsig_verify(&sig, "msg", 3, "git", &e);
        break;
    case 2: {
        struct ssrc_signers *s = NULL;
        if (ssrc_signers_parse((const char *)copy, size - 1, "fuzz", &s, &e) == 0) {
            memset(&sig, 0, sizeof(sig));
            if (s->n > 0 && s->v[0].keyblob_len <= sizeof(sig.keyblob)) {
                const char *who;
                memcpy(sig.keyblob, s->v[0].keyblob, s->v[0].keyblob_len);
                sig.keyblob_len = s->v[0].keyblob_len;
                (void)ssrc_signers_check(s, &sig, "git", 1700000000, &who, &e);
            }
            ssrc_signers_free(s);
        }
        break;
    }
    case 3: {
        struct ssrc_state st;
        if (ssrc_state_parse((const char *)copy, size - 1, &st, &e) == 0) {
            char *text = NULL;
            size_t len;
            if (ssrc_state_format(&st, &text, &len, &e) == 0)
                free(text);
            ssrc_state_release(&st);
        }
        break;
    }
    case 4: {
        static const unsigned char key[51] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
                                              '2', '5', '5', '1', '9', 0,   0,   0,   32};
        (void)ssrc_known_hosts_check((const char *)copy, size - 1, "git.example", 2222, key,
                                     sizeof(key), &e);
        break;
    }
    }
    free(copy);
    return 0;
}

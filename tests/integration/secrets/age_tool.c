/*
 * Raw age encrypt/decrypt through sluice's implementation, for interop tests
 * against the age CLI (plaintext goes to stdout: test data only).
 *
 *   age_tool decrypt -i ID [-i ID...] FILE
 *   age_tool encrypt [-a] -r AGE1... [-r ...] FILE
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "secrets.h"

int main(int argc, char **argv)
{
    struct sl_error err = SL_ERROR_INIT;
    struct sl_identities ids = SL_IDENTITIES_INIT;
    struct sl_recipient *rcpts = NULL;
    struct sl_buf in = SL_BUF_INIT(SL_FILE_MAX), out = SL_BUF_INIT((size_t)64 << 20);
    struct sl_secbuf pt = SL_SECBUF_INIT(SL_FILE_MAX);
    size_t nrcpts = 0;
    bool armor = false, dec;
    const char *file = NULL;
    int rc = 1;

    if (argc < 2 || sl_secmem_init(&err) != 0)
        return 2;
    dec = strcmp(argv[1], "decrypt") == 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-i") == 0 && i + 1 < argc) {
            if (sl_identities_load_file(&ids, argv[++i], &err) != 0)
                goto fail;
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            if (sl_recipients_add(&rcpts, &nrcpts, argv[++i], &err) != 0)
                goto fail;
        } else if (strcmp(argv[i], "-a") == 0) {
            armor = true;
        } else {
            file = argv[i];
        }
    }
    if (file == NULL || sl_file_read(&in, file, SL_FILE_MAX, &err) != 0)
        goto fail;
    if (dec) {
        if (sl_age_decrypt_buffer(in.ptr, in.len, &ids, &pt, &err) != 0)
            goto fail;
        if (pt.len > 0 && fwrite(pt.ptr, 1, pt.len, stdout) != pt.len)
            goto fail;
    } else {
        if (sl_age_encrypt(in.ptr, in.len, rcpts, nrcpts, NULL, armor, &out, &err) != 0)
            goto fail;
        if (out.len > 0 && fwrite(out.ptr, 1, out.len, stdout) != out.len)
            goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "age_tool: %s\n", err.msg[0] ? err.msg : "failed");
done:
    sl_secbuf_release(&pt);
    sl_buf_release(&in);
    sl_buf_release(&out);
    sl_identities_release(&ids);
    free(rcpts);
    return rc;
}

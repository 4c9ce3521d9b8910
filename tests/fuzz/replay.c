/*
 * The one corpus-replay driver for every fuzz target: runs the target's
 * LLVMFuzzerTestOneInput over every regular file named on the command line or
 * found below a named directory (recursively), so a normal build and ctest
 * exercise each target without libFuzzer. A missing path, an unreadable file
 * or no input at all fails the run, so a replay cannot pass vacuously.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path, int depth, size_t *count)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names = NULL;
        int n, rc = 0;

        if (depth > 8) {
            fprintf(stderr, "%s: nested too deeply\n", path);
            return -1;
        }
        /* Sorted, so a failing input is found at the same place every run. */
        n = scandir(path, &names, NULL, alphasort);
        if (n < 0) {
            fprintf(stderr, "%s: cannot list\n", path);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            char sub[4096];
            if (rc == 0 && names[i]->d_name[0] != '.') {
                snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
                rc = replay(sub, depth + 1, count);
            }
            free(names[i]);
        }
        free(names);
        return rc;
    }
    if (S_ISREG(st.st_mode)) {
        struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
        struct sl_error err = SL_ERROR_INIT;

        if (sl_file_read(&b, path, SL_FILE_MAX, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)b.ptr, b.len);
        sl_buf_release(&b);
        (*count)++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = 0;

    for (int i = 1; i < argc; i++)
        if (replay(argv[i], 0, &count) != 0)
            return 1;
    printf("replayed %zu inputs\n", count);
    return count > 0 ? 0 : 1;
}

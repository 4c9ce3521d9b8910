/* Replays every file under the given directories through LLVMFuzzerTestOneInput. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t replay(const char *path)
{
    struct stat st;
    size_t n = 0;

    if (stat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            char child[4096];
            if (de->d_name[0] == '.')
                continue;
            snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
            n += replay(child);
        }
        if (d != NULL)
            closedir(d);
    } else if (S_ISREG(st.st_mode)) {
        struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
        if (sl_file_read(&b, path, SL_FILE_MAX, NULL) == 0) {
            LLVMFuzzerTestOneInput((const uint8_t *)b.ptr, b.len);
            n++;
        }
        sl_buf_release(&b);
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t n = 0;

    for (int i = 1; i < argc; i++)
        n += replay(argv[i]);
    printf("replayed %zu inputs\n", n);
    return n > 0 ? 0 : 1;
}

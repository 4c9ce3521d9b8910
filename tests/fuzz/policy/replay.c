/*
 * Runs the fuzz target's entry point over every file in the directories
 * given (the corpus and the shipped rule files), so a normal build and
 * ctest exercise it without libFuzzer. Fails when a directory is missing or
 * empty, so the replay cannot pass vacuously.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    size_t total = 0;

    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *de;
        size_t here = 0;
        if (d == NULL) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 1;
        }
        while ((de = readdir(d)) != NULL) {
            struct sl_buf path = SL_BUF_INIT(4096), data = SL_BUF_INIT(1 << 20);
            struct sl_error err = SL_ERROR_INIT;
            if (de->d_name[0] == '.')
                continue;
            if (sl_buf_printf(&path, &err, "%s/%s", argv[i], de->d_name) == 0 &&
                sl_file_read(&data, path.ptr, 1 << 20, &err) == 0) {
                LLVMFuzzerTestOneInput((const uint8_t *)data.ptr, data.len);
                here++;
            }
            sl_buf_release(&path);
            sl_buf_release(&data);
        }
        closedir(d);
        if (here == 0) {
            fprintf(stderr, "replay: no inputs in %s\n", argv[i]);
            return 1;
        }
        total += here;
    }
    printf("replayed %zu inputs\n", total);
    return total > 0 ? 0 : 1;
}

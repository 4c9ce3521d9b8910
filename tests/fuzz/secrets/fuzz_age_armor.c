/* libFuzzer: the strict age armor decoder. */
#include <stddef.h>
#include <stdint.h>

#include "age.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_buf out = SL_BUF_INIT((size_t)16 << 20);

    if (sl_age_dearmor((const char *)data, size, &out, NULL) == 0 && out.len > size)
        __builtin_trap(); /* decoding never grows the data */
    sl_buf_release(&out);
    return 0;
}

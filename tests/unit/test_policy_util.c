/*
 * Shared helpers of the policy tests and benchmark: objects from YAML
 * fixtures (the renderer's job in the product), so the engine is tested on
 * its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "object.h"
#include "policy.h"
#include "yamltree.h"

int tp_objects_from_yaml(struct sl_objlist *l, const char *data, size_t len, const char *name,
                         struct sl_error *err);
int tp_objects_from_file(struct sl_objlist *l, const char *path, const char *name,
                         struct sl_error *err);

/* Every document of a YAML text becomes an object with origin name:line. */
int tp_objects_from_yaml(struct sl_objlist *l, const char *data, size_t len, const char *name,
                         struct sl_error *err)
{
    struct sl_ystream *ys = NULL;
    int rc = -1;

    if (sl_yaml_load(&ys, data, len, name, NULL, err) != 0)
        return -1;
    for (size_t i = 0; i < ys->ndocs; i++) {
        json_t *j;
        if (ys->docs[i].root == NULL)
            continue;
        if ((j = sl_ynode_to_json(ys->docs[i].root, name, err)) == NULL)
            goto done;
        /* as the renderer: the line of the document's root node */
        if (sl_objlist_add(l, j, name, ys->docs[i].root->line, err) != 0)
            goto done;
    }
    rc = 0;
done:
    sl_ystream_free(ys);
    return rc;
}

int tp_objects_from_file(struct sl_objlist *l, const char *path, const char *name,
                         struct sl_error *err)
{
    struct sl_buf b = SL_BUF_INIT(SL_FILE_MAX);
    int rc = -1;
    if (sl_file_read(&b, path, SL_FILE_MAX, err) == 0)
        rc = tp_objects_from_yaml(l, b.ptr, b.len, name, err);
    sl_buf_release(&b);
    return rc;
}

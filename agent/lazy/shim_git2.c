/*
 * libgit2 shims: every libgit2 function sluice calls, forwarded to the real
 * library loaded on first use (see lazy.h).
 */
#include <git2.h>
#include <stdarg.h>

#include "shim.h"

#define SL_SHIM_LIB SL_LAZY_GIT2

#define SL_GIT2_FUNCS(X, XV)                                                                       \
    XV(git_blob_free, (git_blob * blob), (blob))                                                   \
    X(int, git_blob_lookup, (git_blob * *blob, git_repository * repo, const git_oid *id),          \
      (blob, repo, id))                                                                            \
    X(const void *, git_blob_rawcontent, (const git_blob *blob), (blob))                           \
    X(git_object_size_t, git_blob_rawsize, (const git_blob *blob), (blob))                         \
    XV(git_buf_dispose, (git_buf * buffer), (buffer))                                              \
    X(const git_signature *, git_commit_committer, (const git_commit *commit), (commit))           \
    X(int, git_commit_create,                                                                      \
      (git_oid * id, git_repository * repo, const char *update_ref, const git_signature *author,   \
       const git_signature *committer, const char *message_encoding, const char *message,          \
       const git_tree *tree, size_t parent_count, const git_commit *parents[]),                    \
      (id, repo, update_ref, author, committer, message_encoding, message, tree, parent_count,     \
       parents))                                                                                   \
    X(int, git_commit_extract_signature,                                                           \
      (git_buf * signature, git_buf * signed_data, git_repository * repo, git_oid * commit_id,     \
       const char *field),                                                                         \
      (signature, signed_data, repo, commit_id, field))                                            \
    XV(git_commit_free, (git_commit * commit), (commit))                                           \
    X(int, git_commit_lookup, (git_commit * *commit, git_repository * repo, const git_oid *id),    \
      (commit, repo, id))                                                                          \
    X(int, git_commit_tree, (git_tree * *tree_out, const git_commit *commit), (tree_out, commit))  \
    X(int, git_credential_ssh_key_new,                                                             \
      (git_credential * *out, const char *username, const char *publickey, const char *privatekey, \
       const char *passphrase),                                                                    \
      (out, username, publickey, privatekey, passphrase))                                          \
    X(int, git_credential_username_new, (git_credential * *out, const char *username),             \
      (out, username))                                                                             \
    X(int, git_credential_userpass_plaintext_new,                                                  \
      (git_credential * *out, const char *username, const char *password),                         \
      (out, username, password))                                                                   \
    XV(git_error_clear, (void), ())                                                                \
    X(const git_error *, git_error_last, (void), ())                                               \
    X(int, git_fetch_options_init, (git_fetch_options * opts, unsigned int version),               \
      (opts, version))                                                                             \
    X(int, git_graph_descendant_of,                                                                \
      (git_repository * repo, const git_oid *commit, const git_oid *ancestor),                     \
      (repo, commit, ancestor))                                                                    \
    X(int, git_index_add_all,                                                                      \
      (git_index * index, const git_strarray *pathspec, unsigned int flags,                        \
       git_index_matched_path_cb callback, void *payload),                                         \
      (index, pathspec, flags, callback, payload))                                                 \
    XV(git_index_free, (git_index * index), (index))                                               \
    X(int, git_index_update_all,                                                                   \
      (git_index * index, const git_strarray *pathspec, git_index_matched_path_cb callback,        \
       void *payload),                                                                             \
      (index, pathspec, callback, payload))                                                        \
    X(int, git_index_write, (git_index * index), (index))                                          \
    X(int, git_index_write_tree, (git_oid * out, git_index * index), (out, index))                 \
    X(int, git_libgit2_init, (void), ())                                                           \
    X(int, git_libgit2_shutdown, (void), ())                                                       \
    X(int, git_libgit2_version, (int *major, int *minor, int *rev), (major, minor, rev))           \
    XV(git_object_free, (git_object * object), (object))                                           \
    X(const git_oid *, git_object_id, (const git_object *obj), (obj))                              \
    X(int, git_object_lookup,                                                                      \
      (git_object * *object, git_repository * repo, const git_oid *id, git_object_t type),         \
      (object, repo, id, type))                                                                    \
    X(int, git_object_peel,                                                                        \
      (git_object * *peeled, const git_object *object, git_object_t target_type),                  \
      (peeled, object, target_type))                                                               \
    X(git_object_t, git_object_type, (const git_object *obj), (obj))                               \
    X(int, git_odb_exists, (git_odb * db, const git_oid *id), (db, id))                            \
    XV(git_odb_free, (git_odb * db), (db))                                                         \
    X(const void *, git_odb_object_data, (git_odb_object * object), (object))                      \
    XV(git_odb_object_free, (git_odb_object * object), (object))                                   \
    X(size_t, git_odb_object_size, (git_odb_object * object), (object))                            \
    X(git_object_t, git_odb_object_type, (git_odb_object * object), (object))                      \
    X(int, git_odb_read, (git_odb_object * *out, git_odb * db, const git_oid *id), (out, db, id))  \
    X(int, git_odb_read_header,                                                                    \
      (size_t * len_out, git_object_t * type_out, git_odb * db, const git_oid *id),                \
      (len_out, type_out, db, id))                                                                 \
    X(int, git_odb_refresh, (struct git_odb * db), (db))                                           \
    X(int, git_oid_cmp, (const git_oid *a, const git_oid *b), (a, b))                              \
    X(int, git_oid_cpy, (git_oid * out, const git_oid *src), (out, src))                           \
    X(int, git_oid_equal, (const git_oid *a, const git_oid *b), (a, b))                            \
    X(int, git_oid_fromstr, (git_oid * out, const char *str), (out, str))                          \
    X(char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id))               \
    XV(git_packbuilder_free, (git_packbuilder * pb), (pb))                                         \
    X(int, git_packbuilder_insert, (git_packbuilder * pb, const git_oid *id, const char *name),    \
      (pb, id, name))                                                                              \
    X(int, git_packbuilder_insert_recur,                                                           \
      (git_packbuilder * pb, const git_oid *id, const char *name), (pb, id, name))                 \
    X(int, git_packbuilder_insert_walk, (git_packbuilder * pb, git_revwalk * walk), (pb, walk))    \
    X(int, git_packbuilder_new, (git_packbuilder * *out, git_repository * repo), (out, repo))      \
    X(size_t, git_packbuilder_object_count, (git_packbuilder * pb), (pb))                          \
    X(int, git_packbuilder_write,                                                                  \
      (git_packbuilder * pb, const char *path, unsigned int mode,                                  \
       git_indexer_progress_cb progress_cb, void *progress_cb_payload),                            \
      (pb, path, mode, progress_cb, progress_cb_payload))                                          \
    X(size_t, git_packbuilder_written, (git_packbuilder * pb), (pb))                               \
    X(int, git_proxy_options_init, (git_proxy_options * opts, unsigned int version),               \
      (opts, version))                                                                             \
    X(int, git_refdb_compress, (git_refdb * refdb), (refdb))                                       \
    XV(git_refdb_free, (git_refdb * refdb), (refdb))                                               \
    X(int, git_reference_create,                                                                   \
      (git_reference * *out, git_repository * repo, const char *name, const git_oid *id,           \
       int force, const char *log_message),                                                        \
      (out, repo, name, id, force, log_message))                                                   \
    XV(git_reference_free, (git_reference * ref), (ref))                                           \
    XV(git_reference_iterator_free, (git_reference_iterator * iter), (iter))                       \
    X(int, git_reference_iterator_new, (git_reference_iterator * *out, git_repository * repo),     \
      (out, repo))                                                                                 \
    X(const char *, git_reference_name, (const git_reference *ref), (ref))                         \
    X(int, git_reference_name_is_valid, (int *valid, const char *refname), (valid, refname))       \
    X(int, git_reference_next, (git_reference * *out, git_reference_iterator * iter), (out, iter)) \
    X(int, git_reference_peel, (git_object * *out, const git_reference *ref, git_object_t type),   \
      (out, ref, type))                                                                            \
    X(int, git_reference_remove, (git_repository * repo, const char *name), (repo, name))          \
    X(const git_oid *, git_reference_target, (const git_reference *ref), (ref))                    \
    X(git_reference_t, git_reference_type, (const git_reference *ref), (ref))                      \
    X(int, git_remote_connect_ext,                                                                 \
      (git_remote * remote, git_direction direction, const git_remote_connect_options *opts),      \
      (remote, direction, opts))                                                                   \
    X(int, git_remote_connect_options_init,                                                        \
      (git_remote_connect_options * opts, unsigned int version), (opts, version))                  \
    X(int, git_remote_create_options_init,                                                         \
      (git_remote_create_options * opts, unsigned int version), (opts, version))                   \
    X(int, git_remote_create_with_opts,                                                            \
      (git_remote * *out, const char *url, const git_remote_create_options *opts),                 \
      (out, url, opts))                                                                            \
    X(int, git_remote_disconnect, (git_remote * remote), (remote))                                 \
    X(int, git_remote_download,                                                                    \
      (git_remote * remote, const git_strarray *refspecs, const git_fetch_options *opts),          \
      (remote, refspecs, opts))                                                                    \
    XV(git_remote_free, (git_remote * remote), (remote))                                           \
    X(int, git_remote_init_callbacks, (git_remote_callbacks * opts, unsigned int version),         \
      (opts, version))                                                                             \
    X(int, git_remote_ls, (const git_remote_head ***out, size_t *size, git_remote *remote),        \
      (out, size, remote))                                                                         \
    X(const git_indexer_progress *, git_remote_stats, (git_remote * remote), (remote))             \
    XV(git_repository_free, (git_repository * repo), (repo))                                       \
    X(int, git_repository_head, (git_reference * *out, git_repository * repo), (out, repo))        \
    X(int, git_repository_index, (git_index * *out, git_repository * repo), (out, repo))           \
    X(int, git_repository_init_ext,                                                                \
      (git_repository * *out, const char *repo_path, git_repository_init_options *opts),           \
      (out, repo_path, opts))                                                                      \
    X(int, git_repository_init_options_init,                                                       \
      (git_repository_init_options * opts, unsigned int version), (opts, version))                 \
    X(int, git_repository_odb, (git_odb * *out, git_repository * repo), (out, repo))               \
    X(int, git_repository_open_bare, (git_repository * *out, const char *bare_path),               \
      (out, bare_path))                                                                            \
    X(int, git_repository_open_ext,                                                                \
      (git_repository * *out, const char *path, unsigned int flags, const char *ceiling_dirs),     \
      (out, path, flags, ceiling_dirs))                                                            \
    X(const char *, git_repository_path, (const git_repository *repo), (repo))                     \
    X(int, git_repository_refdb, (git_refdb * *out, git_repository * repo), (out, repo))           \
    X(int, git_revparse_single, (git_object * *out, git_repository * repo, const char *spec),      \
      (out, repo, spec))                                                                           \
    XV(git_revwalk_free, (git_revwalk * walk), (walk))                                             \
    X(int, git_revwalk_hide, (git_revwalk * walk, const git_oid *commit_id), (walk, commit_id))    \
    X(int, git_revwalk_new, (git_revwalk * *out, git_repository * repo), (out, repo))              \
    X(int, git_revwalk_push, (git_revwalk * walk, const git_oid *id), (walk, id))                  \
    XV(git_signature_free, (git_signature * sig), (sig))                                           \
    X(int, git_signature_now, (git_signature * *out, const char *name, const char *email),         \
      (out, name, email))                                                                          \
    X(int, git_tag_create,                                                                         \
      (git_oid * oid, git_repository * repo, const char *tag_name, const git_object *target,       \
       const git_signature *tagger, const char *message, int force),                               \
      (oid, repo, tag_name, target, tagger, message, force))                                       \
    XV(git_tag_free, (git_tag * tag), (tag))                                                       \
    X(int, git_tag_lookup, (git_tag * *out, git_repository * repo, const git_oid *id),             \
      (out, repo, id))                                                                             \
    X(const char *, git_tag_name, (const git_tag *tag), (tag))                                     \
    X(const git_signature *, git_tag_tagger, (const git_tag *tag), (tag))                          \
    X(const git_oid *, git_tag_target_id, (const git_tag *tag), (tag))                             \
    X(const git_tree_entry *, git_tree_entry_byindex, (const git_tree *tree, size_t idx),          \
      (tree, idx))                                                                                 \
    X(const git_tree_entry *, git_tree_entry_byname, (const git_tree *tree, const char *filename), \
      (tree, filename))                                                                            \
    X(git_filemode_t, git_tree_entry_filemode, (const git_tree_entry *entry), (entry))             \
    X(const git_oid *, git_tree_entry_id, (const git_tree_entry *entry), (entry))                  \
    X(const char *, git_tree_entry_name, (const git_tree_entry *entry), (entry))                   \
    X(size_t, git_tree_entrycount, (const git_tree *tree), (tree))                                 \
    XV(git_tree_free, (git_tree * tree), (tree))                                                   \
    X(const git_oid *, git_tree_id, (const git_tree *tree), (tree))                                \
    X(int, git_tree_lookup, (git_tree * *out, git_repository * repo, const git_oid *id),           \
      (out, repo, id))

#define SL_GIT2_EXTRA(R) R(git_libgit2_opts) R(git_error_set_str)

SL_SHIM_TABLE(SL_GIT2_FUNCS, SL_GIT2_EXTRA)

/*
 * git_libgit2_opts() reads its arguments by option (git2/common.h). Only the
 * options sluice sets are forwarded, with their documented argument types; any
 * other one fails like a libgit2 error, naming this file, so that adding a
 * call without its forwarding is caught the first time it runs.
 */
int git_libgit2_opts(int option, ...)
{
    int rc;
    va_list ap;

    shim_ready();
    va_start(ap, option);
    switch (option) {
    case GIT_OPT_SET_SSL_CERT_LOCATIONS: {
        /* opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, const char *file, const char *path) */
        const char *file = va_arg(ap, const char *);
        const char *path = va_arg(ap, const char *);
        rc = fn.git_libgit2_opts(option, file, path);
        break;
    }
    default:
        fn.git_error_set_str(GIT_ERROR_INVALID,
                             "git_libgit2_opts: this option is not forwarded by sluice's lazy "
                             "loader (agent/lazy/shim_git2.c)");
        rc = -1;
        break;
    }
    va_end(ap);
    return rc;
}

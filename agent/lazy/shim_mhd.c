/*
 * libmicrohttpd shims: every libmicrohttpd function sluice calls, forwarded
 * to the real library loaded on first use (see lazy.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>

#include "shim.h"

#define SL_SHIM_LIB SL_LAZY_MHD

#define SL_MHD_FUNCS(X, XV)                                                                        \
    X(enum MHD_Result, MHD_add_response_header,                                                    \
      (struct MHD_Response * response, const char *header, const char *content),                   \
      (response, header, content))                                                                 \
    X(struct MHD_Response *, MHD_create_response_from_buffer,                                      \
      (size_t size, void *buffer, enum MHD_ResponseMemoryMode mode), (size, buffer, mode))         \
    XV(MHD_destroy_response, (struct MHD_Response * response), (response))                         \
    X(enum MHD_Result, MHD_get_timeout, (struct MHD_Daemon * daemon, unsigned long long *timeout), \
      (daemon, timeout))                                                                           \
    X(const char *, MHD_get_version, (void), ())                                                   \
    X(enum MHD_Result, MHD_is_feature_supported, (enum MHD_FEATURE feature), (feature))            \
    X(const char *, MHD_lookup_connection_value,                                                   \
      (struct MHD_Connection * connection, enum MHD_ValueKind kind, const char *key),              \
      (connection, kind, key))                                                                     \
    X(enum MHD_Result, MHD_queue_response,                                                         \
      (struct MHD_Connection * connection, unsigned int status_code,                               \
       struct MHD_Response *response),                                                             \
      (connection, status_code, response))                                                         \
    X(enum MHD_Result, MHD_run, (struct MHD_Daemon * daemon), (daemon))                            \
    XV(MHD_stop_daemon, (struct MHD_Daemon * daemon), (daemon))

#define SL_MHD_EXTRA(R) R(MHD_start_daemon_va) R(MHD_get_daemon_info)

SL_SHIM_TABLE(SL_MHD_FUNCS, SL_MHD_EXTRA)

/* The option list (type-value pairs up to MHD_OPTION_END) goes on as a
 * va_list to the entry point libmicrohttpd provides for exactly this. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    struct MHD_Daemon *d;
    va_list ap;

    shim_ready();
    va_start(ap, dh_cls);
    d = fn.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

/* microhttpd.h: every MHD_DAEMON_INFO_* takes no extra arguments ("No extra
 * arguments should be passed"), so there is nothing after info_type to pass. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
    shim_ready();
    return fn.MHD_get_daemon_info(daemon, info_type);
}

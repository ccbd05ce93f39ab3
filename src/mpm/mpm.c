/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <unistd.h>

#include "mpm.h"

/* The static build links exactly one MPM; meson names its table (mpm_NAME_module). A build with
 * shared MPMs has none built in. */
#ifdef MPM_BUILTIN_MODULE
extern const MpmOps MPM_BUILTIN_MODULE;
#endif

const MpmOps *const mpm_builtin[] = {
#ifdef MPM_BUILTIN_MODULE
        &MPM_BUILTIN_MODULE,
#endif
        NULL,
};

const MpmOps *mpm_find_builtin(const char *name) {
        for (const MpmOps *const *m = mpm_builtin; *m; m++)
                if (strcmp((*m)->name, name) == 0)
                        return *m;
        return NULL;
}

void worker_context_notify_ready(const WorkerContext *ctx) {
        uint32_t slot = ctx->slot;

        if (ctx->ready_fd < 0)
                return;
        /* One write of 4 bytes to a pipe is atomic; the supervisor validates the number. */
        (void) !write(ctx->ready_fd, &slot, sizeof(slot));
        close(ctx->ready_fd);
}

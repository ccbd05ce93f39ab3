/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "shared/conf-table.h"
#include "supervisor/listeners.h"
#include "mpm/socket-io.h"

#define LISTEN_DEFER_ACCEPT_SEC 1

/* "https://" marks a TLS listener (mpm.h); the address after it is bound as any other. */
static int parse_address(const char *value, struct sockaddr_storage *ss, socklen_t *len) {
        char host[128];
        const char *port_s;
        uint64_t port;

        memset(ss, 0, sizeof(*ss));
        if (strncmp(value, LISTEN_HTTPS_PREFIX, strlen(LISTEN_HTTPS_PREFIX)) == 0)
                value += strlen(LISTEN_HTTPS_PREFIX);
        if (value[0] == '[') {
                const char *end = strchr(value, ']');
                if (!end || end[1] != ':' || (size_t) (end - value - 1) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, value + 1, end - value - 1);
                host[end - value - 1] = 0;
                port_s = end + 2;
        } else {
                const char *colon = strrchr(value, ':');
                if (!colon) {
                        host[0] = 0;
                        port_s = value;
                } else {
                        if ((size_t) (colon - value) >= sizeof(host))
                                return -EINVAL;
                        memcpy(host, value, colon - value);
                        host[colon - value] = 0;
                        port_s = colon + 1;
                }
        }
        if (parse_uint64(port_s, &port) < 0 || port == 0 || port > 65535)
                return -EINVAL;

        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
        if (host[0] == 0 || strcmp(host, "*") == 0) {
                in6->sin6_family = AF_INET6;
                in6->sin6_addr = in6addr_any;
                in6->sin6_port = htons((uint16_t) port);
                *len = sizeof(*in6);
        } else if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                *len = sizeof(*in);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *len = sizeof(*in6);
        } else
                return -EINVAL;
        return 0;
}

bool listen_value_is_address(const char *value) {
        struct sockaddr_storage ss;
        socklen_t len;
        return parse_address(value, &ss, &len) >= 0;
}

const Listener *listener_set_find(const ListenerSet *set, const char *name) {
        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->items[i].name, name) == 0)
                        return &set->items[i];
        return NULL;
}

static int listener_set_add(ListenerSet *set, int fd, const char *name) {
        Listener *l = reallocarray(set->items, set->n + 1, sizeof(*l));
        int one = 1;

        if (!l)
                return -ENOMEM;
        /* No Nagle delay on what we send (nginx's tcp_nodelay): a response written in more than one
         * piece (a relayed or CGI body and its last chunk) must not wait for the client's delayed
         * ACK. Set on the listener, the accepted sockets inherit it at no cost per connection; a
         * local socket refuses it, which changes nothing. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        set->items = l;
        l[set->n].name = strdup(name);
        if (!l[set->n].name)
                return -ENOMEM;
        l[set->n].fd = fd;
        l[set->n].port = socket_local_port(fd);
        l[set->n].tls = listener_name_is_tls(name);
        set->n++;
        return 0;
}

int listener_bind_address(const char *value, int backlog, bool defer_accept) {
        struct sockaddr_storage ss;
        socklen_t len;
        int fd, one = 1, r;

        r = parse_address(value, &ss, &len);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_INET6) {
                /* "*:80" means both families, as Apache and systemd's BindIPv6Only=both do. */
                int v6only = 0;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
        }
        /* A connection is accepted once its first bytes are there (nginx's "deferred"): a worker
         * then reads its request at once instead of waiting for another wake-up. One that sends
         * nothing is still accepted after a few seconds and meets the header deadline. */
        int defer = LISTEN_DEFER_ACCEPT_SEC;
        if (defer_accept)
                (void) setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, backlog) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* "addr-" + address with ':' as '_': the FDNAME of a socket we bound (see listener_store). */
static void listener_store_name(char *name, size_t size, const char *address) {
        size_t n = strlen("addr-");

        memcpy(name, "addr-", n);
        for (const char *p = address; *p && n < size - 1; p++)
                name[n++] = *p == ':' ? '_' : *p;
        name[n] = 0;
}

/* Hand a socket we bound to systemd's file descriptor store (when the unit has
 * FileDescriptorStoreMax=), so that `systemctl restart` gives it back and connections waiting in its
 * queue survive. FDNAME may not contain ':', so addresses travel as "addr-" + the address with ':'
 * written as '_' (addresses never contain '_'). Without a store this is a no-op. */
static void listener_store(int fd, const char *address) {
        char name[128];

        listener_store_name(name, sizeof(name), address);
        char msg[160];
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        (void) sd_pid_notify_with_fds(0, false, msg, &fd, 1);
}

static void listener_name_decode(char *name) {
        if (strncmp(name, "addr-", 5) != 0)
                return;
        memmove(name, name + 5, strlen(name + 5) + 1);
        for (char *p = name; *p; p++)
                if (*p == '_')
                        *p = ':';
}

int listener_set_ensure(ListenerSet *set, char *const *listen, int backlog, const char **ret_failed) {
        for (char *const *v = listen; v && *v; v++) {
                if (listener_set_find(set, *v))
                        continue;
                if (!listen_value_is_address(*v)) {
                        *ret_failed = *v;
                        return -ENXIO; /* a socket name systemd did not pass */
                }
                int fd = listener_bind_address(*v, backlog, true);
                if (fd < 0) {
                        *ret_failed = *v;
                        return fd;
                }
                int r = listener_set_add(set, fd, *v);
                if (r < 0) {
                        close(fd);
                        *ret_failed = *v;
                        return r;
                }
                listener_store(fd, *v);
        }
        return 0;
}

/* The backlog a listening TCP socket has (TCP_INFO reports sk_max_ack_backlog as tcpi_sacked for
 * one, as `ss -l` shows it in Send-Q); -errno for another kind of socket. */
static int listener_get_backlog(int fd, unsigned *ret) {
        struct tcp_info info = {};
        socklen_t len = sizeof(info);

        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
                return -errno;
        if (info.tcpi_state != TCP_LISTEN)
                return -EINVAL;
        *ret = info.tcpi_sacked;
        return 0;
}

/* What listen(fd, backlog) gives: the kernel silently caps the value at net.core.somaxconn (of the
 * network namespace the socket was made in, ours). */
static unsigned listener_effective_backlog(int backlog) {
        FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
        unsigned max, want = (unsigned) backlog;

        if (f) {
                if (fscanf(f, "%u", &max) == 1 && max < want)
                        want = max;
                fclose(f);
        }
        return want;
}

int listener_set_backlog(ListenerSet *set, int backlog, const char **ret_name, unsigned *ret_backlog) {
        unsigned want = listener_effective_backlog(backlog);
        int n_other = 0;

        for (size_t i = 0; i < set->n; i++) {
                const Listener *l = &set->items[i];
                unsigned have = 0;

                /* An address as its name: bound by mpmd (listener_name_from_fdname). */
                if (listen_value_is_address(l->name)) {
                        if (listen(l->fd, backlog) < 0) {
                                *ret_name = l->name;
                                return -errno;
                        }
                        continue;
                }
                if (listener_get_backlog(l->fd, &have) < 0 || have == want)
                        continue;
                if (n_other++ == 0) {
                        *ret_name = l->name;
                        *ret_backlog = have;
                }
        }
        return n_other;
}

/* The configuration's name for a socket systemd passed. $LISTEN_FDNAMES separates names with ":",
 * and systemd refuses a FileDescriptorName= that contains one, so the per-site sockets arrive as
 * "vhost@NAME" (mpmd-vhost@NAME.socket) and are known as "vhost:NAME", as Listen= spells them, the
 * TLS ones "vhost-https@NAME" (mpmd-vhost-https@NAME.socket) as "vhost-https:NAME".
 * Sockets without a name of their own ("unknown": no FileDescriptorName=, "stored": from the fd
 * store) feed the main server. */
char *listener_name_from_fdname(const char *fdname) {
        if (!fdname || fdname[0] == 0 || strcmp(fdname, "unknown") == 0 || strcmp(fdname, "stored") == 0)
                return strdup("http");
        if (strncmp(fdname, "addr-", 5) == 0 && fdname[5] != 0) {
                /* an address we bound and stored ourselves (listener_store) */
                char *name = strdup(fdname);
                if (name)
                        listener_name_decode(name);
                return name;
        }
        if (strncmp(fdname, "vhost@", 6) == 0 && fdname[6] != 0) {
                char *name = NULL;
                if (asprintf(&name, "vhost:%s", fdname + 6) < 0)
                        return NULL;
                return name;
        }
        if (strncmp(fdname, "vhost-https@", 12) == 0 && fdname[12] != 0) {
                char *name = NULL;
                if (asprintf(&name, "vhost-https:%s", fdname + 12) < 0)
                        return NULL;
                return name;
        }
        return strdup(fdname);
}

int listener_set_inherit(ListenerSet *set, char **ret_error) {
        char **names = NULL;
        int n, r = 0;

        *ret_error = NULL;
        n = sd_listen_fds_with_names(true, &names);
        if (n == -EINVAL) {
                /* What libsystemd says when $LISTEN_FDNAMES does not have one name per socket. */
                *ret_error = strdup("$LISTEN_FDNAMES does not name each of the $LISTEN_FDS sockets");
                return n;
        }
        if (n < 0) {
                if (asprintf(ret_error, "cannot read $LISTEN_FDS: %s", strerror(-n)) < 0)
                        *ret_error = NULL;
                return n;
        }
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                char *name = listener_name_from_fdname(names ? names[i] : NULL);
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                        if (asprintf(ret_error, "socket %d named \"%s\" is not a listening stream socket", fd,
                                     names && names[i] ? names[i] : name) < 0)
                                *ret_error = NULL;
                        free(name);
                        r = -EINVAL;
                        break;
                }
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                r = listener_set_add(set, fd, name);
                free(name);
                if (r < 0)
                        break;
        }
        if (r == -ENOMEM && !*ret_error)
                *ret_error = strdup("out of memory");
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return r < 0 ? r : n;
}

void listener_set_drop_unserved(ListenerSet *set, const Listener *served, size_t n_served) {
        size_t k = 0;

        for (size_t i = 0; i < set->n; i++) {
                Listener *l = &set->items[i];
                bool keep = !listen_value_is_address(l->name);
                for (size_t j = 0; !keep && j < n_served; j++)
                        keep = served[j].fd == l->fd;
                if (keep) {
                        set->items[k++] = *l;
                        continue;
                }
                char name[128], msg[160];
                listener_store_name(name, sizeof(name), l->name);
                snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
                (void) sd_notify(false, msg);
                safe_close(l->fd);
                free(l->name);
        }
        set->n = k;
}

void listener_set_done(ListenerSet *set) {
        for (size_t i = 0; i < set->n; i++) {
                /* Inherited sockets are closed, never shut down: systemd keeps its copy. */
                safe_close(set->items[i].fd);
                free(set->items[i].name);
        }
        free(set->items);
        *set = (ListenerSet) {};
}

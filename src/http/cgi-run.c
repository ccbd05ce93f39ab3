/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/cgi-run.h"
#include "shared/macro.h"
#include "http/path.h"
#include "http/server.h"

#define CGI_READ_BUFFER (16 * 1024)
/* The launcher kills a program this long after CGITimeout: by then the connection has answered 504
 * itself, rather than a 500 for output cut short. */
#define CGI_KILL_MARGIN_USEC (1 * USEC_PER_SEC)

struct CgiRun {
        const HttpCgiLauncher *launcher;
        /* While the launcher's queue is full: the request waiting to be sent, what it points to, and
         * a descriptor of the launcher's socket of our own, to wait on for writing. */
        bool sending;
        CgiLaunchRequest req;
        CgiScript script;
        char *env, *filename, *argv[2];
        char client[128];
        int body_fd, out_write, send_fd;
        int reply_fd; /* the launcher's answer is awaited here; -1 once it came */
        int out_fd;   /* the read end of the program's stdout, non-blocking */
        int failed;   /* the status to answer when the program could not be started */
        const char *why;
        CgiExchange *exchange;
        char buf[CGI_READ_BUFFER];
};

void cgi_script_done(CgiScript *s) {
        s->fd = safe_close(s->fd);
        s->dir_fd = safe_close(s->dir_fd);
}

/* The walk of cgi_script_open() and cgi_script_find(): with ret, the script and its directory
 * are opened; without, each component is only looked at (fstatat, no descriptor: a router's or a
 * FastCGI handler's question costs one system call for a script in the directory itself). */
static int script_walk(int alias_dir_fd, const char *rest, size_t rest_len, CgiScript *ret, size_t *ret_name_len) {
        _cleanup_close_ int owned = -1; /* the directory below alias_dir_fd reached so far */
        int dir = alias_dir_fd;
        char path[PATH_MAX] = "/";
        size_t path_len = 1, i = 0;

        while (i < rest_len) {
                _cleanup_close_ int fd = -1;
                char name[NAME_MAX + 1];
                struct stat st;
                size_t j = i;

                while (j < rest_len && rest[j] != '/')
                        j++;
                if (j == i) { /* repeated slash: normalization merges them, but be lenient */
                        i++;
                        continue;
                }
                if (j - i > NAME_MAX || path_len + 1 + (j - i) >= sizeof(path))
                        return -ENAMETOOLONG;
                memcpy(name, rest + i, j - i);
                name[j - i] = 0;
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || memchr(rest + i, 0, j - i))
                        return -EACCES;
                if (path_len > 1)
                        path[path_len++] = '/';
                memcpy(path + path_len, name, j - i + 1);
                path_len += j - i;

                if (ret) {
                        /* O_NOFOLLOW with O_PATH opens a symlink itself instead of following it. */
                        fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        if (fstat(fd, &st) < 0)
                                return -errno;
                } else if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISLNK(st.st_mode)) {
                        fd = safe_close(fd);
                        fd = http_path_open(alias_dir_fd, path, 0, &st);
                        if (fd < 0)
                                return fd == -ELOOP ? -EACCES : fd;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (fd < 0) {
                                /* Looked at only: open it now, refusing what became a symlink since. */
                                fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (fd < 0)
                                        return errno == ELOOP || errno == ENOTDIR ? -EACCES : -errno;
                        }
                        safe_close(owned);
                        dir = owned = TAKE_FD(fd);
                        i = j;
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        return -EACCES;
                if (ret_name_len)
                        *ret_name_len = j;
                if (ret) {
                        int d = owned >= 0 ? TAKE_FD(owned) : fcntl(alias_dir_fd, F_DUPFD_CLOEXEC, 3);
                        if (d < 0)
                                return -errno;
                        *ret = (CgiScript) { .fd = TAKE_FD(fd), .dir_fd = d, .name_len = j };
                }
                return 0;
        }
        return -EISDIR;
}

int cgi_script_open(int alias_dir_fd, const char *rest, size_t rest_len, CgiScript *ret) {
        return script_walk(alias_dir_fd, rest, rest_len, ret, NULL);
}

int cgi_script_find(int alias_dir_fd, const char *rest, size_t rest_len, size_t *ret_name_len) {
        return script_walk(alias_dir_fd, rest, rest_len, NULL, ret_name_len);
}

/* ---- one run ------------------------------------------------------------------------------ */

/* The request is sent (or will never be): what it lent the launcher goes. */
static void run_sent(CgiRun *r) {
        r->sending = false;
        cgi_script_done(&r->script);
        r->env = mfree(r->env);
        r->filename = mfree(r->filename);
        r->body_fd = safe_close(r->body_fd);
        r->out_write = safe_close(r->out_write);
        r->send_fd = safe_close(r->send_fd);
}

CgiRun *cgi_run_free(CgiRun *r) {
        if (!r)
                return NULL;
        run_sent(r);
        safe_close(r->reply_fd);
        safe_close(r->out_fd);
        cgi_exchange_free(r->exchange);
        free(r);
        return NULL;
}

int cgi_run_fd(const CgiRun *r) {
        if (r->sending)
                return r->send_fd;
        return r->reply_fd >= 0 ? r->reply_fd : r->out_fd;
}

bool cgi_run_sending(const CgiRun *r) {
        return r->sending;
}

int cgi_run_failed(const CgiRun *r, const char **ret_why) {
        *ret_why = r->why;
        return r->failed;
}

const CgiExchange *cgi_run_exchange(const CgiRun *r) {
        return r->exchange;
}

int cgi_script_status(int r, const char **ret_why) {
        switch (r) {
        case -ENOENT:
        case -ENOTDIR:
                *ret_why = NULL;
                return 404;
        case -EISDIR:
                *ret_why = "attempt to invoke directory as script";
                return 403;
        case -EACCES:
        case -EPERM:
        case -ELOOP:
                *ret_why = "script not found or unable to stat: permission denied or outside the ScriptAlias directory";
                return 403;
        case -ENAMETOOLONG:
                *ret_why = NULL;
                return 414;
        default:
                *ret_why = "cannot open the script";
                return 500;
        }
}

static int launch_status(int r, const char **ret_why) {
        switch (r) {
        case -EACCES:
                *ret_why = "cannot execute the script: permission denied";
                return 500;
        case -ENOENT:
                *ret_why = "cannot execute the script: its interpreter does not exist";
                return 500;
        case -ENOEXEC:
                *ret_why = "cannot execute the script: exec format error (no #! line?)";
                return 500;
        case -EBUSY:
                *ret_why = "the CGI launcher is busy or draining";
                return 503;
        case -ETIMEDOUT:
                *ret_why = "the CGI launcher's queue stayed full";
                return 503;
        case -EAGAIN:
                *ret_why = "the CGI launcher's queue is full";
                return 503;
        case -ECONNRESET:
                *ret_why = "the CGI launcher is gone";
                return 503;
        case -E2BIG:
                *ret_why = "the request's environment is too large for a CGI program";
                return 500;
        default:
                *ret_why = "cannot start the script";
                return 500;
        }
}

int cgi_run_start(const CgiRunParams *p, CgiRun **ret, const char **ret_why) {
        const HttpRequest *q = p->request;
        const HttpServer *server = q->server;
        const CgiAliasMatch *a = p->alias;
        _cleanup_(cgi_script_done) CgiScript script = CGI_SCRIPT_NULL;
        _cleanup_free_ char *env = NULL, *filename = NULL;
        _cleanup_close_ int out_read = -1, out_write = -1, reply = -1;
        size_t env_len, env_count, dir_len;
        int fds[2], r;

        if (!server->cgi_launcher.start) {
                *ret_why = "this process cannot start CGI programs (no launcher)";
                return 500;
        }
        r = cgi_script_open(p->alias_dir_fd, a->rest, a->rest_len, &script);
        if (r < 0)
                return cgi_script_status(r, ret_why);

        /* SCRIPT_FILENAME: the directory joined with the part of the path that named the script. */
        dir_len = strlen(a->directory);
        while (dir_len > 1 && a->directory[dir_len - 1] == '/')
                dir_len--;
        filename = malloc(dir_len + 1 + script.name_len + 1);
        env = malloc(CGI_ENV_MAX);
        if (!filename || !env) {
                *ret_why = "out of memory";
                return 500;
        }
        memcpy(filename, a->directory, dir_len);
        filename[dir_len] = '/';
        memcpy(filename + dir_len + 1, a->rest, script.name_len);
        filename[dir_len + 1 + script.name_len] = 0;

        size_t script_name_len = (size_t) (a->rest - q->path) + script.name_len;
        CgiEnvParams ep = {
                .request = q,
                .server_software = server->server_header,
                .scheme = "http",
                .remote_addr = p->remote_addr,
                .remote_port = p->remote_port,
                .server_addr = p->server_addr,
                .server_port = p->server_port,
                .script_name = q->path,
                .script_name_len = script_name_len,
                .script_filename = filename,
                .path_info = q->path + script_name_len,
                .path_info_len = q->path_len - script_name_len,
                .has_body = p->body_fd >= 0,
                .content_length = p->body_len,
        };
        if (cgi_env_build(&ep, env, CGI_ENV_MAX, &env_len, &env_count) < 0) {
                *ret_why = "the request's environment is too large for a CGI program";
                return 500;
        }

        if (pipe2(fds, O_CLOEXEC) < 0) {
                *ret_why = "cannot make a pipe for the script's output";
                return 500;
        }
        out_read = fds[0];
        out_write = fds[1];
        /* Only our end: the program's stdout stays blocking, as programs expect. */
        if (fcntl(out_read, F_SETFL, O_NONBLOCK) < 0) {
                *ret_why = "cannot make a pipe for the script's output";
                return 500;
        }

        char *argv[] = { filename, NULL };
        char client[128];
        if (p->remote_addr)
                snprintf(client, sizeof(client), "%s:%u", p->remote_addr, (unsigned) p->remote_port); /* as conn.c */
        CgiLaunchRequest req = {
                .script_fd = script.fd,
                .dir_fd = script.dir_fd,
                .stdin_fd = p->body_fd,
                .stdout_fd = out_write,
                .error_log_fd = p->error_log_fd,
                .site_name = q->site->name,
                .client = p->remote_addr ? client : NULL,
                .argv = argv,
                .env = env,
                .env_len = env_len,
                .env_count = env_count,
                .timeout = q->site->cfg->cgi_timeout + CGI_KILL_MARGIN_USEC,
        };
        CgiRun *run = malloc(sizeof(*run));
        if (!run) {
                *ret_why = "out of memory";
                return 500;
        }
        *run = (CgiRun) { .launcher = &server->cgi_launcher, .script = CGI_SCRIPT_NULL, .body_fd = -1,
                          .out_write = -1, .send_fd = -1, .reply_fd = -1, .out_fd = -1 };
        const HttpRequestHead *h = q->head;
        const char *host = h->has_host ? q->buf + h->host.off : q->site->cfg->server_name;
        CgiExchangeContext ctx = {
                .version_minor = h->version_minor,
                .head_only = h->method == HTTP_METHOD_HEAD,
                .keep_alive = p->keep_alive,
                .date = p->date,
                .server_line = server->server_line,
                .server_line_len = server->server_line_len,
                .scheme = http_request_tls_info(q, &(HttpTlsInfo) {}) ? "https" : "http",
                .host = host ? host : p->server_addr,
                .host_len = h->has_host ? h->host.len : strlen(host ? host : p->server_addr),
                .headers = q->cfg ? &q->cfg->headers : &q->site->cfg->headers,
                .now = (time_t) (q->now / USEC_PER_SEC),
        };
        run->exchange = cgi_exchange_new(&ctx);
        if (!run->exchange) {
                cgi_run_free(run);
                *ret_why = "out of memory";
                return 500;
        }

        reply = server->cgi_launcher.start(server->cgi_launcher.userdata, &req);
        if (reply == -EAGAIN && server->cgi_launcher.wait_fd) {
                /* The launcher's queue is full: the request is kept, with all it lends, and sent
                 * when the socket takes it (cgi_run_pump()); meanwhile the caller waits for our own
                 * descriptor of that socket to be writable. */
                run->send_fd = fcntl(server->cgi_launcher.wait_fd(server->cgi_launcher.userdata), F_DUPFD_CLOEXEC, 3);
                run->body_fd = p->body_fd >= 0 ? fcntl(p->body_fd, F_DUPFD_CLOEXEC, 3) : -1;
                if (run->send_fd < 0 || (p->body_fd >= 0 && run->body_fd < 0)) {
                        cgi_run_free(run);
                        *ret_why = "cannot keep the request for the CGI launcher";
                        return 500;
                }
                run->script = script;
                script = CGI_SCRIPT_NULL;
                run->env = TAKE_PTR(env);
                run->filename = TAKE_PTR(filename);
                run->argv[0] = run->filename;
                run->argv[1] = NULL;
                if (p->remote_addr)
                        memcpy(run->client, client, sizeof(client));
                run->out_write = TAKE_FD(out_write);
                run->req = req;
                run->req.script_fd = run->script.fd;
                run->req.dir_fd = run->script.dir_fd;
                run->req.stdin_fd = run->body_fd;
                run->req.stdout_fd = run->out_write;
                run->req.client = p->remote_addr ? run->client : NULL;
                run->req.argv = run->argv;
                run->req.env = run->env;
                run->sending = true;
        } else if (reply < 0) {
                cgi_run_free(run);
                return launch_status(reply, ret_why);
        } else
                run->reply_fd = TAKE_FD(reply);
        /* The launcher holds the write end now (or the kept request does): ours must go, or its
         * end of output is never seen. */
        out_write = safe_close(out_write);
        run->out_fd = TAKE_FD(out_read);
        *ret = run;
        *ret_why = NULL;
        return 0;
}

int cgi_run_pump(CgiRun *r, CgiOutput *ret) {
        *ret = (CgiOutput) {};
        if (r->failed)
                return -ECANCELED;
        if (r->sending) {
                int k = r->launcher->start(r->launcher->userdata, &r->req);
                if (k == -EAGAIN)
                        return -EAGAIN; /* still full: wait for cgi_run_fd() to be writable */
                run_sent(r);
                if (k < 0) {
                        r->failed = launch_status(k, &r->why);
                        return -ECANCELED;
                }
                r->reply_fd = k;
        }
        if (r->reply_fd >= 0) {
                pid_t pid; /* the program's, which the launcher watches: nothing here needs it */
                int k = r->launcher->finish(r->launcher->userdata, r->reply_fd, &pid);
                if (k == -EAGAIN)
                        return -EAGAIN; /* the launcher has not answered yet: wait on cgi_run_fd() */
                r->reply_fd = safe_close(r->reply_fd);
                if (k < 0) {
                        r->failed = launch_status(k, &r->why);
                        return -ECANCELED;
                }
        }
        for (;;) {
                ssize_t n = read(r->out_fd, r->buf, sizeof(r->buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return -EAGAIN;
                if (n <= 0)
                        /* End of output (an error on a pipe means the same: nothing more comes). */
                        return cgi_exchange_eof(r->exchange, ret);
                int k = cgi_exchange_feed(r->exchange, r->buf, (size_t) n, ret);
                if (k != CGI_EXCHANGE_AGAIN || ret->len > 0)
                        return k;
                /* The head is not complete yet: nothing to send, read on. */
        }
}

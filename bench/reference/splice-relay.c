/*
 * splice-relay: the benchmark's reference relay, the ceiling column beside socat and no relay.
 *
 *     splice-relay LISTEN_PORT BACKEND_PORT
 *
 * Accepts TCP connections on 127.0.0.1:LISTEN_PORT, connects each to 127.0.0.1:BACKEND_PORT,
 * and moves each direction in a blocking thread of its own with splice(2) through a pipe
 * grown to 1 MiB (F_SETPIPE_SZ; the kernel may cap it at fs.pipe-max-size): what a relay can
 * do on this machine when nothing but the kernel touches the bytes. EOF on one side shuts
 * down the other side's writing; the connection is closed when both directions are done.
 *
 * Built by bench/run with `cc -O2 -pthread`. It serves the benchmark and nothing else: no
 * options, no logging beyond a failed start.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_SIZE (1 << 20)
#define THREAD_STACK (64 * 1024)

struct connection;

struct direction {
    int from, to;
    struct connection *connection;
};

struct connection {
    int client, backend;
    int running; /* directions not yet done, under lock */
    pthread_mutex_t lock;
    struct direction ways[2];
};

static void release(struct connection *c) {
    pthread_mutex_lock(&c->lock);
    int last = --c->running == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) {
        close(c->client);
        close(c->backend);
        pthread_mutex_destroy(&c->lock);
        free(c);
    }
}

/* Moves everything from `from` to `to` until EOF, then shuts down `to`'s writing. */
static void *pump(void *arg) {
    struct direction *d = arg;
    int pipe_fds[2];
    int failed = 1;
    if (pipe2(pipe_fds, O_CLOEXEC) == 0) {
        fcntl(pipe_fds[1], F_SETPIPE_SZ, PIPE_SIZE); /* best effort */
        for (;;) {
            ssize_t n = splice(d->from, NULL, pipe_fds[1], NULL, PIPE_SIZE, SPLICE_F_MOVE);
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                failed = 0;
            if (n <= 0)
                break;
            while (n > 0) {
                ssize_t m = splice(pipe_fds[0], NULL, d->to, NULL, (size_t)n, SPLICE_F_MOVE);
                if (m < 0 && errno == EINTR)
                    continue;
                if (m <= 0)
                    goto out;
                n -= m;
            }
        }
    out:
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    if (failed) {
        /* A reset or an error: end the other direction too. */
        shutdown(d->from, SHUT_RDWR);
        shutdown(d->to, SHUT_RDWR);
    } else {
        shutdown(d->to, SHUT_WR);
    }
    release(d->connection);
    return NULL;
}

static int port(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    return (*text && !*end && value > 0 && value < 65536) ? (int)value : -1;
}

static struct sockaddr_in loopback(int port_number) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port_number);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

int main(int argc, char **argv) {
    int listen_port = argc == 3 ? port(argv[1]) : -1;
    int backend_port = argc == 3 ? port(argv[2]) : -1;
    if (listen_port < 0 || backend_port < 0) {
        fprintf(stderr, "usage: splice-relay LISTEN_PORT BACKEND_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in listen_address = loopback(listen_port);
    struct sockaddr_in backend_address = loopback(backend_port);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(listener, (struct sockaddr *)&listen_address, sizeof listen_address) < 0 ||
        listen(listener, 1024) < 0) {
        perror("splice-relay: listening");
        return 1;
    }
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, THREAD_STACK);
    for (;;) {
        int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0)
            continue; /* EINTR, ECONNABORTED, or out of descriptors for a moment */
        int backend = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct connection *c = calloc(1, sizeof *c);
        if (backend < 0 || !c ||
            connect(backend, (struct sockaddr *)&backend_address, sizeof backend_address) < 0) {
            if (backend >= 0)
                close(backend);
            close(client);
            free(c);
            continue;
        }
        c->client = client;
        c->backend = backend;
        c->running = 2;
        pthread_mutex_init(&c->lock, NULL);
        c->ways[0] = (struct direction){client, backend, c};
        c->ways[1] = (struct direction){backend, client, c};
        for (int i = 0; i < 2; i++) {
            pthread_t thread;
            if (pthread_create(&thread, &attributes, pump, &c->ways[i]) != 0) {
                /* No thread for this way: shut both sockets so the other way ends. */
                shutdown(client, SHUT_RDWR);
                shutdown(backend, SHUT_RDWR);
                release(c);
            }
        }
    }
}

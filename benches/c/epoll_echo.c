/* epoll_echo.c — the physical limit for benches/compare.sh: raw TCP and UDP echo in
 * one thread over level-triggered epoll, with nothing between the syscalls. Whatever
 * a read returns is written straight back; only what the kernel does not take is
 * kept, and reading that connection pauses until it is flushed.
 *
 *   cc -O2 -o epoll_echo epoll_echo.c
 *   epoll_echo TCP_PORT UDP_PORT     (127.0.0.1 only; 0 = any free port)
 * prints "tcp PORT" and "udp PORT", then serves until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536
#define BUF (256 * 1024)

struct pending { char *data; size_t len, off; };
static struct pending pend[MAXFD];
static char buf[BUF];

static int listen_on(int type, int port) {
    int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        (type == SOCK_STREAM && listen(fd, 1024) < 0)) { perror("bind/listen"); exit(1); }
    getsockname(fd, (struct sockaddr *)&a, &len);
    printf("%s %d\n", type == SOCK_STREAM ? "tcp" : "udp", ntohs(a.sin_port));
    return fd;
}

static void ctl(int ep, int op, int fd, unsigned events) {
    struct epoll_event ev = { .events = events, .data.fd = fd };
    epoll_ctl(ep, op, fd, &ev);
}

static void drop_conn(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    free(pend[fd].data);
    pend[fd] = (struct pending){ 0 };
    close(fd);
}

/* Writes data; keeps what the kernel did not take. Returns -1 if the peer is gone. */
static int send_all(int ep, int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) return -1;
        if (n < 0) break;
        data += n; len -= n;
    }
    if (len > 0) {
        struct pending *p = &pend[fd];
        p->data = realloc(p->data, p->len - p->off + len);
        memmove(p->data, p->data + p->off, p->len - p->off);
        p->len -= p->off; p->off = 0;
        memcpy(p->data + p->len, data, len);
        p->len += len;
        ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s TCP_PORT UDP_PORT\n", argv[0]); return 2; }
    int tcp = listen_on(SOCK_STREAM, atoi(argv[1])), udp = listen_on(SOCK_DGRAM, atoi(argv[2]));
    fflush(stdout);
    int ep = epoll_create1(0), one = 1;
    ctl(ep, EPOLL_CTL_ADD, tcp, EPOLLIN);
    ctl(ep, EPOLL_CTL_ADD, udp, EPOLLIN);
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == tcp) {
                int c;
                while ((c = accept4(tcp, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN);
                }
            } else if (fd == udp) {
                for (int k = 0; k < 64; k++) {
                    struct sockaddr_storage from;
                    socklen_t flen = sizeof from;
                    ssize_t r = recvfrom(udp, buf, BUF, 0, (struct sockaddr *)&from, &flen);
                    if (r < 0) break;
                    sendto(udp, buf, r, 0, (struct sockaddr *)&from, flen);
                }
            } else if (evs[i].events & EPOLLOUT) {
                struct pending *p = &pend[fd];
                ssize_t w = write(fd, p->data + p->off, p->len - p->off);
                if (w < 0 && errno != EAGAIN && errno != EINTR) { drop_conn(ep, fd); continue; }
                if (w > 0) p->off += w;
                if (p->off == p->len) { p->off = p->len = 0; ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN); }
            } else {
                ssize_t r = read(fd, buf, BUF);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { drop_conn(ep, fd); continue; }
                if (r > 0 && send_all(ep, fd, buf, r) < 0) drop_conn(ep, fd);
            }
        }
    }
}

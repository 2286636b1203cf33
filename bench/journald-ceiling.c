// journald's ingest ceiling for one client (bench/sinks-syslog-journald.mjs): sends N native-protocol
// datagrams with the fields Docker's journald driver sends, as fast as one process can.
//
//   cc -O2 -o journald-ceiling bench/journald-ceiling.c
//   journald-ceiling N CONTAINER_ID_FULL PREFIX IMAGE SOCKET block|spin
//
// block: a connected blocking socket (the kernel parks the sender until journald's queue has room);
// spin: a connected non-blocking socket, send retried at once on EAGAIN/ENOBUFS. MESSAGE is
// PREFIX + the line number, 1..N. Prints {"cpuSeconds":…,"eagain":…} on stdout at the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s N CONTAINER_ID_FULL PREFIX IMAGE SOCKET block|spin\n", argv[0]);
    return 2;
  }
  long n = atol(argv[1]);
  const char *idf = argv[2], *prefix = argv[3], *image = argv[4], *path = argv[5], *mode = argv[6];
  int spin = strcmp(mode, "spin") == 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (spin ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  char tail[1024];
  int tl = snprintf(tail, sizeof tail,
                    "CONTAINER_ID=%.12s\nCONTAINER_ID_FULL=%s\nCONTAINER_NAME=bench-ceiling\nCONTAINER_TAG=%.12s\n"
                    "IMAGE_NAME=%s\nSYSLOG_IDENTIFIER=%.12s\n",
                    idf, idf, idf, image, idf);
  if (tl <= 0 || tl >= (int)sizeof tail) { fprintf(stderr, "fields too long\n"); return 1; }
  char buf[2048];
  long eagain = 0;
  for (long i = 1; i <= n; i++) {
    int l = snprintf(buf, sizeof buf - tl, "PRIORITY=6\nMESSAGE=%s%ld\n", prefix, i);
    if (l <= 0 || l >= (int)(sizeof buf - tl)) { fprintf(stderr, "line too long\n"); return 1; }
    memcpy(buf + l, tail, tl);
    l += tl;
    for (;;) {
      if (send(fd, buf, l, MSG_NOSIGNAL) >= 0) break;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == ENOBUFS) { eagain++; continue; }
      perror("send");
      return 1;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"cpuSeconds\":%.3f,\"eagain\":%ld}\n",
         ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6, eagain);
  return 0;
}

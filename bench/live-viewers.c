/*
 * One load-generator process of the `live` bench, in C: the same viewers and the same checks as
 * bench/live-viewers.ts, at a fraction of its CPU. On this 2-core box the load generator shares the cores
 * with the servers it measures; a Node viewer costs ~25-50 us of CPU per frame received (the event loop,
 * a Buffer and a callback per read), which at 20,000 viewers is a third to a half of a core taken from the
 * relays. Here a frame costs one recv() and a scan of its bytes.
 *
 * Each viewer: a WebSocket (RFC 6455) from its own 127.0.0.x source address, following the server's
 * redirect frames, then reading: every seq of every `events` frame is checked in order (a gap or a repeat
 * is a problem, counted), and the latency from the send time the poster wrote into the text (`t=<ms>`) and
 * from the room's commit (`ts`) is recorded in 0.1 ms buckets, as bench/lib/histogram.ts does.
 *
 * Parent -> child, on stdin, one command per line (bench/lib/c-viewers.ts writes them):
 *   start <seqsPerSlot> <count>        then <count> lines: <user> <token> <party> <id> <host:port> <address>
 *   finish <lastSeq>                   wait (60 s at most) until every viewer has it, then report
 *   bans                               the users that got a `banned` error, and when
 *   exit
 * Child -> parent, on stdout, one JSON object per line: the `ready`, `done` and `bans` messages of
 * bench/live-viewers.ts, the same fields.
 *
 *   cc -O2 -o live-viewers bench/live-viewers.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- Histograms: 0.1 ms buckets up to 60 s, as bench/lib/histogram.ts (its toJSON is what we print). --- */
#define RESOLUTION 10
#define BUCKETS (60000 * RESOLUTION + 1)
typedef struct { uint32_t *buckets; uint64_t count; double sum, max; } Histogram;

static void record(Histogram *h, double ms) {
  double value = ms < 0 ? 0 : ms;
  if (!h->buckets) h->buckets = calloc(BUCKETS, sizeof(uint32_t));
  long index = (long)(value * RESOLUTION + 0.5);
  if (index > BUCKETS - 1) index = BUCKETS - 1;
  h->buckets[index]++;
  h->count++;
  h->sum += value;
  if (value > h->max) h->max = value;
}

/* An empty histogram prints as `null` (a timeline slot with no messages, as bench/live-viewers.ts sends it)
   or, with `empty_as_zero`, as an empty one (the whole run's latency, which the bench adds up). */
static void print_histogram(FILE *out, const Histogram *h, int empty_as_zero) {
  if (!h->buckets && empty_as_zero) { fputs("{\"buckets\":[],\"count\":0,\"sum\":0,\"max\":0}", out); return; }
  if (!h->buckets) { fputs("null", out); return; }
  fputs("{\"buckets\":[", out);
  int first = 1;
  for (long i = 0; i < BUCKETS; i++) {
    if (!h->buckets[i]) continue;
    fprintf(out, "%s[%ld,%u]", first ? "" : ",", i, h->buckets[i]);
    first = 0;
  }
  fprintf(out, "],\"count\":%llu,\"sum\":%.3f,\"max\":%.3f}", (unsigned long long)h->count, h->sum, h->max);
}

#define MAX_SLOTS 4096
static Histogram latency, timeline[MAX_SLOTS], after_commit[MAX_SLOTS];
static int slots_used;
static long seqs_per_slot;
static long long frames;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
}

/* --- Viewers --- */
enum Phase { IDLE, CONNECTING, UPGRADING, OPEN, FAILED, CLOSED };
typedef struct {
  char *user, *token, *party, *id, *host, *address;
  int fd, phase, attempts;
  unsigned generation; /* counts the sockets this viewer left: a frame of a socket left is not read on */
  long last;          /* the last seq seen; -1 before the welcome */
  long problems;
  double retry_at;    /* when a failed join is tried again (full-jitter backoff, as party/protocol/backoff.ts) */
  double last_sent;   /* for the keepalive ping (client/heartbeat.ts, PROTOCOL R12) */
  double banned_at;
  char *in; size_t in_len, in_cap;
  char *msg; size_t msg_len, msg_cap; /* a fragmented message being put together */
  int msg_opcode;
} Viewer;

static Viewer *viewers;
static int viewer_count, joined, failed, joining;
static int epfd;
static char failure[256];

static void set_failure(const char *why) { if (!failure[0]) snprintf(failure, sizeof failure, "%s", why); }

static int connect_viewer(Viewer *v);

static void drop_socket(Viewer *v) {
  if (v->fd >= 0) { epoll_ctl(epfd, EPOLL_CTL_DEL, v->fd, NULL); close(v->fd); }
  v->generation++;
  v->fd = -1;
  v->in_len = 0;
  v->msg_len = 0;
}

/* A join that failed before its welcome: tried again after a backoff, five attempts in all. */
static void join_failed(Viewer *v, const char *why) {
  drop_socket(v);
  if (++v->attempts >= 5) {
    v->phase = FAILED;
    failed++;
    joining--;
    set_failure(why);
    return;
  }
  double ceiling = 250.0 * (1 << (v->attempts - 1));
  if (ceiling > 10000) ceiling = 10000;
  v->retry_at = now_ms() + ceiling * (rand() / (double)RAND_MAX);
  v->phase = IDLE;
}

static void send_all(Viewer *v, const char *bytes, size_t len) {
  while (len > 0) {
    ssize_t n = send(v->fd, bytes, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* a full send buffer on a few bytes of ping: the server has gone; reading will tell */
    bytes += n;
    len -= (size_t)n;
  }
  v->last_sent = now_ms();
}

/* A client's frame: text, masked (RFC 6455 5.3). Only short frames are ever sent (the ping). */
static void send_text(Viewer *v, const char *text) {
  unsigned char frame[140];
  size_t len = strlen(text);
  uint32_t key = (uint32_t)rand();
  frame[0] = 0x81;
  frame[1] = 0x80 | (unsigned char)len;
  memcpy(frame + 2, &key, 4);
  for (size_t i = 0; i < len; i++) frame[6 + i] = (unsigned char)text[i] ^ ((unsigned char *)&key)[i % 4];
  send_all(v, (char *)frame, 6 + len);
}

static const char *find(const char *hay, size_t len, const char *needle) {
  return memmem(hay, len, needle, strlen(needle));
}

/* A JSON number at `s`, for the times in events (`1733380000123.456`): digits by hand, since glibc's strtod
   rounds exactly through arbitrary-precision arithmetic and was a quarter of this process's CPU (perf, 20,000
   viewers); a nanosecond's error in a millisecond figure changes no 0.1 ms bucket. An exponent goes to strtod. */
static double number_at(const char *s, const char *end) {
  const char *start = s;
  int negative = s < end && *s == '-';
  if (negative) s++;
  double value = 0;
  while (s < end && *s >= '0' && *s <= '9') value = value * 10 + (*s++ - '0');
  if (s < end && *s == '.') {
    double scale = 1;
    for (s++; s < end && *s >= '0' && *s <= '9'; s++) value += (*s - '0') * (scale /= 10);
  }
  if (s < end && (*s == 'e' || *s == 'E')) return strtod(start, NULL);
  return negative ? -value : value;
}

/* Whether the bytes at `p` (before `end`) begin with the literal `key` (a macro: the compiler inlines a
   memcmp of a constant length, where a call per quote showed in the profile). */
#define STARTS(p, end, key) ((size_t)((end) - (p)) >= sizeof key - 1 && memcmp((p), key, sizeof key - 1) == 0)

/* One event of a frame, read: its seq in order for this viewer (a gap or a repeat counted, a repeat dropped
   as the client drops it, PROTOCOL R7), its latencies recorded. */
static void on_event(Viewer *v, double at, long seq, const char *sent, const char *ts, const char *end) {
  if (seq <= v->last) return;
  if (seq != v->last + 1) v->problems++;
  v->last = seq;
  if (!sent) return;
  double ms = at - number_at(sent, end);
  record(&latency, ms);
  if (seqs_per_slot <= 0) return;
  long slot = seq / seqs_per_slot;
  if (slot < 0 || slot >= MAX_SLOTS) return;
  if (slot + 1 > slots_used) slots_used = (int)slot + 1;
  record(&timeline[slot], ms);
  if (ts) record(&after_commit[slot], at - number_at(ts, end));
}

/* An `events` frame (bench/lib/events-reader.ts reads it the same way): each event's fields lie between its
   `"seq":` and the next one, since the bench's events carry one seq each. One pass from quote to quote
   (memchr), checking the three keys at each: three memmem scans per event cost twice as much. */
static void on_events(Viewer *v, const char *frame, size_t len) {
#define SEQ "\"seq\":"
#define TS "\"ts\":"
#define SENT "\"text\":\"t="
  double at = now_ms();
  const char *end = frame + len;
  frames++;
  long seq = -1;
  const char *sent = NULL, *ts = NULL;
  for (const char *q = memchr(frame, '"', len); q; q = memchr(q + 1, '"', (size_t)(end - q - 1))) {
    if (STARTS(q, end, SEQ)) {
      if (seq >= 0) on_event(v, at, seq, sent, ts, end);
      seq = strtol(q + sizeof SEQ - 1, NULL, 10);
      sent = ts = NULL;
      q += sizeof SEQ - 2;
    } else if (seq >= 0 && !ts && STARTS(q, end, TS)) {
      ts = q + sizeof TS - 1;
    } else if (seq >= 0 && !sent && STARTS(q, end, SENT)) {
      sent = q + sizeof SENT - 1;
      q += sizeof SENT - 2;
    }
    if (q + 1 >= end) break;
  }
  if (seq >= 0) on_event(v, at, seq, sent, ts, end);
#undef SEQ
#undef TS
#undef SENT
}

/* `"key":"value"` copied out of a small frame (a redirect's party and id). */
static char *string_field(const char *frame, size_t len, const char *key) {
  char needle[64];
  snprintf(needle, sizeof needle, "\"%s\":\"", key);
  const char *p = find(frame, len, needle);
  if (!p) return NULL;
  p += strlen(needle);
  const char *q = memchr(p, '"', (size_t)(frame + len - p));
  return q ? strndup(p, (size_t)(q - p)) : NULL;
}

static void on_text(Viewer *v, const char *frame, size_t len) {
  static const char EVENTS[] = "{\"type\":\"events\",\"events\":[";
  if (len >= sizeof EVENTS - 1 && memcmp(frame, EVENTS, sizeof EVENTS - 1) == 0) { on_events(v, frame, len); return; }
  if (len == 4 && memcmp(frame, "pong", 4) == 0) return;
  if (find(frame, len, "\"type\":\"redirect\"")) {
    char *party = string_field(frame, len, "party"), *id = string_field(frame, len, "id");
    if (!party || !id) { join_failed(v, "a redirect without party or id"); return; }
    free(v->party);
    free(v->id);
    v->party = party;
    v->id = id;
    drop_socket(v);
    if (connect_viewer(v) < 0) join_failed(v, "connect failed");
  } else if (find(frame, len, "\"type\":\"welcome\"")) {
    const char *p = find(frame, len, "\"lastSeq\":");
    if (v->last < 0) { joined++; joining--; }
    v->last = p ? strtol(p + 10, NULL, 10) : 0;
  } else if (find(frame, len, "\"type\":\"error\"") && find(frame, len, "\"code\":\"banned\"")) {
    if (v->banned_at == 0) v->banned_at = now_ms();
  }
}

/* The server closed, or the socket failed: before the welcome a failed join, after it a delivery failure. */
static void on_closed(Viewer *v, const char *why) {
  if (v->phase != OPEN || v->last < 0) { join_failed(v, why); return; }
  v->problems++;
  drop_socket(v);
  v->phase = CLOSED;
}

/* Complete frames in the viewer's buffer; a partial one waits for the next read. */
static void read_frames(Viewer *v) {
  size_t at = 0;
  unsigned generation = v->generation;
  while (v->phase == OPEN && v->in_len - at >= 2) {
    unsigned char *b = (unsigned char *)v->in + at;
    int fin = b[0] & 0x80, opcode = b[0] & 0x0f;
    uint64_t len = b[1] & 0x7f;
    size_t header = 2;
    if (len == 126) { if (v->in_len - at < 4) break; len = ((uint64_t)b[2] << 8) | b[3]; header = 4; }
    else if (len == 127) { if (v->in_len - at < 10) break; len = 0; for (int i = 2; i < 10; i++) len = (len << 8) | b[i]; header = 10; }
    if (v->in_len - at < header + len) break;
    const char *payload = (char *)b + header;
    at += header + len;
    if (opcode == 8) { on_closed(v, "closed by the server"); return; }
    if (opcode == 9 || opcode == 10) continue; /* the server pings no viewer; a pong needs no answer */
    if (opcode != 0) v->msg_opcode = opcode;
    if (!fin || v->msg_len > 0) { /* fragments: put the message together first */
      if (v->msg_len + len > v->msg_cap) { v->msg_cap = (v->msg_len + len) * 2; v->msg = realloc(v->msg, v->msg_cap); }
      memcpy(v->msg + v->msg_len, payload, len);
      v->msg_len += len;
      if (!fin) continue;
      payload = v->msg;
      len = v->msg_len;
      v->msg_len = 0;
    }
    if (v->msg_opcode == 1) on_text(v, payload, len); /* binary frames are awareness states (PROTOCOL R72) */
    if (v->generation != generation) return; /* redirected or failed: the buffer belonged to the socket left */
  }
  if (at > 0) { memmove(v->in, v->in + at, v->in_len - at); v->in_len -= at; }
}

static void on_readable(Viewer *v) {
  for (;;) {
    if (v->in_cap - v->in_len < 65536) { v->in_cap = v->in_len + 131072; v->in = realloc(v->in, v->in_cap); }
    size_t space = v->in_cap - v->in_len;
    ssize_t n = recv(v->fd, v->in + v->in_len, space, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) { on_closed(v, n == 0 ? "connection closed" : strerror(errno)); return; }
    v->in_len += (size_t)n;
    /* A read that did not fill the buffer took what there was: epoll (level-triggered) reports the socket
       again if more came, so no second recv() just to hear EAGAIN (one syscall per frame, not two). */
    int drained = (size_t)n < space;
    if (v->phase == UPGRADING) {
      char *end = memmem(v->in, v->in_len, "\r\n\r\n", 4);
      if (!end) { if (drained) return; continue; }
      if (v->in_len < 12 || memcmp(v->in, "HTTP/1.1 101", 12) != 0) {
        char why[64];
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)((char *)memchr(v->in, '\r', v->in_len) - v->in), v->in);
        join_failed(v, why);
        return;
      }
      size_t head = (size_t)(end + 4 - v->in);
      memmove(v->in, v->in + head, v->in_len - head);
      v->in_len -= head;
      v->phase = OPEN;
    }
    unsigned generation = v->generation;
    read_frames(v);
    if (v->generation != generation || v->phase != OPEN || drained) return;
  }
}

static void on_writable(Viewer *v) {
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error) { join_failed(v, strerror(error)); return; }
  char request[2048];
  int len = snprintf(request, sizeof request,
                     "GET /parties/%s/%s?token=%s&session=s-%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     v->party, v->id, v->token, v->user, v->host);
  v->phase = UPGRADING;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = v };
  epoll_ctl(epfd, EPOLL_CTL_MOD, v->fd, &ev);
  send_all(v, request, (size_t)len);
}

static int connect_viewer(Viewer *v) {
  char host[128];
  snprintf(host, sizeof host, "%s", v->host);
  char *colon = strrchr(host, ':');
  if (!colon) return -1;
  *colon = 0;
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
  struct sockaddr_in from = { .sin_family = AF_INET };
  inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &to.sin_addr);
  inet_pton(AF_INET, v->address, &from.sin_addr);
  v->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (v->fd < 0) return -1;
  int one = 1;
  setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(v->fd, (struct sockaddr *)&from, sizeof from) < 0) return -1;
  if (connect(v->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) return -1;
  v->phase = CONNECTING;
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = v };
  return epoll_ctl(epfd, EPOLL_CTL_ADD, v->fd, &ev);
}

/* --- The parent's commands --- */
static double joined_cpu_ms;
static long finish_seq = -1;
static double finish_deadline;

static char *next_word(char **line) {
  char *word = strsep(line, " \n");
  return strdup(word ? word : "");
}

static void read_start(long count) {
  viewers = calloc((size_t)count, sizeof(Viewer));
  char *line = NULL;
  size_t cap = 0;
  for (long i = 0; i < count && getline(&line, &cap, stdin) > 0; i++) {
    char *cursor = line;
    Viewer *v = &viewers[viewer_count++];
    v->user = next_word(&cursor);
    v->token = next_word(&cursor);
    v->party = next_word(&cursor);
    v->id = next_word(&cursor);
    v->host = next_word(&cursor);
    v->address = next_word(&cursor);
    v->fd = -1;
    v->last = -1;
    v->phase = IDLE;
  }
  free(line);
}

static void print_done(void) {
  long behind = 0, problems = 0;
  for (int i = 0; i < viewer_count; i++) {
    if (viewers[i].last < finish_seq) behind++;
    problems += viewers[i].problems;
  }
  FILE *out = stdout;
  fputs("{\"type\":\"done\",\"latency\":", out);
  print_histogram(out, &latency, 1);
  fputs(",\"timeline\":[", out);
  for (int s = 0; s < slots_used; s++) { if (s) fputc(',', out); print_histogram(out, &timeline[s], 0); }
  fputs("],\"afterCommit\":[", out);
  for (int s = 0; s < slots_used; s++) { if (s) fputc(',', out); print_histogram(out, &after_commit[s], 0); }
  fprintf(out, "],\"behind\":%ld,\"problems\":%ld,\"bannedAt\":{},\"cpuMs\":%.0f,\"postingCpuMs\":%.0f,\"frames\":%lld}\n",
          behind, problems, cpu_ms(), cpu_ms() - joined_cpu_ms, frames);
  fflush(out);
}

static void print_bans(void) {
  fputs("{\"type\":\"bans\",\"bannedAt\":{", stdout);
  int first = 1;
  for (int i = 0; i < viewer_count; i++) {
    if (viewers[i].banned_at == 0) continue;
    printf("%s\"%s\":%.3f", first ? "" : ",", viewers[i].user, viewers[i].banned_at);
    first = 0;
  }
  fputs("}}\n", stdout);
  fflush(stdout);
}

/* One command from the parent (stdin is read a line at a time: the parent writes whole lines). */
static int on_command(void) {
  char *line = NULL;
  size_t cap = 0;
  if (getline(&line, &cap, stdin) <= 0) return -1;
  long a = 0, b = 0;
  if (sscanf(line, "start %ld %ld", &a, &b) == 2) {
    seqs_per_slot = a;
    read_start(b);
  } else if (sscanf(line, "finish %ld", &a) == 1) {
    finish_seq = a;
    finish_deadline = now_ms() + 60000;
  } else if (strncmp(line, "bans", 4) == 0) {
    print_bans();
  } else if (strncmp(line, "exit", 4) == 0) {
    free(line);
    return -1;
  }
  free(line);
  return 0;
}

int main(void) {
  srand((unsigned)getpid());
  setvbuf(stdin, NULL, _IONBF, 0); /* stdin is watched by epoll: no bytes may hide in stdio's buffer */
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event in = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &in);
  int started = 0, ready_sent = 0, next = 0;
  double next_keepalive = now_ms() + 10000, next_finish_check = 0;
  struct epoll_event events[512];
  for (;;) {
    /* Joins: at most 100 in flight, as bench/live-viewers.ts joins in batches of 100. */
    double t = now_ms();
    for (int i = 0; !ready_sent && i < viewer_count; i++) {
      Viewer *v = &viewers[i];
      if (v->phase == IDLE && v->attempts > 0 && v->retry_at <= t && connect_viewer(v) < 0) join_failed(v, "connect failed");
    }
    while (next < viewer_count && joining < 100) {
      Viewer *v = &viewers[next++];
      joining++;
      started = 1;
      if (connect_viewer(v) < 0) join_failed(v, "connect failed");
    }
    if (started && !ready_sent && joined + failed == viewer_count) {
      joined_cpu_ms = cpu_ms();
      printf("{\"type\":\"ready\",\"joined\":%d,\"failed\":%d,\"errors\":{%s%s%s}}\n", joined, failed,
             failed ? "\"" : "", failed ? failure : "", failed ? "\":1" : "");
      fflush(stdout);
      ready_sent = 1;
    }
    if (finish_seq >= 0 && t >= next_finish_check) { /* a look at every viewer, ten times a second, not per wake-up */
      next_finish_check = t + 100;
      int all = 1;
      /* A viewer that failed to join or lost its socket gets nothing more: counted behind, not waited for. */
      for (int i = 0; i < viewer_count && all; i++) all = viewers[i].last >= finish_seq || viewers[i].phase == FAILED || viewers[i].phase == CLOSED;
      if (all || now_ms() > finish_deadline) { print_done(); finish_seq = -1; }
    }
    if (t >= next_keepalive) { /* a reader that sends nothing pings once every 30 s (PROTOCOL R80) */
      for (int i = 0; i < viewer_count; i++)
        if (viewers[i].phase == OPEN && viewers[i].last >= 0 && t - viewers[i].last_sent >= 30000) send_text(&viewers[i], "ping");
      next_keepalive = t + 10000;
    }
    int n = epoll_wait(epfd, events, 512, 100);
    for (int i = 0; i < n; i++) {
      Viewer *v = events[i].data.ptr;
      if (!v) { if (on_command() < 0) return 0; continue; }
      if (v->fd < 0) continue;
      if (v->phase == CONNECTING) { if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(v); }
      else on_readable(v);
    }
  }
}

/*
 * sluice's spawner: starts the commands of `sluice run` and reports how each ended.
 *
 * Why it exists: a child started by forking Node copies the page tables of a ~100 MB process only
 * to throw them away at exec, and a launcher shell costs a fork of its own and reads each job a
 * byte at a time. This small process starts every child with posix_spawn (a vfork: nothing is
 * copied), each the leader of a process group of its own with its output in files, and reports
 * each end with wait4, which tells an exit code from a signal exactly and gives the child's peak
 * memory and CPU time. One spawner serves every child of a run.
 *
 * It also stands watch: children outlive a sluice that is SIGKILLed (each leads a process group of
 * its own, so a Ctrl-C in the terminal reaches sluice alone). When its stdin ends without a goodbye
 * (sluice died: the OOM killer, a kill -9), it stops the groups of the children still running:
 * SIGTERM, then SIGKILL after the grace. Nothing of a run goes on unaccounted beside the next one.
 *
 * Usage: spawner <protocol> <grace ms>.
 * Protocol (stdin, from sluice): a job is a header line "<id> <nenv> <nargv>\n" followed by
 * 2 + nenv + nargv strings, each ended by a NUL byte: the stdout file, the stderr file (their
 * folder is made if missing), nenv "NAME=value" additions to the environment, and the argv
 * (argv[0] a path: it is not searched). The line "bye\n" is the goodbye: no more jobs, and the
 * children still running are left to end on their own.
 * Replies (stdout), one line each:
 *   "p <id> <pid>"                        the child runs (its pid is its process group id)
 *   "e <id> <errno> <stdout|stderr|exec>" it could not be started, and why
 *   "x <id> <exit code|-1> <signal|0> <peak RSS KiB> <CPU µs>"  it ended
 * At the end of stdin it reads no more, waits for its children (their ends are still reported, if
 * anyone listens), and exits.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROTOCOL "1"

extern char **environ;

static void die(const char *what) {
  fprintf(stderr, "sluice spawner: %s: %s\n", what, strerror(errno));
  exit(70);
}

static void *grow(void *p, size_t size) {
  void *q = realloc(p, size);
  if (!q) die("out of memory");
  return q;
}

/* Replies are gathered and written together after each batch of work. */
static char out[1 << 16];
static size_t out_len;
static int out_broken; /* nobody reads any more: replies are dropped, children still waited for */

static void flush_out(void) {
  size_t done = 0;
  while (done < out_len && !out_broken) {
    ssize_t n = write(STDOUT_FILENO, out + done, out_len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) out_broken = 1;
    else done += (size_t)n;
  }
  out_len = 0;
}

static void reply(const char *format, ...) {
  if (out_len > sizeof out - 128) flush_out();
  va_list args;
  va_start(args, format);
  int n = vsnprintf(out + out_len, sizeof out - out_len, format, args);
  va_end(args);
  if (n > 0) out_len += (size_t)n;
}

/* The children running: pid -> job id. A run holds tens, at most a few hundred. */
struct child {
  pid_t pid;
  unsigned long id;
};
static struct child *children;
static size_t n_children, cap_children;

static volatile sig_atomic_t child_ended;
static void on_sigchld(int sig) {
  (void)sig;
  child_ended = 1;
}

static posix_spawnattr_t attr;
static int devnull;
static size_t n_environ;

/* The environment for one child: ours, with the job's additions replacing or joining it. */
static char **child_env(char **add, size_t n_add) {
  char **env = grow(NULL, (n_environ + n_add + 1) * sizeof *env);
  size_t n = 0;
  for (size_t i = 0; i < n_environ; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t name = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
    int replaced = 0;
    for (size_t j = 0; j < n_add && !replaced; j++) replaced = strncmp(add[j], environ[i], name) == 0;
    if (!replaced) env[n++] = environ[i];
  }
  for (size_t j = 0; j < n_add; j++) env[n++] = add[j];
  env[n] = NULL;
  return env;
}

/* Makes the folders of `path` that are missing, as mkdir -p would; 0, or -1 with errno set. */
static int make_parents(const char *path) {
  char *copy = strdup(path);
  if (!copy) die("out of memory");
  int result = 0;
  for (char *slash = strchr(copy + 1, '/'); slash && result == 0; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(copy, 0777) != 0 && errno != EEXIST) result = -1;
    *slash = '/';
  }
  int saved = errno;
  free(copy);
  errno = saved;
  return result;
}

static int open_output(const char *file) {
  int fd;
  for (int tries = 0; tries < 2; tries++) {
    do fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0 || errno != ENOENT || make_parents(file) != 0) break;
  }
  return fd;
}

static void start(unsigned long id, char **fields, size_t n_env, size_t n_argv) {
  int fd_out = open_output(fields[0]);
  if (fd_out < 0) {
    reply("e %lu %d stdout\n", id, errno);
    return;
  }
  int fd_err = open_output(fields[1]);
  if (fd_err < 0) {
    reply("e %lu %d stderr\n", id, errno);
    close(fd_out);
    return;
  }
  char **env = child_env(fields + 2, n_env);
  /* argv[0] is a slot before the command's own words: a script without a #! line is run by
   * /bin/sh, as execvp (and so Node's spawn, and a shell) would run it. */
  char **argv = grow(NULL, (n_argv + 2) * sizeof *argv);
  memcpy(argv + 1, fields + 2 + n_env, n_argv * sizeof *argv);
  argv[n_argv + 1] = NULL;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, devnull, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd_out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd_err, STDERR_FILENO);
  pid_t pid;
  int error = posix_spawn(&pid, argv[1], &actions, &attr, argv + 1, env);
  if (error == ENOEXEC) {
    argv[0] = "/bin/sh";
    error = posix_spawn(&pid, argv[0], &actions, &attr, argv, env);
  }
  posix_spawn_file_actions_destroy(&actions);
  close(fd_out);
  close(fd_err);
  free(argv);
  free(env);
  if (error) {
    reply("e %lu %d exec\n", id, error);
    return;
  }
  if (n_children == cap_children) {
    cap_children = cap_children ? cap_children * 2 : 64;
    children = grow(children, cap_children * sizeof *children);
  }
  children[n_children++] = (struct child){pid, id};
  reply("p %lu %ld\n", id, (long)pid);
}

static void reap(void) {
  for (;;) {
    int status;
    struct rusage usage;
    pid_t pid = wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) return; /* 0: none has ended; -1: none is left (ECHILD) */
    for (size_t i = 0; i < n_children; i++) {
      if (children[i].pid != pid) continue;
      long cpu_us = (long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000L +
                    (long)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
      reply("x %lu %d %d %ld %ld\n", children[i].id, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0, (long)usage.ru_maxrss, cpu_us);
      children[i] = children[--n_children];
      break;
    }
  }
}

static int said_goodbye;

/* Since sluice died: the process groups still running, stopped with SIGTERM, SIGKILL after the grace. */
static pid_t *orphaned;
static size_t n_orphaned;

static void stop_orphans(int sig) {
  for (size_t i = 0; i < n_orphaned; i++) kill(-orphaned[i], sig);
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Input not yet acted on. */
static char *in;
static size_t in_len, in_cap;

/* Starts every complete job at the front of `in` (up to a goodbye); 0, or -1 when the input is malformed. */
static int start_jobs(void) {
  size_t at = 0;
  char **fields = NULL;
  size_t cap_fields = 0;
  int result = 0;
  for (;;) {
    char *line = in + at;
    char *newline = memchr(line, '\n', in_len - at);
    if (!newline) break;
    unsigned long id;
    size_t n_env, n_argv;
    *newline = '\0';
    if (strcmp(line, "bye") == 0) {
      said_goodbye = 1;
      at = (size_t)(newline + 1 - in);
      break;
    }
    if (sscanf(line, "%lu %zu %zu", &id, &n_env, &n_argv) != 3 || n_argv == 0) {
      result = -1;
      break;
    }
    *newline = '\n';
    size_t want = 2 + n_env + n_argv;
    if (want > cap_fields) {
      cap_fields = want;
      fields = grow(fields, cap_fields * sizeof *fields);
    }
    size_t p = (size_t)(newline + 1 - in);
    size_t got = 0;
    while (got < want && p < in_len) {
      char *end = memchr(in + p, '\0', in_len - p);
      if (!end) break;
      fields[got++] = in + p;
      p = (size_t)(end + 1 - in);
    }
    if (got < want) break; /* the rest of this job has not arrived yet */
    start(id, fields, n_env, n_argv);
    at = p;
  }
  free(fields);
  memmove(in, in + at, in_len - at);
  in_len -= at;
  return result;
}

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], PROTOCOL) != 0) {
    fprintf(stderr, "sluice spawner: usage: spawner " PROTOCOL " <grace ms> (asked for protocol %s)\n",
            argc > 1 ? argv[1] : "none");
    return 64;
  }
  long grace_ms = atol(argv[2]);
  while (environ[n_environ]) n_environ++;
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) die("/dev/null");

  /* SIGCHLD is held back except while waiting for input, so an end is never missed between the
   * check and the wait. A reader that went away must not kill us: its write fails instead. */
  sigset_t chld, waiting;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, &waiting) != 0) die("sigprocmask");
  sigdelset(&waiting, SIGCHLD);
  struct sigaction on_chld = {0};
  on_chld.sa_handler = on_sigchld;
  sigemptyset(&on_chld.sa_mask);
  sigaction(SIGCHLD, &on_chld, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Children start as we were started, not with what we changed: every signal unblocked, SIGPIPE
   * and SIGCHLD at their defaults, each in a new process group of its own. */
  sigset_t none, changed;
  sigemptyset(&none);
  sigemptyset(&changed);
  sigaddset(&changed, SIGPIPE);
  sigaddset(&changed, SIGCHLD);
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef POSIX_SPAWN_USEVFORK
  flags |= POSIX_SPAWN_USEVFORK;
#endif
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &changed);

  int reading = 1;
  long long kill_at = -1; /* when the orphaned groups get SIGKILL; -1: not yet orphaned or done */
  for (;;) {
    if (child_ended) {
      child_ended = 0;
      reap();
    }
    flush_out();
    if (!reading && !said_goodbye && !orphaned) {
      /* The input ended without a goodbye: sluice is gone. */
      orphaned = grow(NULL, (n_children + 1) * sizeof *orphaned);
      for (size_t i = 0; i < n_children; i++) orphaned[n_orphaned++] = children[i].pid;
      stop_orphans(SIGTERM);
      kill_at = now_ms() + grace_ms;
    }
    if (kill_at >= 0 && (n_children == 0 || now_ms() >= kill_at)) {
      /* Their grandchildren too: a group lives while any of its processes does. */
      stop_orphans(SIGKILL);
      kill_at = -1;
    }
    if (!reading && n_children == 0 && kill_at < 0) break;
    fd_set readable;
    FD_ZERO(&readable);
    if (reading) FD_SET(STDIN_FILENO, &readable);
    struct timespec timeout, *wait_for = NULL;
    if (kill_at >= 0) {
      long long left = kill_at - now_ms();
      if (left < 0) left = 0;
      timeout.tv_sec = (time_t)(left / 1000);
      timeout.tv_nsec = (long)(left % 1000) * 1000000L;
      wait_for = &timeout;
    }
    int ready = pselect(reading ? 1 : 0, &readable, NULL, NULL, wait_for, &waiting);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("pselect");
    }
    if (ready == 0 || !FD_ISSET(STDIN_FILENO, &readable)) continue;
    if (in_cap - in_len < 1 << 16) {
      in_cap = in_cap ? in_cap * 2 : 1 << 17;
      in = grow(in, in_cap);
    }
    ssize_t n = read(STDIN_FILENO, in + in_len, in_cap - in_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      reading = 0;
      continue;
    }
    in_len += (size_t)n;
    if (start_jobs() != 0) {
      /* Not sluice speaking: end, and sluice (if it is there) stops the children it sees orphaned. */
      fprintf(stderr, "sluice spawner: a malformed job header\n");
      return 65;
    }
    if (said_goodbye) reading = 0;
  }
  return 0;
}

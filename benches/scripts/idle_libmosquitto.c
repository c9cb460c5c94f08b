/* Idle libmosquitto connections in one process and one thread, for the e2e tool
 * (benches/src/bin/e2e): opens N connections (keep alive 60 s), runs mosquitto_loop on
 * each until every CONNACK came, waits 1 s doing the same, then prints
 * "idle rss_kib=.. threads=.. connected=.." (growth over the process before the first
 * connection), as the Rust workers do.
 *
 *   cc -O2 -o idle_libmosquitto idle_libmosquitto.c -lmosquitto
 *   ./idle_libmosquitto PORT N
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int connected;

static void on_connect(struct mosquitto *m, void *arg, int rc) {
    (void)m; (void)arg;
    if (rc == 0) connected++;
}

static long status_field(const char *name) {
    char line[256];
    long value = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, strlen(name)) == 0) value = atol(line + strlen(name));
    }
    fclose(f);
    return value;
}

static void loop_all(struct mosquitto **m, int n) {
    for (int i = 0; i < n; i++) mosquitto_loop(m[i], 0, 1);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s PORT N\n", argv[0]); return 2; }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    mosquitto_lib_init();
    struct mosquitto **m = calloc((size_t)n, sizeof *m);
    long rss0 = status_field("VmRSS:"), threads0 = status_field("Threads:");
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "e2e-libmosquitto-%d-%d", (int)getpid(), i);
        m[i] = mosquitto_new(id, true, NULL);
        if (!m[i]) { fprintf(stderr, "mosquitto_new failed\n"); return 1; }
        mosquitto_connect_callback_set(m[i], on_connect);
        if (mosquitto_connect(m[i], "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "connect %d failed\n", i); return 1;
        }
        /* One connection at a time, as the Rust workers open them. */
        for (int tries = 0; connected <= i && tries < 10000; tries++) mosquitto_loop(m[i], 1, 1);
    }
    time_t end = time(NULL) + 1;
    while (time(NULL) <= end) { loop_all(m, n); usleep(10000); }
    printf("idle rss_kib=%ld threads=%ld connected=%d\n",
           status_field("VmRSS:") - rss0, status_field("Threads:") - threads0, connected);
    fflush(stdout);
    for (int i = 0; i < n; i++) mosquitto_destroy(m[i]);
    mosquitto_lib_cleanup();
    return 0;
}

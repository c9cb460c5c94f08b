/*
 * Eclipse Paho C (MQTTAsync, MQTT 5.0) as the anchor of `store_cost`: the same
 * publisher and subscriber runs as mqtt-std's, with no persistence or with Paho's
 * file persistence. `benches/src/bin/store_cost.rs` compiles and drives it:
 *
 *     cc -O2 store_cost.c -o paho_store_cost -lpaho-mqtt3a -lpthread
 *     paho_store_cost pub|sub PORT QOS N PERSIST_DIR|none
 *
 * pub: connects, then publishes N messages of 64 B on "cost" at QOS keeping at most
 *      WINDOW outstanding, and waits until every one has completed (PUBACK/PUBCOMP).
 * sub: connects, subscribes to "cost" at QOS, prints "ready" after the SUBACK, then
 *      counts N messages.
 *
 * Either prints one line "seconds cpu_seconds" for the measured part (pub: first
 * publish to last completion; sub: "ready" to the N-th message). CPU is getrusage
 * (RUSAGE_SELF, user + system), which covers Paho's threads. Errors go to stderr
 * and the exit status is non-zero.
 */
#include <MQTTAsync.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Outstanding publishes (as mqtt-std's publisher run) and Paho's in-flight limit. */
#define WINDOW 100
/* Paho counts queued commands against this even when connected: above WINDOW. */
#define MAX_BUFFERED (2 * WINDOW)
#define PAYLOAD_LEN 64
#define TOPIC "cost"
/* Give up when nothing progressed for this long (seconds). */
#define IDLE_TIMEOUT 10
/* Session Expiry Interval of CONNECT, as mqtt-std's runs. */
#define SESSION_EXPIRY 60

/* Everything the callbacks change, guarded by `lock`; `changed` signals progress. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int failed;
static long connected, subscribed, disconnected, outstanding, completed, received;
static char failure[512];

/* Prints the error and exits non-zero. */
static void die(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fputs("paho_store_cost: ", stderr);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	va_end(args);
	exit(1);
}

/* Records a failure reported on one of Paho's threads; the main thread reports it. */
static void fail(const char *what, const char *message)
{
	pthread_mutex_lock(&lock);
	if (!failed)
		snprintf(failure, sizeof failure, "%s%s%s", what, message ? ": " : "",
			 message ? message : "");
	failed = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

/* Records the failure Paho reported for an operation. */
static void fail_response(const char *what, const MQTTAsync_failureData5 *response)
{
	char text[128];
	if (!response)
		snprintf(text, sizeof text, "%s", what);
	else
		snprintf(text, sizeof text, "%s (reason code 0x%02x, Paho code %d)", what,
			 (unsigned)response->reasonCode, response->code);
	fail(text, response ? response->message : NULL);
}

/* Sets `*flag` and wakes the main thread. */
static void raise_flag(long *flag)
{
	pthread_mutex_lock(&lock);
	*flag = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

/*
 * With `lock` held: waits until `*value` reaches `target` (or, with `below`, drops
 * under it). Dies on a failure, or when `*value` has not moved for IDLE_TIMEOUT.
 */
static void wait_for(const long *value, long target, int below, const char *what)
{
	for (;;) {
		if (failed)
			die("%s", failure);
		if (below ? *value < target : *value >= target)
			return;
		long before = *value;
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += IDLE_TIMEOUT;
		int rc = 0;
		while (rc != ETIMEDOUT && !failed && *value == before)
			rc = pthread_cond_timedwait(&changed, &lock, &deadline);
		if (rc == ETIMEDOUT && *value == before)
			die("%s: no progress in %d s (at %ld of %ld)", what, IDLE_TIMEOUT, *value,
			    target);
	}
}

/* Waits (taking `lock`) until `*flag` is set. */
static void wait_flag(const long *flag, const char *what)
{
	pthread_mutex_lock(&lock);
	wait_for(flag, 1, 0, what);
	pthread_mutex_unlock(&lock);
}

static void on_connected(void *context, MQTTAsync_successData5 *response)
{
	(void)context;
	(void)response;
	raise_flag(&connected);
}

static void on_connect_failed(void *context, MQTTAsync_failureData5 *response)
{
	(void)context;
	fail_response("connect", response);
}

static void on_subscribed(void *context, MQTTAsync_successData5 *response)
{
	(void)context;
	if (response && response->reasonCode >= 0x80) {
		char text[64];
		snprintf(text, sizeof text, "subscribe refused (reason code 0x%02x)",
			 (unsigned)response->reasonCode);
		fail(text, NULL);
	} else
		raise_flag(&subscribed);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData5 *response)
{
	(void)context;
	fail_response("subscribe", response);
}

/* A publish completed: one slot of the window is free. */
static void on_published(void *context, MQTTAsync_successData5 *response)
{
	(void)context;
	(void)response;
	pthread_mutex_lock(&lock);
	outstanding--;
	completed++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void on_publish_failed(void *context, MQTTAsync_failureData5 *response)
{
	(void)context;
	fail_response("publish", response);
}

static void on_disconnected(void *context, MQTTAsync_successData5 *response)
{
	(void)context;
	(void)response;
	raise_flag(&disconnected);
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData5 *response)
{
	(void)context;
	(void)response;
	raise_flag(&disconnected);
}

/* Counts a message (Paho acknowledges it when this returns 1). */
static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *message)
{
	(void)context;
	(void)topic_len;
	MQTTAsync_freeMessage(&message);
	MQTTAsync_free(topic);
	pthread_mutex_lock(&lock);
	received++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	return 1;
}

static void on_connection_lost(void *context, char *cause)
{
	(void)context;
	fail("connection lost", cause);
}

/* Seconds on the monotonic clock. */
static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* This process's CPU (user + system, all threads) in seconds. */
static double cpu_seconds(void)
{
	struct rusage u;
	if (getrusage(RUSAGE_SELF, &u) != 0)
		die("getrusage: %s", strerror(errno));
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* Creates the client (file persistence in `dir`, or none) with the callbacks set. */
static MQTTAsync create(const char *uri, const char *id, const char *dir)
{
	MQTTAsync client;
	MQTTAsync_createOptions options = MQTTAsync_createOptions_initializer5;
	options.maxBufferedMessages = MAX_BUFFERED;
	int none = strcmp(dir, "none") == 0;
	int rc = MQTTAsync_createWithOptions(&client, uri, id,
					     none ? MQTTCLIENT_PERSISTENCE_NONE
						  : MQTTCLIENT_PERSISTENCE_DEFAULT,
					     none ? NULL : (void *)dir, &options);
	if (rc != MQTTASYNC_SUCCESS)
		die("create: %s", MQTTAsync_strerror(rc));
	rc = MQTTAsync_setCallbacks(client, NULL, on_connection_lost, on_message, NULL);
	if (rc != MQTTASYNC_SUCCESS)
		die("set callbacks: %s", MQTTAsync_strerror(rc));
	return client;
}

/* Connects (MQTT 5.0, clean start, session expiry) and waits for the CONNACK. */
static void connect_client(MQTTAsync client)
{
	MQTTProperties properties = MQTTProperties_initializer;
	MQTTProperty expiry;
	expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
	expiry.value.integer4 = SESSION_EXPIRY;
	MQTTProperties_add(&properties, &expiry);
	MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer5;
	options.cleanstart = 1;
	options.keepAliveInterval = 60;
	options.maxInflight = WINDOW;
	options.connectProperties = &properties;
	options.onSuccess5 = on_connected;
	options.onFailure5 = on_connect_failed;
	int rc = MQTTAsync_connect(client, &options);
	if (rc != MQTTASYNC_SUCCESS)
		die("connect: %s", MQTTAsync_strerror(rc));
	wait_flag(&connected, "connect");
	MQTTProperties_free(&properties);
}

/*
 * Disconnects and waits for it. A subscriber sets its Session Expiry Interval to 0 on
 * the way out, so that the broker queues nothing for it after the run.
 */
static void disconnect_client(MQTTAsync client, int end_session)
{
	MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer5;
	MQTTProperty expiry;
	expiry.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
	expiry.value.integer4 = 0;
	if (end_session)
		MQTTProperties_add(&options.properties, &expiry);
	options.timeout = 1000;
	options.onSuccess5 = on_disconnected;
	options.onFailure5 = on_disconnect_failed;
	int rc = MQTTAsync_disconnect(client, &options);
	if (rc == MQTTASYNC_SUCCESS)
		wait_flag(&disconnected, "disconnect");
	MQTTProperties_free(&options.properties);
}

/* Publishes `n` messages at `qos` with a window of WINDOW, waits for all of them. */
static void publish_all(MQTTAsync client, int qos, long n)
{
	static char payload[PAYLOAD_LEN];
	memset(payload, 'x', sizeof payload);
	MQTTAsync_message message = MQTTAsync_message_initializer;
	message.payload = payload;
	message.payloadlen = PAYLOAD_LEN;
	message.qos = qos;
	message.retained = 0;
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&lock);
		wait_for(&outstanding, WINDOW, 1, "publish window");
		outstanding++;
		pthread_mutex_unlock(&lock);
		MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
		response.onSuccess5 = on_published;
		response.onFailure5 = on_publish_failed;
		int rc = MQTTAsync_sendMessage(client, TOPIC, &message, &response);
		if (rc != MQTTASYNC_SUCCESS)
			die("publish %ld: %s", i, MQTTAsync_strerror(rc));
	}
	pthread_mutex_lock(&lock);
	wait_for(&completed, n, 0, "publish completions");
	pthread_mutex_unlock(&lock);
}

/* Subscribes to TOPIC at `qos` and waits for the SUBACK. */
static void subscribe(MQTTAsync client, int qos)
{
	MQTTAsync_responseOptions response = MQTTAsync_responseOptions_initializer;
	response.onSuccess5 = on_subscribed;
	response.onFailure5 = on_subscribe_failed;
	int rc = MQTTAsync_subscribe(client, TOPIC, qos, &response);
	if (rc != MQTTASYNC_SUCCESS)
		die("subscribe: %s", MQTTAsync_strerror(rc));
	wait_flag(&subscribed, "subscribe");
}

/* Parses a positive decimal argument. */
static long number(const char *text, const char *what)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value <= 0)
		die("bad %s: %s", what, text);
	return value;
}

int main(int argc, char **argv)
{
	if (argc != 6)
		die("usage: %s pub|sub PORT QOS N PERSIST_DIR|none", argv[0]);
	int publisher = strcmp(argv[1], "pub") == 0;
	if (!publisher && strcmp(argv[1], "sub") != 0)
		die("mode must be pub or sub: %s", argv[1]);
	long port = number(argv[2], "port");
	long qos = number(argv[3], "QoS");
	if (qos > 2)
		die("QoS must be 1 or 2: %ld", qos);
	long n = number(argv[4], "message count");

	char uri[64], id[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%ld", port);
	snprintf(id, sizeof id, "paho-cost-%s-%ld", argv[1], (long)getpid());
	MQTTAsync client = create(uri, id, argv[5]);
	connect_client(client);

	double started, cpu;
	if (publisher) {
		started = now_seconds();
		cpu = cpu_seconds();
		publish_all(client, (int)qos, n);
	} else {
		subscribe(client, (int)qos);
		started = now_seconds();
		cpu = cpu_seconds();
		printf("ready\n");
		fflush(stdout);
		pthread_mutex_lock(&lock);
		wait_for(&received, n, 0, "messages");
		pthread_mutex_unlock(&lock);
	}
	double seconds = now_seconds() - started;
	cpu = cpu_seconds() - cpu;
	printf("%.6f %.6f\n", seconds, cpu);
	fflush(stdout);

	disconnect_client(client, !publisher);
	MQTTAsync_destroy(&client);
	return 0;
}

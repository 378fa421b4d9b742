/* The hub's fan-out alone, without HTTP: the CPU cost of one delivery
 * through a shard's dispatch (inbox, topic index, the subscriber's offer) to
 * a sink that only counts, on one loop, with the memory store. Prints ns per
 * delivery for subscribers of one exact topic, of `*`, and of URL patterns
 * bucketed by origin and path (one per subscriber, one of them matching).
 *
 *   hub_dispatch [subscribers] [publishes] [rounds]
 *
 * Each scenario runs `rounds` times; the best round is printed (the least
 * disturbed by other load on the machine), with the median beside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/clock.h"
#include "hub/hub.h"
#include "store/store.h"

#define HUB_URL "https://example.com/.well-known/mercure"

static uint64_t delivered;

static int sink_write_update(void *ctx, qs_update_t *update) {
  (void)ctx;
  (void)update;
  delivered++;
  return 0;
}

static int sink_write_bytes(void *ctx, const char *ptr, size_t len) {
  (void)ctx;
  (void)ptr;
  (void)len;
  return 0;
}

static size_t sink_queued_bytes(void *ctx) {
  (void)ctx;
  return 0;
}

static void sink_close(void *ctx) { *(bool *)ctx = true; }

static const qs_sink_vtable_t counting_sink = {
    .write_update = sink_write_update,
    .write_bytes = sink_write_bytes,
    .queued_bytes = sink_queued_bytes,
    .close = sink_close,
};

static int open_memory(void *arg, qs_store_on_durable_fn on_durable, void *ctx, qs_store_t **out) {
  (void)arg;
  qs_store_retention_t retention = {.max_count = 1000};
  return qs_store_memory_create(&retention, on_durable, ctx, out);
}

static void on_published(void *ctx, qs_update_t *update, int status) {
  (void)update;
  if (status == 0) (*(size_t *)ctx)++;
}

static void on_shard_closed(void *ctx) { *(bool *)ctx = true; }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef enum { EXACT, WILDCARD, URL_BUCKETS } scenario_t;

/* One round: subscribes `subs` subscribers, publishes `publishes` updates
 * and returns the ns per delivery of the dispatch (URL_BUCKETS: one
 * delivery per publish). */
static double run_round(scenario_t scenario, int subs, int publishes) {
  qs_hub_settings_t settings = {.topic_matcher_cache_entries = 100000};
  qs_hub_t *hub = NULL;
  if (qs_hub_create(&settings, open_memory, NULL, &hub) != 0) abort();
  uv_loop_t loop;
  uv_loop_init(&loop);
  qs_hub_shard_t *shard = NULL;
  if (qs_hub_shard_create(hub, &loop, &shard) != 0) abort();
  qs_grants_t *grants = qs_grants_create_empty();
  qs_match_options_t options = {.hub_url = qs_slice_from_cstr(HUB_URL), .max_pattern_bytes = 0};
  qs_subscriber_t **subscribers = calloc((size_t)subs, sizeof *subscribers);
  bool *closed = calloc((size_t)subs, sizeof *closed);
  for (int i = 0; i < subs; i++) {
    char pattern[128];
    qs_match_type_t type = QS_MATCH_EXACT;
    if (scenario == EXACT) {
      snprintf(pattern, sizeof pattern, "https://example.com/books/1");
    } else if (scenario == WILDCARD) {
      snprintf(pattern, sizeof pattern, "*");
    } else {
      type = QS_MATCH_URLPATTERN;
      snprintf(pattern, sizeof pattern, "https://example.com/users/%d/*", i);
    }
    qs_matcher_t *m = NULL;
    const char *reason = NULL;
    if (qs_matcher_create(type, qs_slice_from_cstr(pattern), &options, &m, &reason) != 0) abort();
    qs_hub_subscribe_params_t params = {.matchers = &m, .matcher_count = 1, .grants = grants};
    qs_sink_t sink = {.vtable = &counting_sink, .ctx = &closed[i]};
    if (qs_hub_subscribe(shard, &params, &sink, &subscribers[i]) != 0) abort();
    qs_hub_subscriber_start(subscribers[i]);
  }
  const char *topic =
      scenario == URL_BUCKETS ? "https://example.com/users/7/events" : "https://example.com/books/1";
  qs_slice_t topics[1] = {qs_slice_from_cstr(topic)};
  size_t acked = 0;
  delivered = 0;
  double elapsed = 0;
  for (int p = 0; p < publishes; p++) {
    char id[32];
    snprintf(id, sizeof id, "urn:bench:%d", p);
    qs_update_fields_t fields = {.id = qs_slice_from_cstr(id),
                                 .topics = topics,
                                 .topic_count = 1,
                                 .data = qs_slice_from_cstr("{\"n\":1}")};
    qs_update_t *u = qs_update_create(&fields, qs_clock_wall_ms());
    if (!u || qs_hub_publish(shard, u, on_published, &acked) != 0) abort();
    qs_update_release(u);
    /* The memory store made it durable at once: the poll dispatches it. */
    double start = now_ns();
    qs_hub_shard_poll(shard);
    elapsed += now_ns() - start;
  }
  uint64_t expected = (uint64_t)publishes * (scenario == URL_BUCKETS ? 1 : (uint64_t)subs);
  if (acked != (size_t)publishes || delivered != expected) {
    fprintf(stderr, "acked %zu of %d, delivered %llu of %llu\n", acked, publishes,
            (unsigned long long)delivered, (unsigned long long)expected);
    abort();
  }
  for (int i = 0; i < subs; i++) qs_hub_unsubscribe(subscribers[i]);
  bool shard_closed = false;
  qs_hub_shard_close(shard, on_shard_closed, &shard_closed);
  while (!shard_closed) uv_run(&loop, UV_RUN_NOWAIT);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  qs_hub_destroy(hub);
  qs_grants_release(grants);
  free(subscribers);
  free(closed);
  return elapsed / (double)expected;
}

int main(int argc, char **argv) {
  int subs = argc > 1 ? atoi(argv[1]) : 10000;
  int publishes = argc > 2 ? atoi(argv[2]) : 200;
  int rounds = argc > 3 ? atoi(argv[3]) : 7;
  if (subs <= 0 || publishes <= 0 || rounds <= 0 || rounds > 100) {
    fprintf(stderr, "usage: hub_dispatch [subscribers > 0] [publishes > 0] [rounds 1..100]\n");
    return 2;
  }
  printf("hub_dispatch %d %d %d\n", subs, publishes, rounds);
  static const char *const names[] = {"exact topic: delivery", "*: delivery", "URL patterns: publish"};
  for (int s = EXACT; s <= URL_BUCKETS; s++) {
    double ns[100];
    for (int r = 0; r < rounds; r++) ns[r] = run_round((scenario_t)s, subs, publishes);
    qsort(ns, (size_t)rounds, sizeof ns[0], compare_double);
    printf("%-24s %8.1f ns (best round), %8.1f ns (median)\n", names[s], ns[0], ns[rounds / 2]);
  }
  return 0;
}

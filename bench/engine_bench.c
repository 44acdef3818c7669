/*
 * engine_bench - durable recharge credits per second through the storage layer, in-process.
 *
 * Many threads each apply payment notifications (each with its own random provider trade
 * number, as real ones have) through app_payment_apply(), the same path lebd's notify routes
 * take; each call returns only once its commit is durable (SQLite WAL, synchronous=FULL).
 * What it measures is group commit: how many such credits one fsync can carry.
 *
 * Environment: LEB_BENCH_DIR (where the database goes; default "."), LEB_BENCH_CREDITS
 * (default 100000), LEB_BENCH_THREADS (default 64).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "app/app.h"
#include "core/cardno.h"
#include "store/store.h"

#define CARDS_COUNT 1000
#define THREADS_MAX 512

struct worker {
    struct app *app;
    struct order_row *orders;
    size_t from, to;
    atomic_size_t *next; /* crediting: the next order to credit, shared by every thread */
    size_t count;
    int failures;
};

static int64_t clock_real(void *context)
{
    (void)context;
    return (int64_t)time(NULL);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long fallback, long min, long max)
{
    const char *text = getenv(name);
    if (text == NULL)
        return fallback;
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (*end != '\0' || value < min || value > max) {
        fprintf(stderr, "engine_bench: %s must be %ld..%ld\n", name, min, max);
        exit(2);
    }
    return value;
}

static void card_number(char out[CARDNO_SIZE], size_t index)
{
    char digits[CARDNO_DIGITS + 1];
    snprintf(digits, sizeof(digits), "898602%012zu", index);
    digits[CARDNO_DIGITS - 1] = cardno_luhn_digit(digits, CARDNO_DIGITS - 1);
    digits[CARDNO_DIGITS] = '\0';
    memcpy(out, digits, CARDNO_SIZE);
}

static void *create_orders(void *arg)
{
    struct worker *worker = arg;
    for (size_t i = worker->from; i < worker->to; i++) {
        char card_no[CARDNO_SIZE];
        card_number(card_no, i % CARDS_COUNT);
        struct order_request request = {.card = card_no,
                                        .face_amount = 5000,
                                        .channel = CHANNEL_WEB,
                                        .method = PAYMENT_SANDBOX,
                                        .caller = CALLER_PUBLIC};
        bool replayed;
        if (app_order_create(worker->app, &worker->orders[i], &replayed, &request, NULL) < 0)
            worker->failures++;
    }
    return NULL;
}

/* Payments arrive roughly in the order their orders were made, whichever thread takes them:
 * each thread takes the next order from one shared counter. */
static void *credit_orders(void *arg)
{
    struct worker *worker = arg;
    for (size_t i = atomic_fetch_add(worker->next, 1); i < worker->count;
         i = atomic_fetch_add(worker->next, 1)) {
        unsigned char random[12];
        char trade_no[2 * sizeof(random) + 1];
        randombytes_buf(random, sizeof(random));
        sodium_bin2hex(trade_no, sizeof(trade_no), random, sizeof(random));
        struct payment_notice notice = {.provider = "sandbox",
                                        .order_no = worker->orders[i].order_no,
                                        .trade_no = trade_no,
                                        .amount = worker->orders[i].quote.pay_amount,
                                        .success = true,
                                        .status_word = "SUCCESS",
                                        .raw = "{}",
                                        .raw_size = 2};
        enum payment_outcome outcome;
        if (app_payment_apply(worker->app, &outcome, &notice) < 0 || outcome != PAYMENT_CREDITED)
            worker->failures++;
    }
    return NULL;
}

static int run_threads(void *(*fn)(void *), struct worker *workers, size_t threads)
{
    pthread_t ids[THREADS_MAX];
    for (size_t t = 0; t < threads; t++)
        LEB_ASSERT(pthread_create(&ids[t], NULL, fn, &workers[t]) == 0);
    int failures = 0;
    for (size_t t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        failures += workers[t].failures;
        workers[t].failures = 0;
    }
    return failures;
}

int main(void)
{
    LEB_ASSERT(sodium_init() >= 0);
    const char *dir = getenv("LEB_BENCH_DIR") ? getenv("LEB_BENCH_DIR") : ".";
    size_t credits = (size_t)env_long("LEB_BENCH_CREDITS", 100000, 1000, 10000000);
    size_t threads = (size_t)env_long("LEB_BENCH_THREADS", 64, 1, THREADS_MAX);
    char path[512], url[600];
    snprintf(path, sizeof(path), "%s/engine.db", dir);
    unlink(path);
    snprintf(url, sizeof(url), "%s-wal", path);
    unlink(url);
    snprintf(url, sizeof(url), "sqlite:%s", path);

    struct store *store = NULL;
    struct store_options options = {.batch_max = 256, .readers = 8};
    if (store_open(&store, url, &options) < 0) {
        fprintf(stderr, "engine_bench: cannot open %s\n", path);
        return 1;
    }
    struct app app = {
        .store = store, .order_ttl_s = 900, .sandbox_enabled = true, .clock = clock_real};
    LEB_ASSERT(app_demo_seed(&app) == 0);
    struct card_request *cards = calloc(CARDS_COUNT, sizeof(*cards));
    char(*card_nos)[CARDNO_SIZE] = calloc(CARDS_COUNT, CARDNO_SIZE);
    char(*msisdns)[MSISDN_SIZE] = calloc(CARDS_COUNT, MSISDN_SIZE);
    LEB_ASSERT(cards && card_nos && msisdns);
    for (size_t i = 0; i < CARDS_COUNT; i++) {
        card_number(card_nos[i], i);
        snprintf(msisdns[i], MSISDN_SIZE, "+86139%08zu", i);
        cards[i] = (struct card_request){card_nos[i], msisdns[i], "KEEP8", CARD_ACTIVE};
    }
    struct batch_error errors[4];
    size_t errors_count = 0;
    LEB_ASSERT(app_cards_create(&app, NULL, cards, CARDS_COUNT, errors, 4, &errors_count) == 0);

    struct order_row *orders = calloc(credits, sizeof(*orders));
    struct worker *workers = calloc(threads, sizeof(*workers));
    LEB_ASSERT(orders && workers);
    atomic_size_t next = 0;
    for (size_t t = 0; t < threads; t++)
        workers[t] = (struct worker){.app = &app,
                                     .orders = orders,
                                     .from = credits * t / threads,
                                     .to = credits * (t + 1) / threads,
                                     .next = &next,
                                     .count = credits};
    fprintf(stderr, "engine_bench: creating %zu orders with %zu threads\n", credits, threads);
    double started = seconds_now();
    int failures = run_threads(create_orders, workers, threads);
    double create_s = seconds_now() - started;
    if (failures > 0) {
        fprintf(stderr, "engine_bench: %d orders failed\n", failures);
        return 1;
    }
    struct store_stats before, after;
    store_backend_of(store)->stats(store, &before);
    fprintf(stderr, "engine_bench: crediting %zu payments with %zu threads\n", credits, threads);
    started = seconds_now();
    failures = run_threads(credit_orders, workers, threads);
    double credit_s = seconds_now() - started;
    store_backend_of(store)->stats(store, &after);
    if (failures > 0) {
        fprintf(stderr, "engine_bench: %d credits failed\n", failures);
        return 1;
    }
    struct ledger_report report;
    LEB_ASSERT(STORE_CALL(store, ledger_check, &report) == 0);
    if (!report.balanced) {
        fprintf(stderr, "engine_bench: the ledger does not balance\n");
        return 1;
    }
    uint64_t commits = after.commits - before.commits;
    printf("engine: orders_per_s=%.0f\n", (double)credits / create_s);
    printf("engine: writer_busy_pct=%.0f commit_pct=%.0f (time inside BEGIN..COMMIT, and inside "
           "COMMIT alone, over wall time)\n",
           100.0 * (double)(after.commit_us_sum - before.commit_us_sum) / 1e6 / credit_s,
           100.0 * (double)(after.durable_us_sum - before.durable_us_sum) / 1e6 / credit_s);
    printf("engine: credits_per_s=%.0f commits=%llu mean_batch=%.1f threads=%zu credits=%zu "
           "ledger=balanced\n",
           (double)credits / credit_s, (unsigned long long)commits,
           commits ? (double)(after.writes - before.writes) / (double)commits : 0.0, threads,
           credits);
    store_close(store);
    free(orders);
    free(workers);
    free(cards);
    free(card_nos);
    free(msisdns);
    return 0;
}

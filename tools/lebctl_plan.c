/*
 * lebctl_plan.c - `lebctl plan create` and `lebctl plan list`: the back office's plans.
 *
 * Amounts on the command line are whole numbers of fen (minor units: 800 is 8.00 yuan), like
 * everywhere in the API, so nothing is ever converted through a decimal; a "8.00" is refused
 * as a usage error rather than guessed at. Only the shape of the command line is checked here
 * (numbers are numbers, the retention model is known); whether a plan makes sense (min <= max,
 * denominations within range...) is lebd's rule and its invalid_plan answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lebctl.h"

#define PLAN_AMOUNT_MAX 9007199254740992LL /* 2^53: what JSON carries exactly everywhere */
#define PLAN_DAYS_MAX 36500LL
#define PLAN_HEADING_SIZE 160
#define PLAN_DENOMINATIONS_INPUT_MAX 64

/* Sets "key" of "body" to the amount in fen given as option "option", if it was given. */
static int plan_amount(json_t *body, const struct lebctl_args *args, const char *option,
                       const char *key, long long max)
{
    const char *text = args_get(args, option);
    long long value;
    if (text == NULL) {
        return 0;
    }
    if (parse_count(&value, text, max) != 0) {
        if (max == PLAN_DAYS_MAX) {
            return usage_error(&lebctl_command_plan_create,
                               "--%s '%s' is not a whole number of days (at most %lld)", option,
                               text, max);
        }
        return usage_error(&lebctl_command_plan_create,
                           "--%s '%s' is not a whole number of fen (800 is 8.00 yuan)", option,
                           text);
    }
    json_object_set_new(body, key, json_integer(value));
    return 0;
}

static int plan_denominations(json_t *body, const char *text)
{
    json_t *list = json_array();
    char copy[1024];
    if (strlen(text) >= sizeof copy) {
        json_decref(list);
        return usage_error(&lebctl_command_plan_create, "--denominations is too long");
    }
    memcpy(copy, text, strlen(text) + 1);
    char *saved = NULL;
    for (char *item = strtok_r(copy, ",", &saved); item != NULL;
         item = strtok_r(NULL, ",", &saved)) {
        while (*item == ' ') {
            item++;
        }
        long long value;
        if (parse_count(&value, item, PLAN_AMOUNT_MAX) != 0 ||
            json_array_size(list) == PLAN_DENOMINATIONS_INPUT_MAX) {
            json_decref(list);
            return usage_error(&lebctl_command_plan_create,
                               "--denominations '%s': a comma-separated list of amounts in fen, "
                               "e.g. 5000,10000,20000",
                               text);
        }
        json_array_append_new(list, json_integer(value));
    }
    json_object_set_new(body, "denominations", list);
    return 0;
}

static int plan_create_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const struct lebctl_command *command = &lebctl_command_plan_create;
    const char *code = args_get(args, "code");
    const char *name = args_get(args, "name");
    const char *currency = args_get(args, "currency");
    const char *model = args_get(args, "model");
    const char *denominations = args_get(args, "denominations");
    if (code == NULL || name == NULL || model == NULL) {
        return usage_error(command, "--code, --name and --model are required");
    }
    if (strcmp(model, "monthly_fee") != 0 && strcmp(model, "validity") != 0) {
        return usage_error(command, "--model '%s': use monthly_fee or validity", model);
    }
    json_t *body = json_object();
    json_object_set_new(body, "code", json_string(code));
    json_object_set_new(body, "name", json_string(name));
    json_object_set_new(body, "currency", json_string(currency != NULL ? currency : "CNY"));
    json_object_set_new(body, "model", json_string(model));
    int result = 0;
    struct {
        const char *option;
        const char *key;
        long long max;
    } const numbers[] = {
        {"monthly-fee", "monthly_fee", PLAN_AMOUNT_MAX},
        {"min", "min_amount", PLAN_AMOUNT_MAX},
        {"max", "max_amount", PLAN_AMOUNT_MAX},
        {"step", "amount_step", PLAN_AMOUNT_MAX},
        {"daily-limit", "daily_limit", PLAN_AMOUNT_MAX},
        {"grace-days", "grace_days", PLAN_DAYS_MAX},
        {"validity-days", "validity_days", PLAN_DAYS_MAX},
        {"validity-step", "validity_step_amount", PLAN_AMOUNT_MAX},
        {"validity-days-max", "validity_days_max", PLAN_DAYS_MAX},
    };
    for (size_t index = 0; result == 0 && index < sizeof numbers / sizeof numbers[0]; index++) {
        result =
            plan_amount(body, args, numbers[index].option, numbers[index].key, numbers[index].max);
    }
    if (result == 0 && denominations != NULL) {
        result = plan_denominations(body, denominations);
    }
    if (result != 0) {
        json_decref(body);
        return result;
    }
    json_object_set_new(body, "recharge_allowed",
                        json_boolean(args_get(args, "no-recharge") == NULL));
    static const char *const keys[] = {
        "code",       "name",       "currency",    "model",       "monthly_fee", "denominations",
        "min_amount", "max_amount", "amount_step", "daily_limit", "grace_days",  NULL,
    };
    char heading[PLAN_HEADING_SIZE];
    snprintf(heading, sizeof heading, "created plan %s", code);
    result = api_show(ctx, "POST", "/api/v1/admin/plans", body, heading, keys, NULL);
    json_decref(body);
    return result;
}

static const struct lebctl_option plan_create_options[] = {
    {"code", "CODE", "the plan's code, [A-Z0-9_-]{1,32} (required)"},
    {"name", "NAME", "the plan's name, shown to cardholders (required)"},
    {"currency", "CUR", "ISO 4217 currency (default CNY)"},
    {"model", "MODEL", "retention model: monthly_fee or validity (required)"},
    {"monthly-fee", "FEN", "the fee taken each month (monthly_fee model)"},
    {"denominations", "LIST", "the amounts offered, comma-separated fen: 5000,10000,20000"},
    {"min", "FEN", "the smallest top-up"},
    {"max", "FEN", "the largest top-up"},
    {"step", "FEN", "a free amount must be a multiple of this (lebd's default 100)"},
    {"daily-limit", "FEN", "most a card may receive per day (0 or absent: no limit)"},
    {"grace-days", "DAYS", "days a suspended card keeps its number before it is recycled"},
    {"validity-days", "DAYS", "days each step of top-up adds (validity model)"},
    {"validity-step", "FEN", "the top-up that adds --validity-days (validity model)"},
    {"validity-days-max", "DAYS", "the most validity a card can hold (validity model)"},
    {"no-recharge", NULL, "the plan's cards cannot be topped up"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_plan_create = {
    .group = "plan",
    .name = "create",
    .synopsis = "--code CODE --name NAME --model MODEL",
    .summary = "create a plan",
    .help = "Every amount is a whole number of fen (minor units): 800 is 8.00 yuan, 5000 is\n"
            "50.00 yuan. Sends POST /api/v1/admin/plans; lebd checks that the plan makes sense\n"
            "(invalid_plan, exit 5) and that its code is new (plan_exists, exit 5). Example:\n"
            "\n"
            "    lebctl plan create --code KEEP8 --name 'Keep 8' --model monthly_fee \\\n"
            "        --monthly-fee 800 --denominations 5000,10000,20000 --min 1000 \\\n"
            "        --max 50000 --grace-days 90\n",
    .options = plan_create_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = plan_create_run,
};

/* A plan's retention in one cell: "monthly 8.00" or "validity 30d/50.00 (max 365d)". */
static char *plan_retention(const json_t *plan)
{
    char text[160];
    const json_t *model = json_object_get(plan, "model");
    const char *model_name = json_is_string(model) ? json_string_value(model) : "?";
    if (strcmp(model_name, "monthly_fee") == 0) {
        char *fee = out_format_value(json_object_get(plan, "monthly_fee"), true, NULL);
        snprintf(text, sizeof text, "monthly %s", fee);
        free(fee);
    } else if (strcmp(model_name, "validity") == 0) {
        char *days = out_format_value(json_object_get(plan, "validity_days"), false, NULL);
        char *step = out_format_value(json_object_get(plan, "validity_step_amount"), true, NULL);
        char *most = out_format_value(json_object_get(plan, "validity_days_max"), false, NULL);
        snprintf(text, sizeof text, "validity %sd/%s (max %sd)", days, step, most);
        free(days);
        free(step);
        free(most);
    } else {
        snprintf(text, sizeof text, "%s", model_name);
    }
    return xstrdup(text);
}

static int plan_list_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    struct http_response response;
    int result = api_call(ctx, &response, "GET", "/api/v1/admin/plans", NULL);
    if (result != 0) {
        http_response_free(&response);
        return result;
    }
    if (ctx->json) {
        out_json_raw(&response);
        http_response_free(&response);
        return LEBCTL_EXIT_OK;
    }
    const json_t *plans = json_object_get(response.json, "plans");
    if (!json_is_array(plans)) {
        out_error("invalid_response", "%s answered without a list of plans", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    static const char *const headers[] = {
        "CODE", "NAME", "CURRENCY",    "RETENTION", "DENOMINATIONS",
        "MIN",  "MAX",  "DAILY LIMIT", "GRACE",     "RECHARGE",
    };
    enum { PLAN_COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(PLAN_COLUMNS, headers);
    for (size_t column = 5; column <= 8; column++) {
        out_table_align_right(table, column);
    }
    size_t index;
    const json_t *plan;
    json_array_foreach(plans, index, plan)
    {
        char *cells[PLAN_COLUMNS];
        char grace[32];
        const json_t *grace_days = json_object_get(plan, "grace_days");
        if (json_is_integer(grace_days)) {
            snprintf(grace, sizeof grace, "%" JSON_INTEGER_FORMAT "d",
                     json_integer_value(grace_days));
        } else {
            snprintf(grace, sizeof grace, "-");
        }
        const json_t *daily_limit = json_object_get(plan, "daily_limit");
        cells[0] = out_format_value(json_object_get(plan, "code"), false, NULL);
        cells[1] = out_format_value(json_object_get(plan, "name"), false, NULL);
        cells[2] = out_format_value(json_object_get(plan, "currency"), false, NULL);
        cells[3] = plan_retention(plan);
        cells[4] = out_format_value(json_object_get(plan, "denominations"), true, NULL);
        cells[5] = out_format_value(json_object_get(plan, "min_amount"), true, NULL);
        cells[6] = out_format_value(json_object_get(plan, "max_amount"), true, NULL);
        cells[7] = json_is_integer(daily_limit) && json_integer_value(daily_limit) == 0
                       ? xstrdup("none")
                       : out_format_value(daily_limit, true, NULL);
        cells[8] = xstrdup(grace);
        cells[9] = out_format_value(json_object_get(plan, "recharge_allowed"), false, NULL);
        out_table_add_row_owned(table, cells);
    }
    if (json_array_size(plans) == 0) {
        printf("no plans yet: create one with 'lebctl plan create'\n");
    } else {
        out_table_print(table, stdout);
    }
    out_table_free(table);
    http_response_free(&response);
    return LEBCTL_EXIT_OK;
}

static const struct lebctl_option plan_list_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_plan_list = {
    .group = "plan",
    .name = "list",
    .synopsis = "",
    .summary = "list the plans",
    .help = "Sends GET /api/v1/admin/plans. Amounts are shown in yuan (major units).\n",
    .options = plan_list_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = plan_list_run,
};

/*
 * lebctl_card.c - `lebctl card show` and `lebctl card create`: one card at a time.
 *
 * A card number is checked here with core/cardno before it is sent, so a mistyped number is
 * refused at once (exit 5) with the reason an operator can act on; what is sent is the
 * normalised form. The operator may see full card numbers, so `card show` prints them.
 * Whether a card exists, what its plan allows and what its balance is are lebd's business.
 */
#include <string.h>

#include "core/cardno.h"
#include "lebctl.h"

/* The order in which a card view is shown; other members follow. */
static const char *const card_view_keys[] = {
    "card_no",     "msisdn",          "plan",       "status", "balance",
    "valid_until", "next_billing_at", "created_at", NULL,
};

/* Shown elsewhere already: the masks repeat the full numbers, the currency is in "balance". */
static const char *const card_view_hidden[] = {
    "card_no_masked",
    "msisdn_masked",
    "currency",
    NULL,
};

const char *card_number_problem(const char *input)
{
    char normalized[CARDNO_SIZE];
    if (cardno_normalize(normalized, input) == 0) {
        return NULL;
    }
    size_t digits = 0;
    bool other = false;
    const unsigned char *cursor = (const unsigned char *)input;
    while (*cursor != '\0') {
        if (*cursor >= '0' && *cursor <= '9') {
            digits++;
            cursor++;
        } else if (cursor[0] == 0xef && cursor[1] == 0xbc && cursor[2] >= 0x90 &&
                   cursor[2] <= 0x99) {
            digits++; /* a full-width digit */
            cursor += 3;
        } else if (*cursor == ' ' || *cursor == '-' || *cursor == '\t') {
            cursor++;
        } else {
            other = true;
            cursor++;
        }
    }
    if (other) {
        return "only digits, spaces and dashes belong in a card number";
    }
    if (digits == 0) {
        return "empty";
    }
    if (digits != CARDNO_DIGITS) {
        return "a card number has 19 digits";
    }
    return "wrong check digit";
}

bool card_status_is_known(const char *status)
{
    return strcmp(status, "active") == 0 || strcmp(status, "suspended") == 0 ||
           strcmp(status, "recycled") == 0;
}

/* ---------------------------------------------------------------------------------------------
 * card show
 * ------------------------------------------------------------------------------------------ */

static int card_show_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *number = args->positionals[0];
    enum number_kind kind;
    char normalized[MSISDN_SIZE + CARDNO_SIZE];
    char escaped[3 * sizeof normalized];
    char path[LEBCTL_PATH_MAX];
    if (number_classify(&kind, normalized, number) != 0) {
        const char *problem = card_number_problem(number);
        if (problem != NULL && strcmp(problem, "wrong check digit") == 0) {
            out_error("invalid_card_number", "card number '%s': %s", number, problem);
        } else {
            out_error("invalid_card_number",
                      "'%s' is neither a card number (19 digits) nor a phone number", number);
        }
        return LEBCTL_EXIT_REFUSED;
    }
    if (http_escape_segment(escaped, sizeof escaped, normalized) != 0) {
        out_error("invalid_card_number", "'%s' is too long", number);
        return LEBCTL_EXIT_REFUSED;
    }
    snprintf(path, sizeof path, "/api/v1/cards/%s/balance", escaped);
    return api_show(ctx, "GET", path, NULL, NULL, card_view_keys, card_view_hidden);
}

static const struct lebctl_option card_show_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_card_show = {
    .group = "card",
    .name = "show",
    .synopsis = "NUMBER",
    .summary = "show a card: number, phone number, plan, status, balance, validity",
    .help = "NUMBER is a card number (19 digits; spaces, dashes and full-width digits are fine)\n"
            "or the card's phone number (+8613800000001, 13800000001). A card number with a\n"
            "wrong check digit is refused before anything is sent (exit 5). Sends\n"
            "GET /api/v1/cards/{number}/balance; an unknown card exits with 4.\n",
    .options = card_show_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = card_show_run,
};

/* ---------------------------------------------------------------------------------------------
 * card create
 * ------------------------------------------------------------------------------------------ */

static int card_create_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const struct lebctl_command *command = &lebctl_command_card_create;
    const char *card_no = args_get(args, "card-no");
    const char *msisdn = args_get(args, "msisdn");
    const char *plan = args_get(args, "plan");
    const char *status = args_get(args, "status");
    char card_normalized[CARDNO_SIZE];
    char msisdn_normalized[MSISDN_SIZE];
    if (card_no == NULL || msisdn == NULL || plan == NULL) {
        return usage_error(command, "--card-no, --msisdn and --plan are required");
    }
    if (plan[0] == '\0') {
        return usage_error(command, "--plan is empty");
    }
    if (status != NULL && !card_status_is_known(status)) {
        return usage_error(command, "--status '%s': use active, suspended or recycled", status);
    }
    if (cardno_normalize(card_normalized, card_no) != 0) {
        out_error("invalid_card_number", "--card-no '%s': %s", card_no,
                  card_number_problem(card_no));
        return LEBCTL_EXIT_REFUSED;
    }
    if (msisdn_normalize(msisdn_normalized, msisdn) != 0) {
        out_error("invalid_phone_number",
                  "--msisdn '%s' is not a phone number (+8613800000001 or 13800000001)", msisdn);
        return LEBCTL_EXIT_REFUSED;
    }
    json_t *body = json_object();
    json_object_set_new(body, "card_no", json_string(card_normalized));
    json_object_set_new(body, "msisdn", json_string(msisdn_normalized));
    json_object_set_new(body, "plan", json_string(plan));
    if (status != NULL) {
        json_object_set_new(body, "status", json_string(status));
    }
    char heading[64];
    snprintf(heading, sizeof heading, "created card %s", card_normalized);
    int result = api_show(ctx, "POST", "/api/v1/admin/cards", body, heading, card_view_keys,
                          card_view_hidden);
    json_decref(body);
    return result;
}

static const struct lebctl_option card_create_options[] = {
    {"card-no", "NUMBER", "the card number: 19 digits, the last a Luhn check digit (required)"},
    {"msisdn", "PHONE", "the card's phone number, E.164 or a Chinese mobile number (required)"},
    {"plan", "CODE", "the code of the card's plan, e.g. KEEP8 (required)"},
    {"status", "STATUS", "active (the default), suspended or recycled"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_card_create = {
    .group = "card",
    .name = "create",
    .synopsis = "--card-no NUMBER --msisdn PHONE --plan CODE",
    .summary = "create one card",
    .help = "Sends POST /api/v1/admin/cards. The card number and phone number are checked and\n"
            "normalised before anything is sent. For many cards, see 'lebctl card import'.\n"
            "A card that exists already is refused (card_exists, exit 5); so is an unknown\n"
            "plan (plan_not_found, exit 5).\n",
    .options = card_create_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = card_create_run,
};

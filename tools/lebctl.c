/*
 * lebctl.c - the entry point of lebctl: the command table, the command line, the help, and
 * the run's context (which server, which login).
 *
 * The command line reads like kubectl's: `lebctl [GLOBAL OPTIONS] GROUP COMMAND [ARGUMENTS]
 * [OPTIONS]`, with global options (--server, --json, --help, --version) accepted before or
 * after the command. Options are long ("--name VALUE" or "--name=VALUE"); "--" ends them.
 * Each command lives in its own file with its help text beside its code; this file only
 * finds the command, checks the shape of its command line, resolves the server (--server,
 * then $LEB_SERVER, then the saved login's server, then the default) and the token, and runs
 * it. A usage error is exit 2 and is reported before anything is sent, and before a missing
 * login (exit 3), which is found when the first request is about to go. The token is attached
 * only to commands that need it, and only when the saved login belongs to the server in use:
 * lebctl must never hand one server's token to another.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "lebctl.h"

/* tools/lebctl_recon.c */

static const struct lebctl_command *const lebctl_commands[] = {
    &lebctl_command_login,         &lebctl_command_logout,         &lebctl_command_card_show,
    &lebctl_command_card_create,   &lebctl_command_card_import,    &lebctl_command_order_show,
    &lebctl_command_order_list,    &lebctl_command_order_resolve,  &lebctl_command_ledger_check,
    &lebctl_command_plan_create,   &lebctl_command_plan_list,      &lebctl_command_outbox_list,
    &lebctl_command_outbox_resend, &lebctl_command_outbox_summary, &lebctl_command_recon_import,
    &lebctl_command_audit_list,    &lebctl_command_recon_show,     NULL,
};

/* The options every command takes, wherever they appear on the command line. */
static const struct lebctl_option lebctl_global_options[] = {
    {"server", "URL",
     "the lebd to talk to (default: $LEB_SERVER, else the saved login's\nserver, "
     "else " LEBCTL_DEFAULT_SERVER ")"},
    {"json", NULL, "print the server's JSON document on stdout, for scripts"},
    {"help", NULL, "show this help (also -h)"},
    {"version", NULL, "show lebctl's version"},
    {NULL, NULL, NULL},
};

struct lebctl_globals {
    const char *server;
    bool json;
    bool help;
    bool version;
};

/* ---------------------------------------------------------------------------------------------
 * Small shared helpers
 * ------------------------------------------------------------------------------------------ */

void *xrealloc(void *pointer, size_t size)
{
    void *grown = realloc(pointer, size == 0 ? 1 : size);
    if (grown == NULL) {
        fputs("lebctl: out of memory\n", stderr);
        abort();
    }
    return grown;
}

char *xstrdup(const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL) {
        fputs("lebctl: out of memory\n", stderr);
        abort();
    }
    return copy;
}

int parse_count(long long *out, const char *text, long long max)
{
    if (text == NULL || text[0] < '0' || text[0] > '9') {
        return -1;
    }
    long long value = 0;
    for (const char *cursor = text; *cursor != '\0'; cursor++) {
        if (*cursor < '0' || *cursor > '9') {
            return -1;
        }
        int digit = *cursor - '0';
        if (value > (max - digit) / 10) {
            return -1;
        }
        value = value * 10 + digit;
    }
    *out = value;
    return 0;
}

const char *args_get(const struct lebctl_args *args, const char *name)
{
    for (size_t index = 0; args->options != NULL && args->options[index].name != NULL; index++) {
        if (strcmp(args->options[index].name, name) == 0) {
            return args->values[index];
        }
    }
    /* Asking for an option the command does not declare is a bug in lebctl. */
    LEB_ASSERT(!"args_get: an undeclared option");
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Help
 * ------------------------------------------------------------------------------------------ */

static void help_command_words(const struct lebctl_command *command, char *out, size_t out_size)
{
    if (command->group != NULL) {
        snprintf(out, out_size, "%s %s", command->group, command->name);
    } else {
        snprintf(out, out_size, "%s", command->name);
    }
}

static void help_options(FILE *stream, const struct lebctl_option *options)
{
    size_t width = 0;
    char left[128];
    for (size_t index = 0; options[index].name != NULL; index++) {
        int length = snprintf(left, sizeof left, "--%s%s%s", options[index].name,
                              options[index].value_name ? " " : "",
                              options[index].value_name ? options[index].value_name : "");
        width = (size_t)length > width ? (size_t)length : width;
    }
    for (size_t index = 0; options[index].name != NULL; index++) {
        snprintf(left, sizeof left, "--%s%s%s", options[index].name,
                 options[index].value_name ? " " : "",
                 options[index].value_name ? options[index].value_name : "");
        fprintf(stream, "  %-*s  ", (int)width, left);
        /* A help text's later lines are indented under its first. */
        for (const char *cursor = options[index].help; *cursor != '\0'; cursor++) {
            fputc(*cursor, stream);
            if (*cursor == '\n') {
                fprintf(stream, "  %-*s  ", (int)width, "");
            }
        }
        fputc('\n', stream);
    }
}

static void help_command_list(FILE *stream, const char *group)
{
    static const char help_words[] = "help [COMMAND]";
    char words[64];
    size_t width = group == NULL ? strlen(help_words) : 0;
    for (size_t index = 0; lebctl_commands[index] != NULL; index++) {
        const struct lebctl_command *command = lebctl_commands[index];
        if (group != NULL && (command->group == NULL || strcmp(command->group, group) != 0)) {
            continue;
        }
        help_command_words(command, words, sizeof words);
        width = strlen(words) > width ? strlen(words) : width;
    }
    for (size_t index = 0; lebctl_commands[index] != NULL; index++) {
        const struct lebctl_command *command = lebctl_commands[index];
        if (group != NULL && (command->group == NULL || strcmp(command->group, group) != 0)) {
            continue;
        }
        help_command_words(command, words, sizeof words);
        fprintf(stream, "  %-*s  %s\n", (int)width, words, command->summary);
    }
    if (group == NULL) {
        fprintf(stream, "  %-*s  %s\n", (int)width, help_words,
                "show the help of a command (or: lebctl COMMAND --help)");
    }
}

static void help_exit_codes(FILE *stream)
{
    fputs("Exit status:\n"
          "  0  success\n"
          "  1  a check failed: 'ledger check' found the ledger not balanced\n"
          "  2  usage error: the command line is wrong (nothing was sent)\n"
          "  3  not logged in, wrong credentials, unauthorized (401) or forbidden (403)\n"
          "  4  not found (404)\n"
          "  5  the input was refused: by the server (another 4xx) or by lebctl's own check\n"
          "     before sending (a bad card number or CSV row)\n"
          "  6  server or network error: 5xx, the server unreachable, an answer not from lebd\n",
          stream);
}

static void help_main(FILE *stream)
{
    fputs("lebctl - the operator's command-line client of lebd, the LEB recharge platform\n"
          "\n"
          "Usage: lebctl [--server URL] [--json] COMMAND [ARGUMENTS] [OPTIONS]\n"
          "\n"
          "Commands:\n",
          stream);
    help_command_list(stream, NULL);
    fputs("\nGlobal options (before or after the command):\n", stream);
    help_options(stream, lebctl_global_options);
    fputs("\n"
          "Amounts are given in fen (minor units: 10000 is 100.00 yuan) and shown in yuan.\n"
          "\n"
          "Environment:\n"
          "  LEB_SERVER       the server when --server is not given\n"
          "  LEB_USERNAME     the user for 'lebctl login' when --username is not given\n"
          "  LEB_PASSWORD     the password for 'lebctl login' (else prompted on a terminal, or\n"
          "                   read as one line from stdin)\n"
          "  LEB_TOKEN        a token to use instead of the saved login\n"
          "  XDG_CONFIG_HOME  the login is saved in $XDG_CONFIG_HOME/lebctl/config.json\n"
          "                   (default ~/.config/lebctl/config.json), mode 0600\n"
          "\n",
          stream);
    help_exit_codes(stream);
}

static void help_group(FILE *stream, const char *group)
{
    fprintf(stream, "Usage: lebctl %s COMMAND [ARGUMENTS] [OPTIONS]\n\nCommands:\n", group);
    help_command_list(stream, group);
    fprintf(stream, "\nRun 'lebctl %s COMMAND --help' for a command's options.\n", group);
}

static void help_for_command(FILE *stream, const struct lebctl_command *command)
{
    char words[64];
    help_command_words(command, words, sizeof words);
    fprintf(stream, "Usage: lebctl %s%s%s%s\n\n%s\n", words, command->synopsis[0] ? " " : "",
            command->synopsis, command->options[0].name != NULL ? " [OPTIONS]" : "",
            command->summary);
    if (command->help != NULL && command->help[0] != '\0') {
        fprintf(stream, "\n%s", command->help);
    }
    if (command->options[0].name != NULL) {
        fputs("\nOptions:\n", stream);
        help_options(stream, command->options);
    }
    fputs("\nGlobal options:\n", stream);
    help_options(stream, lebctl_global_options);
    fputs("\n", stream);
    help_exit_codes(stream);
}

int usage_error(const struct lebctl_command *command, const char *format, ...)
{
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    out_note("%s", message);
    if (command != NULL) {
        char words[64];
        help_command_words(command, words, sizeof words);
        fprintf(stderr, "Usage: lebctl %s%s%s%s\nRun 'lebctl %s --help' for more.\n", words,
                command->synopsis[0] ? " " : "", command->synopsis,
                command->options[0].name != NULL ? " [OPTIONS]" : "", words);
    } else {
        fputs("Run 'lebctl --help' for usage.\n", stderr);
    }
    return LEBCTL_EXIT_USAGE;
}

static void print_version(void)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    printf("lebctl %s (libcurl %s, jansson %s)\n", LEBCTL_VERSION, curl->version, JANSSON_VERSION);
}

/* ---------------------------------------------------------------------------------------------
 * The command line
 * ------------------------------------------------------------------------------------------ */

static const struct lebctl_command *find_command(const char *group, const char *name)
{
    for (size_t index = 0; lebctl_commands[index] != NULL; index++) {
        const struct lebctl_command *command = lebctl_commands[index];
        bool same_group = group == NULL
                              ? command->group == NULL
                              : command->group != NULL && strcmp(command->group, group) == 0;
        if (same_group && strcmp(command->name, name) == 0) {
            return command;
        }
    }
    return NULL;
}

static bool is_group(const char *word)
{
    for (size_t index = 0; lebctl_commands[index] != NULL; index++) {
        if (lebctl_commands[index]->group != NULL &&
            strcmp(lebctl_commands[index]->group, word) == 0) {
            return true;
        }
    }
    return false;
}

/* Finds "--name" (name_length bytes) in "options"; its index, or -1. */
static int find_option(const struct lebctl_option *options, const char *name, size_t name_length)
{
    for (int index = 0; options != NULL && options[index].name != NULL; index++) {
        if (strlen(options[index].name) == name_length &&
            strncmp(options[index].name, name, name_length) == 0) {
            return index;
        }
    }
    return -1;
}

/*
 * Takes the option at argv["*index"]: one of "command"'s (into "args") or a global one (into
 * "globals"). "command" and "args" are NULL before the command word. Advances "*index" past
 * a separate value. 0, or LEBCTL_EXIT_USAGE with the message printed.
 */
static int take_option(const struct lebctl_command *command, struct lebctl_args *args,
                       struct lebctl_globals *globals, int argc, char **argv, int *index)
{
    const char *argument = argv[*index];
    if (strcmp(argument, "-h") == 0) {
        globals->help = true;
        return 0;
    }
    if (strncmp(argument, "--", 2) != 0) {
        return usage_error(command, "unknown option '%s' (options are long: --name)", argument);
    }
    const char *name = argument + 2;
    const char *equals = strchr(name, '=');
    size_t name_length = equals != NULL ? (size_t)(equals - name) : strlen(name);
    const struct lebctl_option *option = NULL;
    int command_index = command != NULL ? find_option(command->options, name, name_length) : -1;
    if (command_index >= 0) {
        option = &command->options[command_index];
    } else {
        int global_index = find_option(lebctl_global_options, name, name_length);
        if (global_index < 0) {
            return usage_error(command, "unknown option '--%.*s'%s", (int)name_length, name,
                               command == NULL ? " (a command's options come after it)" : "");
        }
        option = &lebctl_global_options[global_index];
    }
    const char *value = "";
    if (option->value_name != NULL) {
        if (equals != NULL) {
            value = equals + 1;
        } else if (*index + 1 < argc) {
            value = argv[++*index];
        } else {
            return usage_error(command, "--%s needs a value: --%s %s", option->name, option->name,
                               option->value_name);
        }
    } else if (equals != NULL) {
        return usage_error(command, "--%s takes no value", option->name);
    }
    if (command_index >= 0) {
        if (args->values[command_index] != NULL) {
            return usage_error(command, "--%s is given twice", option->name);
        }
        args->values[command_index] = value;
    } else if (strcmp(option->name, "server") == 0) {
        globals->server = value;
    } else if (strcmp(option->name, "json") == 0) {
        globals->json = true;
    } else if (strcmp(option->name, "help") == 0) {
        globals->help = true;
    } else {
        globals->version = true;
    }
    return 0;
}

/* `lebctl help [GROUP [COMMAND]]`. */
static int run_help(int argc, char **argv)
{
    if (argc == 0) {
        help_main(stdout);
        return LEBCTL_EXIT_OK;
    }
    const struct lebctl_command *command = NULL;
    if (is_group(argv[0])) {
        if (argc == 1) {
            help_group(stdout, argv[0]);
            return LEBCTL_EXIT_OK;
        }
        command = argc == 2 ? find_command(argv[0], argv[1]) : NULL;
    } else if (argc == 1) {
        command = find_command(NULL, argv[0]);
    }
    if (command == NULL) {
        return usage_error(NULL, "no help for '%s%s%s': no such command", argv[0],
                           argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    }
    help_for_command(stdout, command);
    return LEBCTL_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The context: which server, which login
 * ------------------------------------------------------------------------------------------ */

/* Copies "url" into "out" without trailing slashes; -1 unless it is an http(s) URL. */
static int server_normalize(char *out, size_t out_size, const char *url)
{
    size_t length = strlen(url);
    bool http = strncasecmp(url, "http://", 7) == 0 && length > 7;
    bool https = strncasecmp(url, "https://", 8) == 0 && length > 8;
    if (!http && !https) {
        return -1;
    }
    while (length > 0 && url[length - 1] == '/') {
        length--;
    }
    if (length + 1 > out_size) {
        return -1;
    }
    for (size_t index = 0; index < length; index++) {
        /* A URL with a space or a control character is a mistake, not a server. */
        if ((unsigned char)url[index] <= 0x20 || url[index] == 0x7f) {
            return -1;
        }
    }
    memcpy(out, url, length);
    out[length] = '\0';
    return 0;
}

static int context_resolve_server(struct lebctl *ctx, const struct lebctl_globals *globals)
{
    const char *environment = getenv("LEB_SERVER");
    const char *server;
    if (globals->server != NULL) {
        server = globals->server;
        ctx->server_source = "--server";
    } else if (environment != NULL && environment[0] != '\0') {
        server = environment;
        ctx->server_source = "$LEB_SERVER";
    } else if (ctx->have_login) {
        server = ctx->login.server;
        ctx->server_source = "the saved login";
    } else {
        server = LEBCTL_DEFAULT_SERVER;
        ctx->server_source = "the default";
    }
    if (server_normalize(ctx->server, sizeof ctx->server, server) != 0) {
        return usage_error(NULL, "the server '%s' (from %s) is not an http:// or https:// URL",
                           server, ctx->server_source);
    }
    return 0;
}

int lebctl_resolve_token(struct lebctl *ctx)
{
    const char *environment = getenv("LEB_TOKEN");
    if (environment != NULL && environment[0] != '\0') {
        ctx->token = environment;
        return 0;
    }
    char saved[LEBCTL_URL_MAX];
    if (ctx->have_login && server_normalize(saved, sizeof saved, ctx->login.server) == 0 &&
        strcasecmp(saved, ctx->server) == 0) {
        ctx->token = ctx->login.token;
        return 0;
    }
    if (ctx->have_login) {
        out_error("not_logged_in",
                  "not logged in to %s (the saved login is for %s); run 'lebctl login --server "
                  "%s'",
                  ctx->server, ctx->login.server, ctx->server);
    } else {
        out_error("not_logged_in", "not logged in to %s; run 'lebctl login --server %s' first",
                  ctx->server, ctx->server);
    }
    return LEBCTL_EXIT_AUTH;
}

/* Parses the command line after the command words and runs "command". */
static int run_command(const struct lebctl_command *command, struct lebctl_globals *globals,
                       int argc, char **argv, int index)
{
    struct lebctl_args args;
    memset(&args, 0, sizeof args);
    args.options = command->options;
    bool options_done = false;
    for (; index < argc; index++) {
        const char *argument = argv[index];
        if (!options_done && strcmp(argument, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && argument[0] == '-' && argument[1] != '\0') {
            int result = take_option(command, &args, globals, argc, argv, &index);
            if (result != 0) {
                return result;
            }
            continue;
        }
        if (args.positional_count >= command->positionals_max ||
            args.positional_count == LEBCTL_POSITIONALS_MAX) {
            return usage_error(command, "unexpected argument '%s'", argument);
        }
        args.positionals[args.positional_count++] = argument;
    }
    if (globals->help) {
        help_for_command(stdout, command);
        return LEBCTL_EXIT_OK;
    }
    if (globals->version) {
        print_version();
        return LEBCTL_EXIT_OK;
    }
    if (args.positional_count < command->positionals_min) {
        return usage_error(command, "missing argument: %s", command->synopsis);
    }

    struct lebctl ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.json = globals->json;
    ctx.stderr_tty = isatty(STDERR_FILENO) == 1;
    ctx.needs_login = command->needs_login;
    /* An unreadable saved login has been reported; the run goes on as if there were none. */
    ctx.have_login = !command->ignores_saved_login && config_load(&ctx.login) == 0;
    int result = context_resolve_server(&ctx, globals);
    if (result == 0) {
        result = command->run(&ctx, &args);
    }
    http_close(&ctx);
    config_login_clear(&ctx.login);
    return result;
}

static int lebctl_main(int argc, char **argv)
{
    struct lebctl_globals globals;
    memset(&globals, 0, sizeof globals);
    int index = 1;
    /* Global options before the command word. */
    while (index < argc && argv[index][0] == '-' && argv[index][1] != '\0') {
        if (strcmp(argv[index], "--") == 0) {
            index++;
            break;
        }
        int result = take_option(NULL, NULL, &globals, argc, argv, &index);
        if (result != 0) {
            return result;
        }
        index++;
    }
    if (index >= argc) {
        if (globals.version) {
            print_version();
            return LEBCTL_EXIT_OK;
        }
        if (globals.help) {
            help_main(stdout);
            return LEBCTL_EXIT_OK;
        }
        help_main(stderr);
        return LEBCTL_EXIT_USAGE;
    }
    const char *word = argv[index++];
    if (strcmp(word, "help") == 0) {
        return run_help(argc - index, argv + index);
    }
    if (strcmp(word, "version") == 0) {
        print_version();
        return LEBCTL_EXIT_OK;
    }
    const struct lebctl_command *command = NULL;
    if (is_group(word)) {
        if (index >= argc || argv[index][0] == '-') {
            for (int rest = index; rest < argc; rest++) {
                if (strcmp(argv[rest], "--help") == 0 || strcmp(argv[rest], "-h") == 0) {
                    help_group(stdout, word);
                    return LEBCTL_EXIT_OK;
                }
            }
            out_note("'lebctl %s' needs a command", word);
            help_group(stderr, word);
            return LEBCTL_EXIT_USAGE;
        }
        const char *name = argv[index++];
        command = find_command(word, name);
        if (command == NULL) {
            out_note("unknown command 'lebctl %s %s'", word, name);
            help_group(stderr, word);
            return LEBCTL_EXIT_USAGE;
        }
    } else {
        command = find_command(NULL, word);
        if (command == NULL) {
            return usage_error(NULL, "unknown command '%s'", word);
        }
    }
    return run_command(command, &globals, argc, argv, index);
}

int main(int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        out_error("internal", "libcurl could not start");
        return LEBCTL_EXIT_SERVER;
    }
    int result = lebctl_main(argc, argv);
    curl_global_cleanup();
    if (fflush(stdout) != 0 && errno != EPIPE) {
        out_error("internal", "cannot write the output: %s", strerror(errno));
        if (result == 0) {
            result = LEBCTL_EXIT_SERVER;
        }
    }
    return result;
}

/*
 * lebctl_auth.c - `lebctl login` and `lebctl logout`: getting a token and forgetting it.
 *
 * The password comes from $LEB_PASSWORD, else from a prompt with echo off when stdin is a
 * terminal, else as one line from stdin (for scripts: `echo "$pw" | lebctl login`). It is read
 * byte by byte with read(2), so no stdio buffer keeps a copy, and wiped from memory once
 * sent. The terminal's echo is restored even when the operator presses Ctrl-C at the prompt.
 * The token goes to the saved login (lebctl_config.c) and nowhere else: never to stdout,
 * stderr or --json.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lebctl.h"

#define LOGIN_PASSWORD_BYTES_MAX 1024
#define LOGIN_DEFAULT_USERNAME "admin"

/* The terminal's settings while echo is off, for the signal handler to restore. */
static struct termios login_saved_termios;
static volatile sig_atomic_t login_echo_off;

static void login_restore_on_signal(int signal_number)
{
    if (login_echo_off) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &login_saved_termios);
        login_echo_off = 0;
    }
    /* Die of the same signal, as the shell expects. */
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

/* Reads one line from "descriptor" into "out", without its line break. 0, 1 at end of input
 * with nothing read, -1 when the line does not fit or the read fails. */
static int login_read_line(int descriptor, char *out, size_t out_size)
{
    size_t length = 0;
    bool got_any = false;
    for (;;) {
        char byte;
        ssize_t count = read(descriptor, &byte, 1);
        if (count < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (count == 0 || byte == '\n') {
            if (count == 0 && !got_any) {
                out[0] = '\0';
                return 1;
            }
            break;
        }
        got_any = true;
        if (length + 1 >= out_size) {
            explicit_bzero(out, out_size);
            return -1;
        }
        out[length++] = byte;
    }
    if (length > 0 && out[length - 1] == '\r') {
        length--;
    }
    out[length] = '\0';
    return 0;
}

/* Prompts on stderr and reads the password from the terminal on stdin with echo off. */
static int login_prompt_password(char *out, size_t out_size, const char *username,
                                 const char *server)
{
    struct termios quiet;
    if (tcgetattr(STDIN_FILENO, &login_saved_termios) != 0) {
        return login_read_line(STDIN_FILENO, out, out_size);
    }
    struct sigaction action;
    struct sigaction previous[3];
    static const int signals[3] = {SIGINT, SIGTERM, SIGHUP};
    memset(&action, 0, sizeof action);
    action.sa_handler = login_restore_on_signal;
    sigemptyset(&action.sa_mask);
    for (size_t index = 0; index < 3; index++) {
        sigaction(signals[index], &action, &previous[index]);
    }
    fprintf(stderr, "Password for %s at %s: ", username, server);
    fflush(stderr);
    quiet = login_saved_termios;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= (tcflag_t)ICANON;
    login_echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    int result = login_read_line(STDIN_FILENO, out, out_size);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &login_saved_termios);
    login_echo_off = 0;
    for (size_t index = 0; index < 3; index++) {
        sigaction(signals[index], &previous[index], NULL);
    }
    fputc('\n', stderr); /* the Enter the operator typed was not echoed */
    return result;
}

/* The password into "out": $LEB_PASSWORD, a prompt, or a line of stdin. 0 or an exit code. */
static int login_password(char *out, size_t out_size, const char *username, const char *server)
{
    const char *environment = getenv("LEB_PASSWORD");
    if (environment != NULL && environment[0] != '\0') {
        if (strlen(environment) >= out_size) {
            out_error("invalid_request", "$LEB_PASSWORD is longer than %zu bytes", out_size - 1);
            return LEBCTL_EXIT_USAGE;
        }
        memcpy(out, environment, strlen(environment) + 1);
        return 0;
    }
    bool terminal = isatty(STDIN_FILENO) == 1;
    int result = terminal ? login_prompt_password(out, out_size, username, server)
                          : login_read_line(STDIN_FILENO, out, out_size);
    if (result < 0) {
        out_error("invalid_request", "cannot read the password (at most %zu bytes, one line)",
                  out_size - 1);
        return LEBCTL_EXIT_USAGE;
    }
    if (result > 0 || out[0] == '\0') {
        out_error("invalid_request", "no password: type it at the prompt, give it as one line on "
                                     "stdin, or set $LEB_PASSWORD");
        return LEBCTL_EXIT_USAGE;
    }
    return 0;
}

/* Wipes the text of a JSON string in place: jansson frees its copy without wiping. */
static void login_wipe_json_string(json_t *value)
{
    if (json_is_string(value)) {
        explicit_bzero((char *)json_string_value(value), json_string_length(value));
    }
}

static int login_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    int result;
    char password[LOGIN_PASSWORD_BYTES_MAX];
    struct http_response response = {0};
    struct lebctl_login login = {0};
    json_t *body = NULL;
    const char *username = args_get(args, "username");
    if (username == NULL || username[0] == '\0') {
        username = getenv("LEB_USERNAME");
    }
    if (username == NULL || username[0] == '\0') {
        username = LOGIN_DEFAULT_USERNAME;
    }
    result = login_password(password, sizeof password, username, ctx->server);
    if (result != 0) {
        goto out;
    }
    body = json_object();
    json_object_set_new(body, "username", json_string(username));
    json_object_set_new(body, "password", json_string(password));
    explicit_bzero(password, sizeof password);
    result = api_call(ctx, &response, "POST", "/api/v1/auth/login", body);
    if (result != 0) {
        goto out;
    }
    const json_t *token = json_object_get(response.json, "token");
    if (!json_is_string(token) || json_string_length(token) == 0) {
        out_error("invalid_response", "%s accepted the login but sent no token", ctx->server);
        result = LEBCTL_EXIT_SERVER;
        goto out;
    }
    const json_t *role = json_object_get(response.json, "role");
    const json_t *expires_at = json_object_get(response.json, "expires_at");
    login.server = xstrdup(ctx->server);
    login.token = xstrdup(json_string_value(token));
    login.role = json_is_string(role) ? xstrdup(json_string_value(role)) : NULL;
    login.expires_at = json_is_string(expires_at) ? xstrdup(json_string_value(expires_at)) : NULL;
    login.username = xstrdup(username);
    if (config_save(&login) != 0) {
        result = LEBCTL_EXIT_SERVER;
        goto out;
    }
    char path[LEBCTL_PATH_MAX];
    if (config_file_path(path, sizeof path) != 0) {
        path[0] = '\0';
    }
    if (ctx->json) {
        /* Not the server's document: it holds the token, which lebctl never prints. */
        json_t *document = json_object();
        json_object_set_new(document, "server", json_string(login.server));
        json_object_set_new(document, "username", json_string(login.username));
        json_object_set_new(document, "role", login.role ? json_string(login.role) : json_null());
        json_object_set_new(document, "expires_at",
                            login.expires_at ? json_string(login.expires_at) : json_null());
        json_object_set_new(document, "config", json_string(path));
        out_json(document);
        json_decref(document);
    } else {
        printf("logged in to %s as %s", login.server, login.username);
        if (login.role != NULL) {
            printf(" (role %s)", login.role);
        }
        if (login.expires_at != NULL) {
            printf("; the login expires at %s", login.expires_at);
        }
        printf("\n");
    }
out:
    explicit_bzero(password, sizeof password);
    login_wipe_json_string(json_object_get(body, "password"));
    json_decref(body);
    login_wipe_json_string(json_object_get(response.json, "token"));
    if (response.body != NULL) {
        explicit_bzero(response.body, response.body_length);
    }
    http_response_free(&response);
    config_login_clear(&login);
    return result;
}

static const struct lebctl_option login_options[] = {
    {"username", "NAME", "the user to log in as (default: $LEB_USERNAME, else admin)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_login = {
    .group = NULL,
    .name = "login",
    .synopsis = "",
    .summary = "log in to lebd and save the token for the next commands",
    .help = "Sends POST /api/v1/auth/login. The password is taken from $LEB_PASSWORD, else\n"
            "prompted for without echo when stdin is a terminal, else read as one line from\n"
            "stdin. The server (--server, $LEB_SERVER, the saved login's, or the default), the\n"
            "token, the role and the expiry are saved in $XDG_CONFIG_HOME/lebctl/config.json\n"
            "(default ~/.config/lebctl/config.json) with mode 0600. The token is never printed.\n"
            "Wrong credentials exit with 3.\n",
    .options = login_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = false,
    .run = login_run,
};

static int logout_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    bool removed;
    char path[LEBCTL_PATH_MAX];
    if (config_file_path(path, sizeof path) != 0 || config_remove(&removed) != 0) {
        return LEBCTL_EXIT_SERVER;
    }
    if (ctx->json) {
        json_t *document = json_pack("{s:b,s:s}", "logged_out", removed, "config", path);
        out_json(document);
        json_decref(document);
    } else if (removed) {
        printf("logged out: deleted %s\n", path);
    } else {
        printf("not logged in: nothing to forget\n");
    }
    return LEBCTL_EXIT_OK;
}

static const struct lebctl_option logout_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_logout = {
    .group = NULL,
    .name = "logout",
    .synopsis = "",
    .summary = "forget the saved login (delete the config file)",
    .help = "Deletes $XDG_CONFIG_HOME/lebctl/config.json. Nothing is sent to the server.\n",
    .options = logout_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = false,
    .ignores_saved_login = true,
    .run = logout_run,
};

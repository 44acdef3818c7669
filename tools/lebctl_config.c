/*
 * lebctl_config.c - the saved login: $XDG_CONFIG_HOME/lebctl/config.json (by default
 * ~/.config/lebctl/config.json), holding {server, token, role, expires_at, username}.
 *
 * The file holds a bearer token, so it is written with mode 0600 in a directory of mode 0700,
 * created with those modes (never widened afterwards by a chmod race), written to a temporary
 * file and renamed, so a crash never leaves half a login. Loading warns when the file has
 * become readable by others. This module must never print the token.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lebctl.h"

#define CONFIG_DIRECTORY "lebctl"
#define CONFIG_FILE "config.json"
#define CONFIG_BYTES_MAX (64 * 1024)

/* The directory that holds lebctl's directory: $XDG_CONFIG_HOME, or $HOME/.config. */
static int config_base_directory(char *out, size_t out_size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    /* The XDG base directory specification ignores a relative path. */
    if (xdg != NULL && xdg[0] == '/') {
        if ((size_t)snprintf(out, out_size, "%s", xdg) >= out_size) {
            out_error("invalid_config", "$XDG_CONFIG_HOME is too long");
            return -1;
        }
        return 0;
    }
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        const struct passwd *entry = getpwuid(getuid());
        home = entry != NULL ? entry->pw_dir : NULL;
    }
    if (home == NULL || home[0] == '\0') {
        out_error("invalid_config", "neither $XDG_CONFIG_HOME nor $HOME is set: nowhere to keep "
                                    "the login");
        return -1;
    }
    if ((size_t)snprintf(out, out_size, "%s/.config", home) >= out_size) {
        out_error("invalid_config", "$HOME is too long");
        return -1;
    }
    return 0;
}

int config_file_path(char *out, size_t out_size)
{
    char base[LEBCTL_PATH_MAX];
    if (config_base_directory(base, sizeof base) != 0) {
        return -1;
    }
    if ((size_t)snprintf(out, out_size, "%s/" CONFIG_DIRECTORY "/" CONFIG_FILE, base) >= out_size) {
        out_error("invalid_config", "the configuration path is too long");
        return -1;
    }
    return 0;
}

void config_login_clear(struct lebctl_login *login)
{
    if (login == NULL) {
        return;
    }
    if (login->token != NULL) {
        explicit_bzero(login->token, strlen(login->token));
    }
    free(login->server);
    free(login->token);
    free(login->role);
    free(login->expires_at);
    free(login->username);
    memset(login, 0, sizeof *login);
}

/* A copy of the string member "key" of "object", or NULL when it is missing or not a string. */
static char *config_string(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_string(value) ? xstrdup(json_string_value(value)) : NULL;
}

int config_load(struct lebctl_login *out)
{
    int result = -1;
    char path[LEBCTL_PATH_MAX];
    json_t *document = NULL;
    FILE *file = NULL;
    memset(out, 0, sizeof *out);
    if (config_file_path(path, sizeof path) != 0) {
        return -1;
    }
    int descriptor = open(path, O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return 1;
        }
        out_error("invalid_config", "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat status;
    if (fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
        out_error("invalid_config", "%s is not a regular file", path);
        close(descriptor);
        return -1;
    }
    if ((status.st_mode & 077) != 0) {
        out_note("warning: %s holds a login token and is readable by others; run 'chmod 600 %s'",
                 path, path);
    }
    file = fdopen(descriptor, "r");
    if (file == NULL) {
        out_error("invalid_config", "cannot read %s: %s", path, strerror(errno));
        close(descriptor);
        return -1;
    }
    json_error_t error;
    document = json_loadf(file, 0, &error);
    if (document == NULL) {
        out_error("invalid_config",
                  "%s is not JSON (line %d: %s); run 'lebctl logout' then "
                  "'lebctl login'",
                  path, error.line, error.text);
        goto out;
    }
    if (!json_is_object(document)) {
        out_error("invalid_config",
                  "%s is not a lebctl login; run 'lebctl logout' then "
                  "'lebctl login'",
                  path);
        goto out;
    }
    out->server = config_string(document, "server");
    out->token = config_string(document, "token");
    out->role = config_string(document, "role");
    out->expires_at = config_string(document, "expires_at");
    out->username = config_string(document, "username");
    if (out->server == NULL || out->token == NULL) {
        out_error("invalid_config", "%s has no server or no token; run 'lebctl login'", path);
        config_login_clear(out);
        goto out;
    }
    result = 0;
out:
    json_decref(document);
    fclose(file);
    return result;
}

/* Creates "path" and its missing parents with mode 0700, like `mkdir -p -m 700`. */
static int config_make_directories(const char *path)
{
    char prefix[LEBCTL_PATH_MAX];
    size_t length = strlen(path);
    if (length >= sizeof prefix) {
        return -1;
    }
    memcpy(prefix, path, length + 1);
    for (size_t index = 1; index <= length; index++) {
        if (prefix[index] != '/' && prefix[index] != '\0') {
            continue;
        }
        char saved = prefix[index];
        prefix[index] = '\0';
        if (mkdir(prefix, 0700) != 0 && errno != EEXIST) {
            out_error("invalid_config", "cannot create %s: %s", prefix, strerror(errno));
            return -1;
        }
        prefix[index] = saved;
    }
    return 0;
}

static int config_write_all(int descriptor, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(descriptor, data, length);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

int config_save(const struct lebctl_login *login)
{
    int result = -1;
    char base[LEBCTL_PATH_MAX];
    char directory[LEBCTL_PATH_MAX];
    char path[LEBCTL_PATH_MAX];
    char temporary[LEBCTL_PATH_MAX];
    char *text = NULL;
    int descriptor = -1;
    json_t *document = NULL;

    if (config_base_directory(base, sizeof base) != 0) {
        return -1;
    }
    if ((size_t)snprintf(directory, sizeof directory, "%s/" CONFIG_DIRECTORY, base) >=
            sizeof directory ||
        (size_t)snprintf(path, sizeof path, "%s/" CONFIG_FILE, directory) >= sizeof path ||
        (size_t)snprintf(temporary, sizeof temporary, "%s/." CONFIG_FILE ".%ld", directory,
                         (long)getpid()) >= sizeof temporary) {
        out_error("invalid_config", "the configuration path is too long");
        return -1;
    }
    if (config_make_directories(directory) != 0) {
        return -1;
    }
    document = json_object();
    json_object_set_new(document, "server", json_string(login->server));
    json_object_set_new(document, "token", json_string(login->token));
    json_object_set_new(document, "role", login->role ? json_string(login->role) : json_null());
    json_object_set_new(document, "expires_at",
                        login->expires_at ? json_string(login->expires_at) : json_null());
    json_object_set_new(document, "username",
                        login->username ? json_string(login->username) : json_null());
    text = json_dumps(document, JSON_INDENT(2));
    if (text == NULL) {
        out_error("internal", "could not encode the login");
        goto out;
    }
    unlink(temporary);
    descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (descriptor < 0) {
        out_error("invalid_config", "cannot write %s: %s", temporary, strerror(errno));
        goto out;
    }
    /* The umask can only narrow 0600; set it exactly so the mode never depends on it. */
    if (fchmod(descriptor, 0600) != 0 || config_write_all(descriptor, text, strlen(text)) != 0 ||
        config_write_all(descriptor, "\n", 1) != 0 || fsync(descriptor) != 0) {
        out_error("invalid_config", "cannot write %s: %s", temporary, strerror(errno));
        goto out;
    }
    if (close(descriptor) != 0) {
        descriptor = -1;
        out_error("invalid_config", "cannot write %s: %s", temporary, strerror(errno));
        goto out;
    }
    descriptor = -1;
    if (rename(temporary, path) != 0) {
        out_error("invalid_config", "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    result = 0;
out:
    if (descriptor >= 0) {
        close(descriptor);
    }
    if (result != 0) {
        unlink(temporary);
    }
    if (text != NULL) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
    json_decref(document);
    return result;
}

int config_remove(bool *removed)
{
    char path[LEBCTL_PATH_MAX];
    *removed = false;
    if (config_file_path(path, sizeof path) != 0) {
        return -1;
    }
    if (unlink(path) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        out_error("invalid_config", "cannot delete %s: %s", path, strerror(errno));
        return -1;
    }
    *removed = true;
    return 0;
}

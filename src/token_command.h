/* `quicksilver token`: mints a token from a shared secret or a PEM private
 * key, for development and scripts (like the reference hub's
 * `mercure-token`, including its --dev defaults). */
#ifndef QS_TOKEN_COMMAND_H
#define QS_TOKEN_COMMAND_H

/* Runs the subcommand; argv[0] is "token". `environ_like` supplies the key
 * when --key is not given (QUICKSILVER_PUBLISHER_JWT or
 * MERCURE_PUBLISHER_JWT_KEY, or the subscriber ones when only subscribe grants are asked).
 * Prints the token on stdout and returns the process exit status. */
int qs_token_command(int argc, char **argv, char **environ_like);

#endif

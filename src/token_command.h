/* `quicksilver token`: mints a token from a shared secret, for development
 * and scripts (like the reference hub's `mercure token`). */
#ifndef QS_TOKEN_COMMAND_H
#define QS_TOKEN_COMMAND_H

/* Runs the subcommand; argv[0] is "token". `environ_like` supplies the key
 * when --key is not given (QUICKSILVER_PUBLISHER_JWT or
 * MERCURE_PUBLISHER_JWT_KEY, or the subscriber ones with --subscriber-key).
 * Prints the token on stdout and returns the process exit status. */
int qs_token_command(int argc, char **argv, char **environ_like);

#endif

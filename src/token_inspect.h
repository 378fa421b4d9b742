/* `quicksilver token inspect`: explains a token with the hub's own
 * configuration (header, claims, the key that verifies it for each role or
 * the precise reason none does, its grants, and with --topic the grant that
 * decides a publish or a private delivery). Prints no key. */
#ifndef QS_TOKEN_INSPECT_H
#define QS_TOKEN_INSPECT_H

/* Runs the subcommand; argv[0] is "inspect", the last argument the token
 * ("-": standard input); other arguments are its own options or the hub's
 * (read with the configuration file and `environ_like` as the hub does).
 * Prints the explanation on stdout and returns the exit status: 0 accepted,
 * 1 refused, 2 usage or configuration error. */
int qs_token_inspect_command(int argc, char **argv, char **environ_like);

#endif

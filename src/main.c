/* Process start: configuration, signals, workers. */
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  puts("quicksilver " QS_VERSION);
  return 0;
}

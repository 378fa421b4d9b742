/* Replays a fuzz corpus as an ordinary test: feeds every file of the folder
 * given as argv[1] to LLVMFuzzerTestOneInput. A crash or sanitizer report
 * fails the test; an empty or missing corpus fails it too. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  DIR *dir = opendir(argv[1]);
  if (!dir) {
    perror(argv[1]);
    return 1;
  }
  int files = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], entry->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    size_t got = fread(data, 1, (size_t)(size > 0 ? size : 0), f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    files++;
  }
  closedir(dir);
  printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;
}

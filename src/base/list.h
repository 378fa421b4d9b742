/* Intrusive doubly linked lists: a qs_link_t is embedded in each element and
 * a list is a qs_link_t head (its own sentinel), so adding and removing
 * never allocates and an element leaves in O(1) wherever it sits. An element
 * may be on several lists through several links. Nothing here locks: a list
 * belongs to whoever owns its head. */
#ifndef QS_BASE_LIST_H
#define QS_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct qs_link {
  struct qs_link *prev, *next;
} qs_link_t;

/* The element of type `type` whose member `member` is at `ptr`. */
#define QS_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Makes `l` an empty list head, or an element link on no list. */
static inline void qs_link_init(qs_link_t *l) { l->prev = l->next = l; }

/* True when `l` is on a list (for a head: the list is not empty). Only for
 * links that were initialised with qs_link_init. */
static inline bool qs_link_linked(const qs_link_t *l) { return l->next != l; }

/* Takes `l` off its list (it must be on one, or be initialised) and leaves
 * it initialised. */
static inline void qs_link_remove(qs_link_t *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  qs_link_init(l);
}

/* Puts `l` (on no list) first in the list at `head`. */
static inline void qs_link_prepend(qs_link_t *head, qs_link_t *l) {
  l->next = head->next;
  l->prev = head;
  head->next->prev = l;
  head->next = l;
}

/* Puts `l` (on no list) last in the list at `head`. */
static inline void qs_link_append(qs_link_t *head, qs_link_t *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

#endif

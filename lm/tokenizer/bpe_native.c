/* The native engine of lm.tokenizer.Tokenizer: GPT-2 pre-tokenization and byte-level BPE in C.
 *
 * Same algorithm as the Python engine in bpe.py, without the per-object cost of Python:
 *   1. pre-tokenize UTF-8 text with a hand-written scanner equivalent to GPT-2's pattern
 *      '(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      (character classes come from the `regex` module's own tables, baked in by native.py);
 *   2. look each pre-token up in a cache (bytes -> ids); on a miss, map a pre-token that is a
 *      whole token straight to it, else merge its bytes lowest rank first, leftmost first.
 * Plain C ABI for ctypes (no Python.h): the GIL is released while it runs. One Engine per thread.
 * Input is valid UTF-8 (Python's str.encode), without special tokens (bpe.py cuts them out).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpe_native_classes.h" /* CLASS_RANGES[][3] = {first, last, class}, NUM_CLASS_RANGES */

enum { OTHER = 0, LETTER = 1, NUMBER = 2, SPACE = 3 };
#define NUM_CODE_POINTS 0x110000u
#define NO_MERGE UINT64_MAX
#define EMPTY_KEY UINT64_MAX

/* ---- hashing ---------------------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = mix(h ^ v) * 0x94d049bb133111ebull;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    h = mix(mix(h ^ v) * 0x94d049bb133111ebull);
    return h | 1; /* 0 marks an empty slot */
}

/* ---- bytes -> ids map (the vocabulary and the pre-token cache) ---------------------------- */

typedef struct {
    uint64_t hash; /* 0: empty */
    uint32_t key_off, key_len, val_off, val_len;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap, count; /* cap: a power of two */
    uint8_t *keys;
    size_t keys_len, keys_cap;
    uint32_t *vals;
    size_t vals_len, vals_cap;
} BytesMap;

static int bytes_map_init(BytesMap *m, size_t cap) {
    memset(m, 0, sizeof *m);
    m->cap = cap;
    m->slots = calloc(cap, sizeof(Slot));
    return m->slots ? 0 : -1;
}

static void bytes_map_free(BytesMap *m) {
    free(m->slots);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static void bytes_map_clear(BytesMap *m) {
    memset(m->slots, 0, m->cap * sizeof(Slot));
    m->count = m->keys_len = m->vals_len = 0;
}

static const Slot *bytes_map_get(const BytesMap *m, const uint8_t *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot *s = &m->slots[i];
        if (s->hash == 0) return NULL;
        if (s->hash == h && s->key_len == len && memcmp(m->keys + s->key_off, key, len) == 0)
            return s;
    }
}

static int grow(void **buf, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*buf, cap2 * item);
    if (!p) return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

static int bytes_map_rehash(BytesMap *m) {
    size_t cap = m->cap * 2, mask = cap - 1;
    Slot *slots = calloc(cap, sizeof(Slot));
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        const Slot *s = &m->slots[i];
        if (s->hash == 0) continue;
        size_t j = s->hash & mask;
        while (slots[j].hash) j = (j + 1) & mask;
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

/* Insert key (not present) -> vals[0:n]; returns the slot or NULL when out of memory. */
static const Slot *bytes_map_put(BytesMap *m, const uint8_t *key, size_t len, uint64_t h,
                                 const uint32_t *vals, size_t n) {
    if (2 * (m->count + 1) > m->cap && bytes_map_rehash(m)) return NULL;
    if (grow((void **)&m->keys, &m->keys_cap, m->keys_len + len, 1)) return NULL;
    if (grow((void **)&m->vals, &m->vals_cap, m->vals_len + n, sizeof(uint32_t))) return NULL;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].hash) i = (i + 1) & mask;
    Slot *s = &m->slots[i];
    s->hash = h;
    s->key_off = (uint32_t)m->keys_len;
    s->key_len = (uint32_t)len;
    s->val_off = (uint32_t)m->vals_len;
    s->val_len = (uint32_t)n;
    memcpy(m->keys + m->keys_len, key, len);
    memcpy(m->vals + m->vals_len, vals, n * sizeof(uint32_t));
    m->keys_len += len;
    m->vals_len += n;
    m->count++;
    return s;
}

/* ---- (left id, right id) -> rank << 32 | merged id ---------------------------------------- */

typedef struct {
    uint64_t *keys, *vals;
    size_t cap;
} PairMap;

static inline uint64_t pair_get(const PairMap *m, uint32_t left, uint32_t right) {
    uint64_t key = (uint64_t)left << 32 | right;
    size_t mask = m->cap - 1;
    for (size_t i = mix(key * 0x9e3779b97f4a7c15ull) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) return m->vals[i];
        if (m->keys[i] == EMPTY_KEY) return NO_MERGE;
    }
}

/* ---- the engine ----------------------------------------------------------------------------- */

/* Past this many cached pre-tokens (or this many cached bytes and ids) the cache starts over,
 * bounding memory on huge inputs, as MAX_CACHE_ENTRIES does for the Python engine. */
#define MAX_CACHE_ENTRIES (1u << 20)
#define MAX_CACHE_ITEMS (1u << 26)

typedef struct {
    uint8_t *classes; /* NUM_CODE_POINTS entries */
    uint32_t byte_ids[256];
    BytesMap vocab, cache;
    PairMap merges;
    uint32_t *parts;
    uint64_t *ranks;
    size_t parts_cap, ranks_cap;
} Engine;

void bpe_free(Engine *e) {
    if (!e) return;
    free(e->classes);
    bytes_map_free(&e->vocab);
    bytes_map_free(&e->cache);
    free(e->merges.keys);
    free(e->merges.vals);
    free(e->parts);
    free(e->ranks);
    free(e);
}

static size_t pow2_at_least(size_t n) {
    size_t cap = 16;
    while (cap < n) cap *= 2;
    return cap;
}

/* vocabulary: token k has bytes data[offsets[k] : offsets[k] + lengths[k]] and id ids[k];
 * merges: pair_keys[k] = left << 32 | right, pair_vals[k] = rank << 32 | merged id. */
Engine *bpe_new(int64_t num_tokens, const uint8_t *data, const int64_t *offsets,
                const uint32_t *lengths, const uint32_t *ids, const uint32_t *byte_ids,
                int64_t num_merges, const uint64_t *pair_keys, const uint64_t *pair_vals) {
    Engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->classes = calloc(NUM_CODE_POINTS, 1);
    if (!e->classes) goto fail;
    for (size_t r = 0; r < NUM_CLASS_RANGES; r++)
        memset(e->classes + CLASS_RANGES[r][0], (int)CLASS_RANGES[r][2],
               CLASS_RANGES[r][1] - CLASS_RANGES[r][0] + 1);
    memcpy(e->byte_ids, byte_ids, sizeof e->byte_ids);
    if (bytes_map_init(&e->vocab, pow2_at_least(2 * (size_t)num_tokens + 2))) goto fail;
    for (int64_t k = 0; k < num_tokens; k++) {
        const uint8_t *key = data + offsets[k];
        uint64_t h = hash_bytes(key, lengths[k]);
        if (!bytes_map_get(&e->vocab, key, lengths[k], h) &&
            !bytes_map_put(&e->vocab, key, lengths[k], h, &ids[k], 1))
            goto fail;
    }
    e->merges.cap = pow2_at_least(2 * (size_t)num_merges + 2);
    e->merges.keys = malloc(e->merges.cap * sizeof(uint64_t));
    e->merges.vals = malloc(e->merges.cap * sizeof(uint64_t));
    if (!e->merges.keys || !e->merges.vals) goto fail;
    memset(e->merges.keys, 0xff, e->merges.cap * sizeof(uint64_t));
    size_t mask = e->merges.cap - 1;
    for (int64_t k = 0; k < num_merges; k++) {
        size_t i = mix(pair_keys[k] * 0x9e3779b97f4a7c15ull) & mask;
        while (e->merges.keys[i] != EMPTY_KEY && e->merges.keys[i] != pair_keys[k])
            i = (i + 1) & mask;
        if (e->merges.keys[i] == EMPTY_KEY) { /* the first (lowest-rank) entry wins */
            e->merges.keys[i] = pair_keys[k];
            e->merges.vals[i] = pair_vals[k];
        }
    }
    if (bytes_map_init(&e->cache, 1u << 16)) goto fail;
    return e;
fail:
    bpe_free(e);
    return NULL;
}

/* ---- long pre-tokens: merging with a heap, O(n log n) ------------------------------------ */

/* Pre-tokens longer than this merge with a heap instead of rescanning every pair per merge
 * (O(n^2): 0.1 s for 20,000 repeated letters, 20 s for 300,000). */
#define HEAP_MERGE_MIN 256

typedef struct {
    uint64_t rank; /* rank << 32 | merged id, as in PairMap */
    uint32_t pos;  /* the pair's left node; nodes keep their left-to-right order */
} Entry;

static inline int entry_less(Entry a, Entry b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(Entry *heap, size_t *size, Entry x) {
    size_t i = (*size)++;
    while (i && entry_less(x, heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = x;
}

static Entry heap_pop(Entry *heap, size_t *size) {
    Entry top = heap[0], x = heap[--*size];
    size_t i = 0, n = *size;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && entry_less(heap[c + 1], heap[c])) c++;
        if (!entry_less(heap[c], x)) break;
        heap[i] = heap[c];
        i = c;
    }
    if (n) heap[i] = x;
    return top;
}

/* The same merges as `merge`'s loop below, in the same order (lowest rank, then leftmost), for a
 * long pre-token: a doubly linked list of parts and a heap of pairs whose stale entries (a pair
 * that has since changed) are skipped when popped. Writes the result to e->parts. */
static int64_t heap_merge(Engine *e, size_t n) {
    uint32_t *parts = e->parts, *next = malloc(n * sizeof(uint32_t)),
             *prev = malloc(n * sizeof(uint32_t));
    uint64_t *rank = e->ranks; /* rank[i]: the pair (i, next[i]) */
    /* n - 1 first entries, then at most 2 per merge (n - 1 merges at most): 3n is enough */
    Entry *heap = malloc(n * 3 * sizeof(Entry));
    size_t size = 0;
    int64_t result = -1;
    if (!next || !prev || !heap) goto done;
    for (size_t i = 0; i < n; i++) {
        next[i] = (uint32_t)(i + 1); /* n: none */
        prev[i] = (uint32_t)(i ? i - 1 : n);
        rank[i] = i + 1 < n ? pair_get(&e->merges, parts[i], parts[i + 1]) : NO_MERGE;
        if (rank[i] != NO_MERGE) heap_push(heap, &size, (Entry){rank[i], (uint32_t)i});
    }
    while (size) {
        Entry top = heap_pop(heap, &size);
        size_t i = top.pos;
        if (rank[i] != top.rank) continue; /* stale: the pair changed or was merged away */
        size_t j = next[i];
        parts[i] = (uint32_t)top.rank;
        rank[j] = NO_MERGE; /* node j is gone */
        next[i] = next[j];
        if (next[j] < n) prev[next[j]] = (uint32_t)i;
        rank[i] = next[i] < n ? pair_get(&e->merges, parts[i], parts[next[i]]) : NO_MERGE;
        if (rank[i] != NO_MERGE) heap_push(heap, &size, (Entry){rank[i], (uint32_t)i});
        if (prev[i] < n) {
            size_t h = prev[i];
            rank[h] = pair_get(&e->merges, parts[h], parts[i]);
            if (rank[h] != NO_MERGE) heap_push(heap, &size, (Entry){rank[h], (uint32_t)h});
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i = next[i]) parts[m++] = parts[i];
    result = (int64_t)m;
done:
    free(next);
    free(prev);
    free(heap);
    return result;
}

/* Merge one pre-token's bytes into e->parts; returns the number of ids, or -1 (out of memory). */
static int64_t merge(Engine *e, const uint8_t *p, size_t n) {
    if (grow((void **)&e->parts, &e->parts_cap, n, sizeof(uint32_t))) return -1;
    if (grow((void **)&e->ranks, &e->ranks_cap, n, sizeof(uint64_t))) return -1;
    uint32_t *parts = e->parts;
    uint64_t *ranks = e->ranks;
    for (size_t i = 0; i < n; i++) parts[i] = e->byte_ids[p[i]];
    if (n > HEAP_MERGE_MIN) return heap_merge(e, n);
    for (size_t i = 0; i + 1 < n; i++) ranks[i] = pair_get(&e->merges, parts[i], parts[i + 1]);
    size_t m = n; /* parts[0:m], ranks[0:m-1] */
    while (m > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (ranks[i] < ranks[best]) best = i;
        if (ranks[best] == NO_MERGE) break;
        parts[best] = (uint32_t)ranks[best];
        memmove(parts + best + 1, parts + best + 2, (m - best - 2) * sizeof(uint32_t));
        memmove(ranks + best, ranks + best + 1, (m - best - 2) * sizeof(uint64_t));
        m--;
        if (best + 1 < m) ranks[best] = pair_get(&e->merges, parts[best], parts[best + 1]);
        if (best) ranks[best - 1] = pair_get(&e->merges, parts[best - 1], parts[best]);
    }
    return (int64_t)m;
}

/* The ids of one pre-token, appended at out; returns how many, or -1 (out of memory). */
static int64_t encode_pretoken(Engine *e, const uint8_t *p, size_t n, uint32_t *out) {
    uint64_t h = hash_bytes(p, n);
    const Slot *s = bytes_map_get(&e->cache, p, n, h);
    if (!s) {
        const Slot *whole = bytes_map_get(&e->vocab, p, n, h);
        if (whole) {
            out[0] = e->vocab.vals[whole->val_off];
            return 1;
        }
        if (e->cache.count >= MAX_CACHE_ENTRIES || e->cache.vals_len + n > MAX_CACHE_ITEMS ||
            e->cache.keys_len + n > MAX_CACHE_ITEMS)
            bytes_map_clear(&e->cache);
        int64_t m = merge(e, p, n);
        if (m < 0) return -1;
        s = bytes_map_put(&e->cache, p, n, h, e->parts, (size_t)m);
        if (!s) return -1;
    }
    memcpy(out, e->cache.vals + s->val_off, s->val_len * sizeof(uint32_t));
    return s->val_len;
}

/* The code point at s[i] (valid UTF-8) and its length in bytes. */
static inline uint32_t decode(const uint8_t *s, size_t i, size_t *len) {
    uint32_t c = s[i];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xe0) {
        *len = 2;
        return (c & 0x1f) << 6 | (s[i + 1] & 0x3f);
    }
    if (c < 0xf0) {
        *len = 3;
        return (c & 0x0f) << 12 | (s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
    }
    *len = 4;
    return (c & 0x07) << 18 | (s[i + 1] & 0x3f) << 12 | (s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
}

static inline int class_at(const Engine *e, const uint8_t *s, size_t i, size_t *len) {
    return e->classes[decode(s, i, len)];
}

/* The end of the run of class `cls` that starts at i. */
static inline size_t run_end(const Engine *e, const uint8_t *s, size_t i, size_t n, int cls) {
    size_t len;
    while (i < n && class_at(e, s, i, &len) == cls) i += len;
    return i;
}

/* The end of GPT-2's pre-token starting at s[i] (i < n). */
static inline size_t pretoken_end(const Engine *e, const uint8_t *s, size_t i, size_t n) {
    size_t len;
    uint8_t c = s[i];
    if (c == '\'' && i + 1 < n) { /* '(?:[sdmt]|ll|ve|re) */
        uint8_t a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
        if (a == 's' || a == 'd' || a == 'm' || a == 't') return i + 2;
        if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e'))
            return i + 3;
    }
    int cls = class_at(e, s, i, &len);
    if (cls != SPACE) return run_end(e, s, i + len, n, cls); /* \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+ */
    if (c == ' ' && i + 1 < n) { /* " ?" before a letter, number or other run */
        int next = class_at(e, s, i + 1, &len);
        if (next != SPACE) return run_end(e, s, i + 1 + len, n, next);
    }
    /* \s+(?!\S) keeps the run's last whitespace character for the token after it; \s+ when the
     * run is that one character, or when the text ends */
    size_t last = i, j = i;
    while (j < n && class_at(e, s, j, &len) == SPACE) {
        last = j;
        j += len;
    }
    return (j < n && last > i) ? last : j;
}

/* Encode s[start:n] into out (room for `cap` ids), stopping before a pre-token that might not
 * fit; *count gets the number of ids. Returns where it stopped (n when done), or -1 when out of
 * memory. Pre-tokenizing from a pre-token boundary equals pre-tokenizing the whole text, so the
 * caller simply calls again from there. */
int64_t bpe_encode(Engine *e, const uint8_t *s, int64_t n, int64_t start, uint32_t *out,
                   int64_t cap, int64_t *count) {
    size_t i = (size_t)start;
    int64_t k = 0;
    while (i < (size_t)n) {
        size_t end = pretoken_end(e, s, i, (size_t)n);
        if (k + (int64_t)(end - i) > cap) break; /* a pre-token of b bytes has at most b ids */
        int64_t m = encode_pretoken(e, s + i, end - i, out + k);
        if (m < 0) return -1;
        k += m;
        i = end;
    }
    *count = k;
    return (int64_t)i;
}

/* Encode a batch of texts laid end to end in s in one call (one GIL release for the batch).
 * Text t is s[stops[t-1]:stops[t]] (from 0 for the first). Special token j is s[starts[j]:ends[j]]
 * with id ids[j]; they are in order and each lies inside one text. out must have room for every
 * id (one per byte of s is enough); text_ends[t] gets the number of ids up to the end of text t.
 * Returns 0, or -1 when out of memory. */
int64_t bpe_encode_texts(Engine *e, const uint8_t *s, int64_t num_texts, const int64_t *stops,
                         int64_t num_specials, const int64_t *starts, const int64_t *ends,
                         const uint32_t *ids, uint32_t *out, int64_t *text_ends) {
    int64_t k = 0, count = 0, position = 0, j = 0;
    for (int64_t t = 0; t < num_texts; t++) {
        for (; j < num_specials && starts[j] < stops[t]; j++) {
            if (bpe_encode(e, s, starts[j], position, out + k, starts[j] - position, &count) < 0)
                return -1;
            k += count;
            out[k++] = ids[j];
            position = ends[j];
        }
        if (bpe_encode(e, s, stops[t], position, out + k, stops[t] - position, &count) < 0)
            return -1;
        k += count;
        position = stops[t];
        text_ends[t] = k;
    }
    return 0;
}

/* How many pre-tokens the cache holds (for tests). */
int64_t bpe_cache_size(const Engine *e) { return (int64_t)e->cache.count; }

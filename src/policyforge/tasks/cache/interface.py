"""The cache policy interface, declared once: Vulcan's RANK function over per-object and stream features."""

from __future__ import annotations

from policyforge.contract import FieldSpec, FunctionSpec, GPTable, PolicySpec, ViewSpec

F = FieldSpec

CACHE_RANK_POLICY = PolicySpec(
    task="cache",
    summary=(
        "Cache eviction, Vulcan's RANK interface. You write `score(objs, stats)`: one number per row; the "
        "cached object with the LOWEST current score is evicted when room is needed (ties: the object scored "
        "earliest goes first). An object is scored when it is inserted (on a miss) and again on every hit; "
        "its latest score stands until then. The mechanism owns the cache: it decides when to evict, never "
        "inserts an object larger than the cache, and counts misses. Rows are requests: each row is the "
        "requested object as it is right after this request. Nothing about the future is visible. "
        "Objective: the miss-ratio reduction relative to FIFO, (mr_FIFO - mr) / mr_FIFO (divided by mr "
        "when worse), averaged over instances (trace window x bytes/objects mode x cache size)."
    ),
    functions=(
        FunctionSpec("score", "score(objs, stats)", "one finite float per row (array of len(objs))",
                     "the object's retention value: lower is evicted first"),
        FunctionSpec("admit", "admit(objs, stats)", "one finite float per row (array of len(objs))",
                     "admission value (a VALUE hook): on a miss (objs.hit == 0) the object enters the cache only "
                     "when its value is > 0, otherwise the request is a miss that inserts nothing and evicts "
                     "nothing; ignored for hits; without this function every missed object is admitted",
                     required=False),
    ),
    views=(
        ViewSpec("objs", "the scored objects, as read-only float64 columns (one row per scored request)", (
            F("size", "K", "float", "bytes", "the object's size"),
            F("insert_time", "K", "float", "requests", "request index at which it entered the cache"),
            F("last_access", "K", "float", "requests", "request index of this access (now)"),
            F("prev_access", "K", "float", "requests", "index of the access before this one, -1 if none"),
            F("count", "K", "float", "", "accesses since it entered the cache, this one included"),
            F("total_count", "K", "float", "", "accesses since the trace window began, this one included"),
            F("in_ghost", "K", "float", "0/1", "1 on a miss of an object evicted within the last N requests "
              "(N = the number of objects the cache holds, estimated), else 0"),
            F("hit", "K", "float", "0/1", "1 if this access was a hit, 0 if it inserts the object"),
            F("ewma_size", "K", "float", "bytes", "the stream's exponentially weighted mean request size at this "
              "request (alpha 0.001)"),
            F("ewma_gap", "K", "float", "requests", "the stream's exponentially weighted mean reuse gap at this "
              "request (alpha 0.001)"),
        )),
        ViewSpec("stats", "the run's constants and the clock (read-only scalars)", (
            F("capacity", "scalar", "float", "bytes or objects", "the cache's size in the instance's unit"),
            F("objects", "scalar", "float", "", "distinct objects in the trace window"),
            F("requests", "scalar", "float", "", "requests in the trace window"),
            F("clock", "scalar", "float", "score", "the score of the last evicted object, 0 before the first "
              "eviction (GDSF's L: with it, `clock + count * 1e6 / size` is GDSF, whose scores age as victims' "
              "scores rise)"),
        )),
    ),
    features=(),
    feature_module="numpy",
    allowed_imports=("math", "numpy"),
    rules=(
        "Compute with numpy elementwise over the rows; return one finite float per row (no NaN, no inf).",
        "The columns are read-only; keep no state between calls (the mechanism may re-score a row).",
        "Scores are compared across calls: keep them on one scale over the whole run (e.g. use absolute "
        "times such as objs.last_access, not ranks within the call).",
    ),
)

CACHE_GP_TABLE = GPTable(
    vector_view="objs",
    scalar_view="stats",
    constants=(0.5, 1.0, 2.0, 10.0, 100.0, 1000.0, 1.0e6),
    # The RANK baselines written in the grammar (higher = kept longer); constants are there to be tuned.
    seeds={
        "lru": "objs.last_access",
        # fewest accesses since insertion first, recency (below one access) among equals
        "lfu": "(add objs.count (div objs.last_access stats.requests))",
        # GDSF: frequency per byte on top of the clock (the last victim's score), as policies/gdsf.py
        "gdsf-rank": "(add stats.clock (div (mul objs.count 1000000.0) objs.size))",
        # frequency per byte as GDSF, aged by one access per mean reuse gap instead of by the last victim
        "gdsf-like": "(add (div (mul objs.count 1000000.0) objs.size) "
                     "(mul (div 1000000.0 objs.ewma_size) (div objs.last_access (max objs.ewma_gap 1.0))))",
        # LRU where an object twice the mean size looks one mean reuse gap older; ghost hits get a gap back
        "size-aware": "(add (sub objs.last_access (mul (max objs.ewma_gap 1.0) (sub (div objs.size objs.ewma_size) "
                      "1.0))) (mul (max objs.ewma_gap 1.0) objs.in_ghost))",
    },
)
"""The offline proposer's table for the RANK interface: per-row columns of `objs`, scalars of `stats`."""

CACHE_SAMPLED_POLICY = PolicySpec(
    task="cache",
    summary=(
        "Cache eviction, Vulcan's sampled-at-eviction mode. You write `priority(objs, stats)`: one number per "
        "row. Whenever room is needed, the mechanism draws a random sample of cached objects (64, with "
        "replacement, from randomness you cannot see) and evicts the row with the LOWEST priority (ties: the "
        "first row); it repeats until the new object fits. Unlike `score`, the priority is computed at the "
        "eviction, so it can age objects by the current time (`stats.now`) and by the clock (the priority of "
        "the last victim). Rows describe what is known of each object now; nothing about the future is "
        "visible. Objective: the miss-ratio reduction relative to FIFO, as for `score`."
    ),
    functions=(
        FunctionSpec("priority", "priority(objs, stats)", "one finite float per row (array of len(objs))",
                     "the sampled object's retention value now: the lowest of the sample is evicted"),
    ),
    views=(
        ViewSpec("objs", "the sampled cached objects, as read-only float64 columns (one row per draw)", (
            F("size", "K", "float", "bytes", "the object's size when it was inserted"),
            F("insert_time", "K", "float", "requests", "request index at which it entered the cache"),
            F("last_access", "K", "float", "requests", "request index of its last access"),
            F("prev_access", "K", "float", "requests", "index of the access before its last one, -1 if none"),
            F("count", "K", "float", "", "accesses since it entered the cache"),
            F("total_count", "K", "float", "", "accesses since the trace window began"),
            F("access_clock", "K", "float", "priority", "the clock (stats.clock) at its last access: with it, "
              "`access_clock + count * 1e6 / size` is GDSF's priority"),
        )),
        ViewSpec("stats", "the run's constants and the moment of the eviction (read-only scalars)", (
            F("capacity", "scalar", "float", "bytes or objects", "the cache's size in the instance's unit"),
            F("objects", "scalar", "float", "", "distinct objects in the trace window"),
            F("requests", "scalar", "float", "", "requests in the trace window"),
            F("clock", "scalar", "float", "priority", "the priority of the last evicted object, 0 before the "
              "first eviction (GDSF's L)"),
            F("now", "scalar", "float", "requests", "index of the request that needs the room"),
            F("ewma_size", "scalar", "float", "bytes", "the stream's exponentially weighted mean request size "
              "now (alpha 0.001)"),
            F("ewma_gap", "scalar", "float", "requests", "the stream's exponentially weighted mean reuse gap now "
              "(alpha 0.001)"),
        )),
    ),
    features=(),
    feature_module="numpy",
    allowed_imports=("math", "numpy"),
    rules=(
        "Compute with numpy elementwise over the rows; return one finite float per row (no NaN, no inf).",
        "The columns are read-only; keep no state between calls.",
    ),
)

CACHE_SAMPLED_GP_TABLE = GPTable(
    vector_view="objs",
    scalar_view="stats",
    constants=(0.5, 1.0, 2.0, 10.0, 100.0, 1000.0, 1.0e6),
    seeds={
        "lru": "objs.last_access",
        "lfu": "(add objs.count (div objs.last_access stats.requests))",
        # GDSF's priority as it stood at the object's last access (the clock then, frequency per byte)
        "gdsf": "(add objs.access_clock (div (mul objs.count 1000000.0) objs.size))",
        # LRU where an object twice the mean size looks one mean reuse gap older
        "size-aware": "(sub objs.last_access (mul (max stats.ewma_gap 1.0) (sub (div objs.size stats.ewma_size) "
                      "1.0)))",
        # hyperbolic: accesses per request of residence, per byte
        "hyperbolic": "(div objs.count (mul (max (sub stats.now objs.insert_time) 1.0) objs.size))",
    },
)
"""The offline proposer's table for the sampled interface (`--task-options '{"gp_mode": "sampled"}'`)."""

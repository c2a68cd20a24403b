"""Redis backend: the production store. Works unchanged on Redis Cluster.

Key schema (every key of one project shares the hash tag ``{p:<project>}``, so each Lua script
and pipeline touches one slot; admin records share the tag ``{cg}``):

- ``cg:{cg}:projects`` set of project ids
- ``cg:{cg}:site:<sitekey>`` site JSON; ``cg:{cg}:sitesecret:<hash>`` the same site JSON
  (so siteverify finds a site in one read);
  ``cg:{cg}:sites`` zset of sitekeys by creation
- ``cg:{cg}:apikey:<id>`` key JSON; ``cg:{cg}:apikeyhash:<hash>`` id; ``cg:{cg}:apikeys`` zset
- ``cg:{p:P}:project`` project JSON
- ``cg:{p:P}:item:<id>`` hash: ``data`` (item JSON), ``state``, ``votes``, ``blobs`` (the ref
  of the item's pack in the blob folder: store/blobs.py)
- ``cg:{p:P}:blob:<id>`` hash of blob kind to bytes, left by versions before the blob folder
  until ``crowdgate blobs migrate``; ``cg:{p:P}:feat`` hash of id to float32 bytes
- ``cg:{cg}:blob_uri`` the blob folder this store recorded when first opened
- ``cg:{p:P}:seq`` insertion counter; ``cg:{p:P}:all`` zset of ids by insertion;
  ``cg:{p:P}:state:<state>`` and ``cg:{p:P}:gold:<label>`` zsets of ids (same scores);
  ``cg:{p:P}:decoy:<label>`` zset of the gold whose secret decoy is the label (store/decoys.py)
- ``cg:{p:P}:voters:<id>`` set of voter keys; ``cg:{p:P}:ivotes:<id>`` list of vote JSON;
  ``cg:{p:P}:votes`` list of every vote JSON in order
- ``cg:{p:P}:ch:<challenge id>`` challenge JSON, TTL until expiry
- ``cg:{p:P}:tok:<sha256 of token>`` token JSON, TTL one more lifetime past expiry;
  ``cg:{p:P}:gone:<sha256 of token>`` its tombstone once redeemed, for the same time
- ``cg:{p:P}:stats`` hash of counters (their names are listed in :mod:`.counters`, the
  (class, decoy) pair counters in :mod:`.decoys`)
- ``cg:{p:P}:secrets`` hash of sitekey to current secret hash (siteverify's one-step redeem)
- ``cg:{p:P}:ll:<id>`` hash of label to summed live log-odds; ``cg:{p:P}:nets:<id>`` hash of
  voter network to votes
- ``cg:{p:P}:queue:<label>`` zset of open items to ask about a label, by disagreement
- ``cg:{p:P}:modelseq`` model version counter; ``cg:{p:P}:models`` list of model JSON
- ``cg:{cg}:lock:<name>`` lock owner, with a TTL
- ``cg:spent:<kind>:<digest>`` a spent single-use proof, with a TTL; no hash tag, so these
  keys spread over a cluster's slots (each command touches one key)

Challenge ids and tokens are ``<project>.<random>``, so the project (and so the slot) of a
challenge or token is known without a lookup.

The store is split by concern: the client, scripts and key prefixes (:mod:`.redis_base`),
items and sampling (:mod:`.redis_items`), blob refs (:mod:`.redis_blobs`), challenges,
tokens and votes (:mod:`.redis_votes`), sites, keys, the committee and locks
(:mod:`.redis_admin`), the counters (:mod:`.redis_counters`, :mod:`.counters`); the Lua
scripts are in :mod:`.redis_scripts`.
"""

from __future__ import annotations

from .redis_admin import RedisAdmin
from .redis_counters import RedisCounters
from .redis_items import RedisItems
from .redis_votes import RedisVotes

__all__ = ["RedisStore"]


class RedisStore(RedisItems, RedisVotes, RedisAdmin, RedisCounters):
    """Store on Redis or Redis Cluster (``redis+cluster://host:port``)."""

    scheme = "redis"

"""Stores as versions before the blob store left them: image bytes inside SQLite and Redis.

``FIXTURE`` is a SQLite file made by the code of commit b1804b9 (``crowdgate project create
pets --labels cat,dog`` and ``crowdgate import`` of six small JPEGs), so its blobs table is
what a real older data directory holds. ``fill_redis`` writes the same items into a real Redis
with that version's PUT_ITEM script, verbatim, so the Redis holds blobs as it wrote them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import redis

FIXTURE = Path(__file__).parent / "fixtures" / "store_before_blobs.db"

# PUT_ITEM of b1804b9 (store/redis_scripts.py), unchanged
OLD_PUT_ITEM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'state', ARGV[3], 'votes', 0)
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for name, n in pairs(cjson.decode(ARGV[6])) do redis.call('HINCRBY', KEYS[8], name, n) end
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[9], seq, ARGV[1])
  redis.call('HINCRBY', KEYS[8], ARGV[8], 1)
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[5]) end
redis.call('ZADD', KEYS[5], seq, ARGV[1])
redis.call('ZADD', KEYS[6], seq, ARGV[1])
redis.call('HINCRBY', KEYS[8], 'state:' .. ARGV[3], 1)
if ARGV[3] == 'gold' and ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[7], seq, ARGV[1])
  redis.call('HINCRBY', KEYS[8], 'gold:' .. ARGV[4], 1)
end
return 1
"""


def fixture_blobs(path: Path = FIXTURE) -> dict[tuple[str, str, str], bytes]:
    """Return every blob of an old-format SQLite file by (project, item, kind)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT project, item, kind, data FROM blobs").fetchall()
    return {(p, i, k): bytes(d) for p, i, k, d in rows}


def fill_redis(
    url: str, path: Path = FIXTURE, *, client: redis.Redis | None = None
) -> dict[tuple[str, str, str], bytes]:
    """Write the fixture's projects and items into Redis (or, given its ``client``, a Redis
    Cluster) as b1804b9 did; return the blobs."""
    own = client is None
    client = redis.Redis.from_url(url) if client is None else client
    put = client.register_script(OLD_PUT_ITEM)
    blobs = fixture_blobs(path)
    with sqlite3.connect(path) as db:
        projects = db.execute("SELECT id, data FROM projects").fetchall()
        items = db.execute("SELECT project, id, state, known_label, data FROM items").fetchall()
    for project_id, data in projects:
        client.set(f"cg:{{p:{project_id}}}:project", data)
        client.sadd("cg:{cg}:projects", project_id)
    for project_id, item_id, state, known, data in items:
        p = f"cg:{{p:{project_id}}}:"
        keys = [p + "item:" + item_id, p + "blob:" + item_id, p + "feat", p + "seq", p + "all"]
        keys += [p + "state:" + state, p + "gold:" + (known or ""), p + "stats", p + "decoy:"]
        args: list[object] = [item_id, data, state, known or "", b"", json.dumps({}), "", ""]
        for (bp, bi, kind), blob in blobs.items():
            if (bp, bi) == (project_id, item_id):
                args += [kind, blob]
        put(keys=keys, args=args)
    if own:
        client.close()
    return blobs

"""The Lua scripts of the Redis store: every check-and-set it makes in one atomic step.

Each script names the keys it touches in ``KEYS`` (all of one project's hash tag, or one key),
so it runs unchanged on Redis Cluster.
"""

# KEYS: item, feat, seq, all, state zset, gold zset (or any key of the tag), stats,
#       decoy zset (or any key of the tag)
# ARGV: id, item JSON, state, known label ('' if none), features ('' if none), JSON object of
#       further counters to add, decoy label ('' if none), its (class, decoy) counter name
#       ('' if none), the ref of the item's blob pack ('' if none; store/blobs.py)
PUT_ITEM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'state', ARGV[3], 'votes', 0)
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'blobs', ARGV[9]) end
for name, n in pairs(cjson.decode(ARGV[6])) do redis.call('HINCRBY', KEYS[7], name, n) end
if ARGV[7] ~= '' then
  redis.call('ZADD', KEYS[8], seq, ARGV[1])
  redis.call('HINCRBY', KEYS[7], ARGV[8], 1)
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[5]) end
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('ZADD', KEYS[5], seq, ARGV[1])
redis.call('HINCRBY', KEYS[7], 'state:' .. ARGV[3], 1)
if ARGV[3] == 'gold' and ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[6], seq, ARGV[1])
  redis.call('HINCRBY', KEYS[7], 'gold:' .. ARGV[4], 1)
end
return 1
"""

# PUT_ITEM for many new items of one project in one call (an import's batch).
# KEYS: feat, seq, all, stats, then per item: item, state zset, gold zset (or any key of the
#       tag), decoy zset (or any key of the tag)
# ARGV: per item, PUT_ITEM's nine arguments in its order
# Returns per item 1 if it was added, 0 if it existed (or came earlier in this call). The
# counters are summed and written once at the end.
PUT_ITEMS = """
local n = (#KEYS - 4) / 4
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = seq
local acc, out = {}, {}
local function add(name, c) acc[name] = (acc[name] or 0) + c end
for i = 1, n do
  local k, a = 4 * i, 9 * (i - 1)
  local item = KEYS[k + 1]
  if redis.call('EXISTS', item) == 1 then
    out[i] = 0
  else
    seq = seq + 1
    local id, state, known, feat, decoy = ARGV[a + 1], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5],
      ARGV[a + 7]
    redis.call('HSET', item, 'data', ARGV[a + 2], 'state', state, 'votes', 0)
    if ARGV[a + 9] ~= '' then redis.call('HSET', item, 'blobs', ARGV[a + 9]) end
    for name, c in pairs(cjson.decode(ARGV[a + 6])) do add(name, c) end
    if decoy ~= '' then
      redis.call('ZADD', KEYS[k + 4], seq, id)
      add(ARGV[a + 8], 1)
    end
    if feat ~= '' then redis.call('HSET', KEYS[1], id, feat) end
    redis.call('ZADD', KEYS[3], seq, id)
    redis.call('ZADD', KEYS[k + 2], seq, id)
    add('state:' .. state, 1)
    if state == 'gold' and known ~= '' then
      redis.call('ZADD', KEYS[k + 3], seq, id)
      add('gold:' .. known, 1)
    end
    out[i] = 1
  end
end
if seq ~= start then redis.call('SET', KEYS[2], seq) end
for name, c in pairs(acc) do redis.call('HINCRBY', KEYS[4], name, c) end
return out
"""

# KEYS: item hashes of one project. Returns each one's pack ref (false where it has none): a
# grid's twelve refs in one command, where a pipeline of HGETs costs redis-py a pack and a
# parse per item.
BLOB_REFS = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 'blobs') end
return out
"""

# KEYS: item, legacy blob hash (cg:{p:P}:blob:<id>); ARGV: the ref of the item's pack.
# Gives a legacy item its ref and drops its in-store blobs, unless the item is gone or has
# another ref (then they stay). Returns 1 when the blobs were dropped.
ADOPT_BLOBS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ref = redis.call('HGET', KEYS[1], 'blobs')
if not ref then
  redis.call('HSET', KEYS[1], 'blobs', ARGV[1])
  ref = ARGV[1]
end
if ref ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: item, all, old state zset, new state zset, old gold zset, new gold zset, stats,
#       old decoy zset, new decoy zset
# ARGV: id, expected old JSON, new JSON, old state, new state, old gold label, new gold label
# ('' when the item is not gold before / after), JSON object of further counter changes, old
# and new (class, decoy) counter names ('' when in no decoy pool). Returns 0 when the item
# changed meanwhile. The "in progress" counter is moved here, from the live vote count, which
# a concurrent pass may change without changing the JSON.
UPDATE_ITEM = """
if redis.call('HGET', KEYS[1], 'data') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'state', ARGV[5])
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if ARGV[4] ~= ARGV[5] then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], score, ARGV[1])
  redis.call('HINCRBY', KEYS[7], 'state:' .. ARGV[4], -1)
  redis.call('HINCRBY', KEYS[7], 'state:' .. ARGV[5], 1)
  if tonumber(redis.call('HGET', KEYS[1], 'votes') or '0') > 0 then
    if ARGV[4] == 'unlabeled' then redis.call('HINCRBY', KEYS[7], 'open_voted', -1) end
    if ARGV[5] == 'unlabeled' then redis.call('HINCRBY', KEYS[7], 'open_voted', 1) end
  end
end
for name, n in pairs(cjson.decode(ARGV[8])) do redis.call('HINCRBY', KEYS[7], name, n) end
if ARGV[6] ~= ARGV[7] then
  if ARGV[6] ~= '' then
    redis.call('ZREM', KEYS[5], ARGV[1])
    redis.call('HINCRBY', KEYS[7], 'gold:' .. ARGV[6], -1)
  end
  if ARGV[7] ~= '' then
    redis.call('ZADD', KEYS[6], score, ARGV[1])
    redis.call('HINCRBY', KEYS[7], 'gold:' .. ARGV[7], 1)
  end
end
if ARGV[9] ~= ARGV[10] then
  if ARGV[9] ~= '' then
    redis.call('ZREM', KEYS[8], ARGV[1])
    redis.call('HINCRBY', KEYS[7], ARGV[9], -1)
  end
  if ARGV[10] ~= '' then
    redis.call('ZADD', KEYS[9], score, ARGV[1])
    redis.call('HINCRBY', KEYS[7], ARGV[10], 1)
  end
end
return 1
"""

# KEYS: stats, token key, vote log, the first vote's label's queue, then per vote: item, voters set,
#       item vote list, item log-odds hash, item votes-per-network hash
# ARGV: token JSON, token TTL in ms, vote cap, 1 to count a pass (0 for test challenges),
#       votes one network may give one item, then per vote: voter key, vote JSON, asked label,
#       log-odds weight, network key, item id; last, the per-day vote counter to add to
# Returns one entry per item that got a vote: {vote index, votes, networks, label, ll, ...}.
# An item that is closed or at the cap leaves the queue here, so grids need not check it.
RECORD_PASS = """
local out = {}
local cap = tonumber(ARGV[3])
local netcap = tonumber(ARGV[5])
local n = (#KEYS - 4) / 5
local kept = 0
for i = 1, n do
  local k, a = 5 * i, 6 * i
  local item, voters, ivotes, ll, nets = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3],
    KEYS[k + 4]
  local voter, vote, label, weight, net, id = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
    ARGV[a + 4], ARGV[a + 5]
  local open = redis.call('HGET', item, 'state') == 'unlabeled'
    and tonumber(redis.call('HGET', item, 'votes')) < cap
  local roomy = tonumber(redis.call('HGET', nets, net) or '0') < netcap
  if open and roomy and redis.call('SADD', voters, voter) == 1 then
    local votes = redis.call('HINCRBY', item, 'votes', 1)
    if votes == 1 then redis.call('HINCRBY', KEYS[1], 'open_voted', 1) end
    redis.call('RPUSH', KEYS[3], vote)
    redis.call('RPUSH', ivotes, vote)
    redis.call('HINCRBYFLOAT', ll, label, weight)
    redis.call('HINCRBY', nets, net, 1)
    local entry = {i, votes, redis.call('HLEN', nets)}
    for _, v in ipairs(redis.call('HGETALL', ll)) do entry[#entry + 1] = v end
    out[#out + 1] = entry
    kept = kept + 1
    open = votes < cap
  end
  if not open and label == ARGV[8] then redis.call('ZREM', KEYS[4], id) end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if kept > 0 then
  redis.call('HINCRBY', KEYS[1], 'votes', kept)
  redis.call('HINCRBY', KEYS[1], ARGV[#ARGV], kept)
end
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'challenges_passed', 1) end
return out
"""

# KEYS: the asked label's queue, the unlabeled-state zset, then one gold zset per label, then
#       one decoy zset per label
# ARGV: queue entries to scan (0 for none), eligible ones to return, open items to sample,
#       then per gold zset and per decoy zset, in KEYS order: ids to sample
# Returns {queue ids (still open, best first), open ids, ids of each gold zset then each decoy
# zset...}.
# Queue entries no longer open are dropped from the queue.
# KEYS: queue, unlabeled state set, tiled open set, stats hash, gold sets..., decoy pools...
# ARGV: queue scan, queue top, open items wanted, then one count per gold set and decoy pool.
# A project with the stats flag TILES draws its random open items from the tiled open set,
# dropping those no longer unlabeled (twice as many are drawn to spare some).
DRAW_GRID = """
local queue, stale = {}, {}
local scan, top = tonumber(ARGV[1]), tonumber(ARGV[2])
if scan > 0 then
  for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, scan - 1)) do
    if not redis.call('ZSCORE', KEYS[2], id) then
      stale[#stale + 1] = id
    elseif #queue < top then
      queue[#queue + 1] = id
    end
  end
  if #stale > 0 then redis.call('ZREM', KEYS[1], unpack(stale)) end
end
local out = {queue, {}}
local want = tonumber(ARGV[3])
if want > 0 then
  if redis.call('HEXISTS', KEYS[4], 'tiles_deferred') == 1 then
    local got, gone = {}, {}
    for _, id in ipairs(redis.call('ZRANDMEMBER', KEYS[3], 2 * want)) do
      if not redis.call('ZSCORE', KEYS[2], id) then
        gone[#gone + 1] = id
      elseif #got < want then
        got[#got + 1] = id
      end
    end
    if #gone > 0 then redis.call('ZREM', KEYS[3], unpack(gone)) end
    out[2] = got
  else
    out[2] = redis.call('ZRANDMEMBER', KEYS[2], want)
  end
end
for i = 5, #KEYS do
  out[i - 2] = {}
  if tonumber(ARGV[i - 1]) > 0 then out[i - 2] = redis.call('ZRANDMEMBER', KEYS[i], ARGV[i - 1]) end
end
return out
"""

# KEYS: item hash, tiled open set. ARGV: old ref, old item JSON, new ref, new item JSON, item
# id, '1' if the item is open. Swaps in a ref with the item's tiles if nothing changed since.
SWAP_TILES = """
local cur = redis.call('HMGET', KEYS[1], 'blobs', 'data')
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'blobs', ARGV[3], 'data', ARGV[4])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[2], 0, ARGV[5]) end
return 1
"""

# KEYS: model version counter, model list. ARGV: model JSON (without version).
PUT_MODEL = """
local version = redis.call('INCR', KEYS[1])
local record = cjson.decode(ARGV[1])
record['version'] = version
redis.call('RPUSH', KEYS[2], cjson.encode(record))
return version
"""

# KEYS: site key, site-by-secret key of the secret the caller read. ARGV: that secret hash,
# new site JSON. Writes both only if the secret is still current (0: re-read and retry).
SAVE_SITE = """
local raw = redis.call('GET', KEYS[1])
if not raw or cjson.decode(raw)['secret_hash'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""

# KEYS: lock key. ARGV: owner, TTL in ms. Takes a free lock or renews one this owner holds.
ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lock key. ARGV: owner.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: challenge key, the project's stats hash. ARGV: challenge JSON, time to live in ms, '1'
# to count it as issued. One round trip where a pipeline costs redis-py more CPU.
PUT_CHALLENGE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'challenges_issued', 1) end
return 1
"""

# KEYS: token key, the project's sitekey -> secret hash map, the token's tombstone key.
# ARGV: a sitekey or '', a secret hash or '', now (epoch seconds).
# Takes the token only if it belongs to that site and to the site whose current secret hashes
# to that value (each if given), and leaves a tombstone until one more lifetime after expiry
# (store.base.token_keep_until). Returns the token JSON (live), 'expired', 'spent' (a
# tombstone: taken before), or false (no token of that site).
REDEEM = """
local raw = redis.call('GET', KEYS[1])
if not raw then
  if redis.call('EXISTS', KEYS[3]) == 1 then return 'spent' end
  return false
end
local t = cjson.decode(raw)
local sitekey = t['sitekey']
if ARGV[1] ~= '' and sitekey ~= ARGV[1] then return false end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[2], sitekey) ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
local now = tonumber(ARGV[3])
local keep = t['expires_at'] + math.max(0, t['expires_at'] - t['challenge_ts'])
local ms = math.ceil((keep - now) * 1000)
if ms > 0 then redis.call('SET', KEYS[3], '1', 'PX', ms) end
if t['expires_at'] <= now then return 'expired' end
return raw
"""

# KEYS: the challenge key. Takes (reads and deletes) a challenge, so it is answered once.
TAKE_CHALLENGE = """
return redis.call('GETDEL', KEYS[1])
"""

# Runs after a script's body is wrapped as ``body(KEYS, ARGV)`` by ``limited``.
# KEYS: n rate-limit counters, then the body's keys. ARGV: n, then per counter its window in
# seconds and allowed amount, then the body's arguments. Each counter is incremented as the
# ``limits`` library's fixed window does (INCRBY, and EXPIRE on the first hit of a window); the
# first one past its amount stops there with an error reply naming it, and the body is not run.
_LIMIT_PRELUDE = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local current = redis.call('INCRBY', KEYS[i], 1)
  if current == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end
  if current > tonumber(ARGV[2 * i + 1]) then
    return redis.error_reply('CGLIMIT ' .. i)
  end
end
local keys, argv = {}, {}
for i = n + 1, #KEYS do keys[#keys + 1] = KEYS[i] end
for i = 2 * n + 2, #ARGV do argv[#argv + 1] = ARGV[i] end
return body(keys, argv)
"""


def limited(script: str) -> str:
    """Return ``script`` preceded by a check of rate-limit counters (see ``_LIMIT_PRELUDE``)."""
    return "local function body(KEYS, ARGV)\n" + script + "\nend\n" + _LIMIT_PRELUDE

"""Redis backend: challenges, tokens, votes and their evidence, single-use proofs."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from ..models import Challenge, Evidence, TokenRecord, Vote
from . import counters
from .base import EXPIRED, REDEEMED, SPENT, UNKNOWN, Redemption, token_digest, token_keep_until
from .base_votes import Ranker
from .redis_base import RedisBase, _p, _route


class RedisVotes(RedisBase):
    """Challenges and tokens (each taken once), and the votes a passed challenge records."""

    # -- challenges, tokens, votes ---------------------------------------------------------
    def put_challenge(self, challenge: Challenge) -> None:
        ttl_ms = max(1, math.ceil((challenge.expires_at - challenge.issued_at) * 1000))
        p = _p(challenge.project)
        self._charged(
            self._put_challenge,
            self._put_challenge_limited,
            [p + "ch:" + challenge.id, p + "stats"],
            [orjson.dumps(challenge.to_dict()), ttl_ms, "0" if challenge.test else "1"],
        )

    def _challenge(self, challenge_id: str, now: float, take: bool) -> Challenge | None:
        project = _route(challenge_id)
        if project is None:
            return None
        key = _p(project) + "ch:" + challenge_id
        if take:
            raw = self._charged(self._take_challenge, self._take_challenge_limited, [key], [])
        else:
            raw = self._call(self.r.get, key)
        if raw is None:
            return None
        challenge = Challenge.from_dict(orjson.loads(raw))
        return challenge if challenge.expires_at > now else None

    def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        return self._challenge(challenge_id, now, take=False)

    def take_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        return self._challenge(challenge_id, now, take=True)

    def record_pass(
        self,
        project_id: str,
        votes: list[Vote],
        token: TokenRecord,
        vote_cap: int,
        network_cap: int | None = None,
        rank: Ranker | None = None,
    ) -> list[Evidence]:
        p = _p(project_id)
        data = token.to_dict()
        data.pop("token")
        # the key outlives the token: an expired token is still told from a forged one
        ttl_ms = max(1, math.ceil((token_keep_until(token) - token.challenge_ts) * 1000))
        label = votes[0].label if votes else ""
        keys = [
            p + "stats",
            p + "tok:" + token_digest(token.token),
            p + "votes",
            p + "queue:" + label,
        ]
        args: list[Any] = [
            orjson.dumps(data),
            ttl_ms,
            vote_cap,
            "0" if token.test else "1",
            vote_cap if network_cap is None else network_cap,
        ]
        for vote in votes:
            i = vote.item
            keys += [
                p + "item:" + i,
                p + "voters:" + i,
                p + "ivotes:" + i,
                p + "ll:" + i,
                p + "nets:" + i,
            ]
            args += [
                vote.voter,
                orjson.dumps(vote.to_dict()),
                vote.label,
                repr(vote.weight),
                vote.network,
                i,
            ]
        # every vote of one pass is cast at the same moment
        day = counters.day_of(votes[0].ts) if votes else "-"
        args.append(counters.VOTES_DAY + day)
        out = []
        for entry in self._call(self._record_pass, keys=keys, args=args):
            flat = entry[3:]
            loglik = {flat[j].decode(): float(flat[j + 1]) for j in range(0, len(flat), 2)}
            out.append(
                Evidence(votes[int(entry[0]) - 1].item, loglik, int(entry[1]), int(entry[2]))
            )
        if rank is not None and out:
            # after the script: the scores are computed in Python from what it returned
            self.rank_queue(project_id, rank(out))
        return out

    def get_evidence(self, project_id: str, item_id: str) -> Evidence:
        p = _p(project_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(p + "ll:" + item_id)
        pipe.hget(p + "item:" + item_id, "votes")
        pipe.hlen(p + "nets:" + item_id)
        ll, votes, nets = self._call(pipe.execute)
        loglik = {k.decode(): float(v) for k, v in ll.items()}
        return Evidence(item_id, loglik, int(votes or 0), int(nets))

    def redeem(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> Redemption:
        project = _route(token)
        if project is None:
            return Redemption(UNKNOWN)
        p = _p(project)
        digest = token_digest(token)
        keys = [p + "tok:" + digest, p + "secrets", p + "gone:" + digest]
        args = [sitekey or "", secret_hash or "", repr(now)]
        raw = self._charged(self._redeem, self._redeem_limited, keys, args)
        if raw is None:
            return Redemption(UNKNOWN)
        if raw == b"spent":
            return Redemption(SPENT)
        if raw == b"expired":
            return Redemption(EXPIRED)
        return Redemption(REDEEMED, TokenRecord(token=token, **orjson.loads(raw)))

    def peek_token(self, token: str, now: float) -> TokenRecord | None:
        project = _route(token)
        if project is None:
            return None
        raw = self._call(self.r.get, _p(project) + "tok:" + token_digest(token))
        record = TokenRecord(token=token, **orjson.loads(raw)) if raw else None
        return record if record is not None and record.expires_at > now else None

    def spend_once(self, kind: str, digest: str, now: float, ttl_s: float) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        key = f"cg:spent:{kind}:{digest}"
        return bool(self._call(self.r.set, key, b"1", nx=True, px=ttl_ms))

    def list_votes(self, project_id: str, item_id: str | None = None) -> list[Vote]:
        key = _p(project_id) + ("votes" if item_id is None else "ivotes:" + item_id)
        return [Vote.from_dict(json.loads(v)) for v in self._call(self.r.lrange, key, 0, -1)]

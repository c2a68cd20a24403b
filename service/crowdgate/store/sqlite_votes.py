"""SQLite backend: challenges, tokens, votes and their evidence, single-use proofs."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import orjson

from ..models import UNLABELED, Challenge, Evidence, TokenRecord, Vote
from . import counters
from .base import EXPIRED, REDEEMED, SPENT, UNKNOWN, Redemption, token_digest, token_keep_until
from .base_votes import Ranker
from .limit_charge import LimitRefused
from .sqlite_conn import SWEEP_EVERY, SqliteBase


class SqliteVotes(SqliteBase):
    """Challenges and tokens (each taken once), and the votes a passed challenge records."""

    # -- challenges, tokens, votes ---------------------------------------------------------
    def put_challenge(self, challenge: Challenge) -> None:
        charge = self._pending_charge()
        # orjson: the data json.dumps wrote (compact), in a tenth of its CPU
        data = orjson.dumps(challenge.to_dict()).decode()
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is None:
                db.execute(
                    "INSERT INTO challenges (id, expires_at, data) VALUES (?, ?, ?)",
                    (challenge.id, challenge.expires_at, data),
                )
                if not challenge.test:
                    self._incr(db, challenge.project, {"challenges_issued": 1})
                if self._rng.randrange(SWEEP_EVERY) == 0:
                    self._sweep(db, challenge.issued_at)
        if refused is not None:
            raise LimitRefused(refused)

    @staticmethod
    def _sweep(db: sqlite3.Connection, now: float) -> None:
        for table, key in (("challenges", "id"), ("tokens", "digest"), ("spent", "rowid")):
            db.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                "WHERE expires_at < ? LIMIT 1000)",
                (now,),
            )

    def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        rows = self._q(
            "SELECT data FROM challenges WHERE id=? AND expires_at>?", (challenge_id, now)
        )
        return Challenge.from_dict(orjson.loads(rows[0][0])) if rows else None

    def take_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        charge = self._pending_charge()
        rows: list[tuple] = []
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is None:
                rows = db.execute(
                    "DELETE FROM challenges WHERE id=? RETURNING expires_at, data", (challenge_id,)
                ).fetchall()
        if refused is not None:
            raise LimitRefused(refused)
        if not rows or rows[0][0] <= now:
            return None
        return Challenge.from_dict(orjson.loads(rows[0][1]))

    def record_pass(
        self,
        project_id: str,
        votes: list[Vote],
        token: TokenRecord,
        vote_cap: int,
        network_cap: int | None = None,
        rank: Ranker | None = None,
    ) -> list[Evidence]:
        net_cap = vote_cap if network_cap is None else network_cap
        touched: list[str] = []
        data = token.to_dict()
        data.pop("token")
        counts: Counter[str] = Counter()
        with self._tx() as db:
            kept: list[Vote] = []
            for vote in votes:
                if any(v.item == vote.item for v in kept):
                    # the same item twice: its first vote must be written before this check
                    self._write_votes(db, project_id, kept)
                    touched += [v.item for v in kept]
                    kept = []
                now_votes = db.execute(
                    "UPDATE items SET votes=votes+1 WHERE project=? AND id=? AND state=? "
                    "AND votes<? AND NOT EXISTS (SELECT 1 FROM votes WHERE project=? AND item=? "
                    "AND voter=?) AND NOT EXISTS (SELECT 1 FROM item_networks WHERE project=? "
                    "AND item=? AND network=? AND votes>=?) RETURNING votes",
                    (
                        project_id,
                        vote.item,
                        UNLABELED,
                        vote_cap,
                        project_id,
                        vote.item,
                        vote.voter,
                        project_id,
                        vote.item,
                        vote.network,
                        net_cap,
                    ),
                ).fetchall()  # read to the end, so the statement is finished before COMMIT
                if not now_votes:
                    continue
                # an open item's first vote puts it "in progress"
                counts[counters.OPEN_VOTED] += now_votes[0][0] == 1
                counts[counters.VOTES_DAY + counters.day_of(vote.ts)] += 1
                kept.append(vote)
            self._write_votes(db, project_id, kept)
            touched += [v.item for v in kept]
            db.execute(
                "INSERT INTO tokens (digest, expires_at, data) VALUES (?, ?, ?)",
                # the row outlives the token: an expired token is still told from a forged one
                (token_digest(token.token), token_keep_until(token), orjson.dumps(data).decode()),
            )
            counts.update(challenges_passed=0 if token.test else 1, votes=len(touched))
            self._incr(db, project_id, {k: v for k, v in counts.items() if v})
            evidence = [self._voted_evidence(db, project_id, item) for item in touched]
            if rank is not None and evidence:
                # in this transaction: a second one per answer cost a BEGIN and a COMMIT
                self._write_ranks(db, project_id, rank(evidence))
            return evidence

    @staticmethod
    def _write_votes(db: sqlite3.Connection, project_id: str, kept: list[Vote]) -> None:
        """Write the rows of votes whose items took them (each item once), three statements.

        Batched after the checks: a vote's check reads only its own item's rows, which no
        other vote of the batch writes.
        """
        if not kept:
            return
        db.executemany(
            "INSERT INTO votes (project, item, voter, data) VALUES (?,?,?,?)",
            [(project_id, v.item, v.voter, orjson.dumps(v.to_dict()).decode()) for v in kept],
        )
        db.executemany(
            "INSERT INTO evidence (project, item, label, ll) VALUES (?,?,?,?) "
            "ON CONFLICT (project, item, label) DO UPDATE SET ll = ll + excluded.ll",
            [(project_id, v.item, v.label, v.weight) for v in kept],
        )
        db.executemany(
            "INSERT INTO item_networks (project, item, network) VALUES (?,?,?) "
            "ON CONFLICT (project, item, network) DO UPDATE SET votes = votes + 1",
            [(project_id, v.item, v.network) for v in kept],
        )

    @staticmethod
    def _voted_evidence(db: sqlite3.Connection, project_id: str, item_id: str) -> Evidence:
        """Return the evidence of an item that exists (just voted on), in one statement.

        The same figures as :meth:`_evidence`'s three reads: one row per label with a log-odds
        sum (or one with a NULL label when there is none), each with the item's votes and its
        count of networks.
        """
        rows = db.execute(
            "SELECT i.votes, (SELECT count(*) FROM item_networks n WHERE n.project=i.project "
            "AND n.item=i.id), e.label, e.ll FROM items i LEFT JOIN evidence e "
            "ON e.project=i.project AND e.item=i.id WHERE i.project=? AND i.id=?",
            (project_id, item_id),
        ).fetchall()
        if not rows:
            return SqliteVotes._evidence(db, project_id, item_id)
        loglik = {label: ll for _, _, label, ll in rows if label is not None}
        return Evidence(item_id, loglik, rows[0][0], rows[0][1])

    @staticmethod
    def _evidence(db: sqlite3.Connection, project_id: str, item_id: str) -> Evidence:
        loglik = dict(
            db.execute(
                "SELECT label, ll FROM evidence WHERE project=? AND item=?", (project_id, item_id)
            ).fetchall()
        )
        votes = db.execute(
            "SELECT votes FROM items WHERE project=? AND id=?", (project_id, item_id)
        ).fetchall()
        nets = db.execute(
            "SELECT count(*) FROM item_networks WHERE project=? AND item=?", (project_id, item_id)
        ).fetchall()
        return Evidence(item_id, loglik, votes[0][0] if votes else 0, nets[0][0])

    def get_evidence(self, project_id: str, item_id: str) -> Evidence:
        return self._evidence(self._conn(), project_id, item_id)

    def redeem(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> Redemption:
        owner = "1=1"
        args: list[str] = []
        if sitekey is not None:
            owner += " AND json_extract(data, '$.sitekey') = ?"
            args.append(sitekey)
        if secret_hash is not None:
            owner += (
                " AND json_extract(data, '$.sitekey') IN "
                "(SELECT sitekey FROM sites WHERE secret_hash = ?)"
            )
            args.append(secret_hash)
        digest = token_digest(token)
        charge = self._pending_charge()
        # One transaction counts the request's rate limits, takes the token and leaves its
        # tombstone (the digest alone, in `spent`), or finds the tombstone a concurrent or
        # earlier redeem left.
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is not None:
                rows: list[tuple] = []
                gone: list[tuple] = []
            else:
                rows = db.execute(
                    f"DELETE FROM tokens WHERE digest=? AND {owner} RETURNING expires_at, data",
                    (digest, *args),
                ).fetchall()
                gone = []
                if not rows:
                    gone = db.execute(
                        "SELECT 1 FROM spent WHERE kind='token' AND digest=? AND expires_at>?",
                        (digest, now),
                    ).fetchall()
                else:
                    record = TokenRecord(token=token, **orjson.loads(rows[0][1]))
                    db.execute(
                        "INSERT OR REPLACE INTO spent (kind, digest, expires_at) "
                        "VALUES ('token', ?, ?)",
                        (digest, max(rows[0][0], token_keep_until(record))),
                    )
        if refused is not None:
            raise LimitRefused(refused)
        if not rows:
            return Redemption(SPENT if gone else UNKNOWN)
        if record.expires_at <= now:
            return Redemption(EXPIRED)
        return Redemption(REDEEMED, record)

    def peek_token(self, token: str, now: float) -> TokenRecord | None:
        rows = self._q("SELECT data FROM tokens WHERE digest=?", (token_digest(token),))
        record = TokenRecord(token=token, **orjson.loads(rows[0][0])) if rows else None
        return record if record is not None and record.expires_at > now else None

    def spend_once(self, kind: str, digest: str, now: float, ttl_s: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO spent (kind, digest, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, digest) DO UPDATE SET expires_at=excluded.expires_at "
                "WHERE spent.expires_at <= ?",
                (kind, digest, now + ttl_s, now),
            )
            if self._rng.randrange(SWEEP_EVERY) == 0:
                self._sweep(db, now)
            return cur.rowcount == 1

    def list_votes(self, project_id: str, item_id: str | None = None) -> list[Vote]:
        if item_id is None:
            rows = self._q("SELECT data FROM votes WHERE project=? ORDER BY seq", (project_id,))
        else:
            rows = self._q(
                "SELECT data FROM votes WHERE project=? AND item=? ORDER BY seq",
                (project_id, item_id),
            )
        return [Vote.from_dict(json.loads(r[0])) for r in rows]

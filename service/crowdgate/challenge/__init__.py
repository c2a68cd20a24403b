"""The challenge loop: grids, grading, votes, tokens and siteverify, without HTTP."""

from .keys import TEST_RESPONSE, TEST_SECRET, TEST_SITEKEY
from .selection import RandomSelector, Selector
from .service import AnswerResult, ChallengeService, Client, host_allowed

__all__ = [
    "TEST_RESPONSE",
    "TEST_SECRET",
    "TEST_SITEKEY",
    "AnswerResult",
    "ChallengeService",
    "Client",
    "RandomSelector",
    "Selector",
    "host_allowed",
]

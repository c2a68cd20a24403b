"""The crowd simulator: visitors who see served tiles and answer grids over HTTP.

No Flask and no store: it only talks HTTP to a running crowdgate, so it measures the service
as deployed. See ``docs/simulate.md``.
"""

from .client import Admin, Http, ServiceError
from .crowd import DEFAULT_ORIGIN, Crowd, Summary
from .perception import GoldMemory, Perceiver, PerceptionError, decode, image_vector
from .visitors import (
    ADVERSARIAL,
    CAREFUL,
    DEFAULT_MIX,
    ECHO,
    KINDS,
    RANDOM,
    SLOPPY,
    GoldKey,
    MixError,
    Visitor,
    allocate,
    choose,
    lie,
    parse_mix,
)

__all__ = [
    "ADVERSARIAL",
    "CAREFUL",
    "DEFAULT_MIX",
    "DEFAULT_ORIGIN",
    "ECHO",
    "KINDS",
    "RANDOM",
    "SLOPPY",
    "Admin",
    "Crowd",
    "GoldKey",
    "GoldMemory",
    "Http",
    "MixError",
    "Perceiver",
    "PerceptionError",
    "ServiceError",
    "Summary",
    "Visitor",
    "allocate",
    "choose",
    "decode",
    "image_vector",
    "lie",
    "parse_mix",
]

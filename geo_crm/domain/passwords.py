"""Password hashing with Argon2id (argon2-cffi): memory-hard, salted, self-describing hashes.

Argon2id is the first choice of RFC 9106 and OWASP's password storage guidance; the encoded
hash carries its parameters, so raising the cost later re-hashes on the next sign-in
(:func:`needs_rehash`). Verification is deliberately slow (that is what makes guessing
expensive); API calls use tokens (one SHA-256) and never pay it.
"""

from __future__ import annotations

import functools
import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import ValidationError

LOGGER = logging.getLogger(__name__)

MIN_LENGTH = 8
MAX_LENGTH = 1024  # an upper bound keeps a megabyte "password" from costing CPU


@functools.lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # RFC 9106 low-memory profile: t=3, m=64 MiB, p=4


def check_policy(password: str, *, username: str | None = None) -> None:
    """Refuse passwords too short, too long, or equal to the username (field ``password``)."""
    problem = None
    if len(password) < MIN_LENGTH:
        problem = f"must be at least {MIN_LENGTH} characters"
    elif len(password) > MAX_LENGTH:
        problem = f"must be at most {MAX_LENGTH} characters"
    elif username and password.strip().casefold() == username.casefold():
        problem = "must not be the username"
    if problem:
        raise ValidationError(f"password {problem}", fields={"password": problem})


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a mismatch, a missing or a malformed hash."""
    if not password_hash or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        LOGGER.warning("a stored password hash could not be verified (malformed or unsupported)")
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


@functools.lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for unknown usernames, so timing does not reveal which exist."""
    return _hasher().hash("not a real password: equalises sign-in timing")

"""Password hashing for web users (Argon2id, argon2-cffi) and the one strength rule every
way of setting a password goes through (first run, own change, admin API, `langso user add`)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile

COMMON = {"12345678", "123456789", "password", "matkhau", "matkhau123", "admin123", "langso123", "qwertyui", "11111111"}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class WeakPassword(ValueError):
    """The password is refused; the message says why, in English (the page says it in Vietnamese)."""


def check_password_strength(password: str, user: str = "") -> str | None:
    """None when acceptable, else what is wrong (no default or trivial passwords)."""
    if len(password) < 8:
        return "use at least 8 characters"
    if password.lower() in COMMON or (user and user.lower() in password.lower()):
        return "too easy to guess; do not use common passwords or the user name"
    return None


def strong_hash(password: str, user: str = "") -> str:
    """The Argon2id hash of a password that passes check_password_strength, else WeakPassword."""
    problem = check_password_strength(password, user)
    if problem:
        raise WeakPassword(problem)
    return hash_password(password)

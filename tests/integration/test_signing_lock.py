"""The signing lock under concurrency (issue 9, item 1).

Attack: many parallel re-authentications with wrong passphrases, from two
processes (two `Workspace` instances on one database), so that version clashes
on the user record lose failures; then the right passphrase signs.

Rule (ARCHITECTURE.md, Guards): every attempt that does not succeed is recorded
as exactly one `SigningFailed` (attempts on a locked signer included), every
success as one `SigningSucceeded`; all of them serialize on the user's version,
so five failures in a row lock signing whatever the concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from workspace import accounts
from workspace.accounts import User, user_aggregate_id
from workspace.application import Workspace
from workspace.config import Settings

PASSPHRASE = "olga signs carefully"
WRONG = "a guess"
ATTEMPTS = 12


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def two_processes(settings: Settings) -> Iterator[tuple[Workspace, Workspace]]:
    first = Workspace({"CREATE_TABLE": "y"}, settings=settings)
    first.add_user("olga", "Olga Owner", roles=[], passphrase=PASSPHRASE)
    second = Workspace(settings=settings)
    yield first, second
    second.close()
    first.close()


def user_topics(app: Workspace) -> list[str]:
    """The topics of the user's stored events, in order (after Registered)."""
    events = list(app.events.get(user_aggregate_id("olga")))
    names = {
        User.SigningFailed: "failed",
        User.SigningSucceeded: "succeeded",
        User.SigningUnlocked: "unlocked",
    }
    return [names[type(e)] for e in events if type(e) in names]


def burst(
    apps: tuple[Workspace, Workspace], passphrases: list[str]
) -> list[bool | BaseException]:
    """Every passphrase at once, alternating between the two processes."""
    start = threading.Barrier(len(passphrases))

    def attempt(n: int) -> bool | BaseException:
        start.wait()
        try:
            return apps[n % 2].check_signing_passphrase(
                "olga", passphrases[n], packet_id="p-1", release_id="rel-1"
            )
        except BaseException as e:  # reported, not raised in the pool
            return e

    with ThreadPoolExecutor(len(passphrases)) as pool:
        return list(pool.map(attempt, range(len(passphrases))))


def test_concurrent_wrong_passphrases_are_each_counted_once_and_lock_signing(
    two_processes: tuple[Workspace, Workspace],
) -> None:
    results = burst(two_processes, [WRONG] * ATTEMPTS)

    assert results == [False] * ATTEMPTS
    first, second = two_processes
    assert user_topics(first) == ["failed"] * ATTEMPTS
    user = second.get_user("olga")
    assert user.failed_signings == ATTEMPTS
    assert user.signing_locked
    # The right passphrase afterwards is refused, and counted too.
    assert not first.check_signing_passphrase(
        "olga", PASSPHRASE, packet_id="p-1", release_id="rel-1"
    )
    assert user_topics(second) == ["failed"] * (ATTEMPTS + 1)


def test_the_right_passphrase_in_a_burst_of_wrong_ones_signs_only_before_the_lock(
    two_processes: tuple[Workspace, Workspace],
) -> None:
    passphrases = [WRONG] * (ATTEMPTS - 1) + [PASSPHRASE]
    passphrases[ATTEMPTS // 2], passphrases[-1] = passphrases[-1], WRONG
    results = burst(two_processes, passphrases)

    assert not any(isinstance(r, BaseException) for r in results), results
    signed = results[ATTEMPTS // 2] is True
    assert [r for n, r in enumerate(results) if n != ATTEMPTS // 2] == [False] * (
        ATTEMPTS - 1
    )
    topics = user_topics(two_processes[0])
    assert len(topics) == ATTEMPTS  # every attempt recorded exactly once
    if signed:
        # The success was decided on a version with fewer than five failures.
        assert topics.index("succeeded") < accounts.SIGNING_LOCK_AFTER
    else:
        assert topics.count("succeeded") == 0
    assert two_processes[1].get_user("olga").signing_locked

"""A login that cannot change a quiet customer's result: the engine applies it without evaluating.

Most events of a customer-facing product are logins, and most customers are quiet: at their last
evaluation no rule fired, their tier was healthy, no alert of theirs was open and nothing was
acknowledged. For such a customer, evaluated last at or before ``t`` and not due before ``t`` (no
signal crossed a threshold, no event left a window since), a login at ``t`` changes only the
login signals, and only towards "still here": ``days_since_last_login`` falls to 0,
``logins_7d``, ``login_trend`` and ``logins_total`` rise (or the trend stays null),
``logins_prev_28d`` does not move until the login is a week old. When every comparison of the pack
over those signals fires on the other side (``days_since_last_login >= x`` or ``> x``; the others
``<= x`` or ``< x``), no comparison can start to hold, so no rule can start to fire (a guard is read
only once a comparison holds): the evaluation would give what the last one gave. The default pack
is such a pack.

What the login does change later is covered by the due time: the earlier of the one held and the
first times the login itself can matter, when it leaves the week and when the time since it reaches
a threshold of ``days_since_last_login``. That may be earlier than an evaluation would have found
(the quiet-login bound of ``rules.due``): an evaluation at a time that changes nothing is harmless.
A failed login changes no history: the due time stays.
"""

from __future__ import annotations

from typing import Final

from rules.due import Crossings, crossing
from rules.frame_parts import L7
from rules.pack import RulePack
from rules.pack.native import NativeCheck
from rules.state import DAY, CustomerState
from streams.events import Event, Login
from streams.parse import as_float

# the signals a login at the evaluation time moves, and the comparisons (native op codes:
# rules.pack.native) that cannot start to hold as they move: >= and > for the falling time since
# the last login; <= and < for the rising counts and trend (logins_prev_28d does not move: a
# login enters the 28 days before the week a week later, a due time)
_FALLING: Final = frozenset({"days_since_last_login"})
_RISING: Final = frozenset({"logins_7d", "login_trend", "logins_total"})
_GE_GT: Final = (0, 1)
_LE_LT: Final = (2, 3)
# what unchanged_by finds of an event
EVALUATE: Final = 0  # it may change the result
FAILED: Final = 1  # a failed login of a quiet customer: nothing changed
LOGGED_IN: Final = 2  # a quiet customer's new latest login


def logins_keep_quiet(pack: RulePack, with_model: bool) -> bool:
    """Whether no login at the evaluation time can make a rule of ``pack`` start to fire (see the
    module docstring). False with a buying model read (its visit signals read the logins) and for
    an ``expr`` rule over a login signal (its condition is not a comparison)."""
    if with_model:
        return False
    moved = _FALLING | _RISING
    for rule in pack.rules:
        if not rule.signals & moved:
            continue
        if not rule.comparisons:
            return False  # an expr rule: its guard is its condition, not a comparison
        for comp in rule.comparisons:
            if comp.signal not in moved:
                continue
            op = NativeCheck(comp).op  # (-1: not a comparison with a number)
            if op not in (_GE_GT if comp.signal in _FALLING else _LE_LT):
                return False
    return True


def unchanged_by(
    event: Event, state: CustomerState, t: float, clock: float | None, prior: int | None, epoch: int
) -> int:
    """Whether ``event``, just applied to ``state`` at ``t``, leaves its result as its last evaluation
    found it: :data:`EVALUATE` (it may not), :data:`FAILED` (a failed login: no history changed) or
    :data:`LOGGED_IN` (a new latest login). ``clock``: the engine's (no evaluation is later; an event
    before it may come after one of this customer); ``prior``: its last login before the event;
    ``epoch``: the engine's quiet epoch (``Memo.quiet`` holds it when the last evaluation was quiet
    under the engine's current pack; 0: never)."""
    memo = state.memo
    if not epoch or memo is None or memo.quiet != epoch or not isinstance(event, Login):
        return EVALUATE
    if clock is None or t < clock:
        return EVALUATE
    if state.ack is not None:  # acknowledged since
        return EVALUATE
    due = state.due
    if due is not None and as_float(due) <= t:
        return EVALUATE  # a threshold crossed or an event left a window since the last evaluation
    if not event.success:
        return FAILED
    return LOGGED_IN if prior is not None and int(t) >= prior else EVALUATE


def due_after_login(state: CustomerState, t: float, crossings: Crossings) -> int | float | None:
    """The due time after a login ``unchanged_by`` let through (the latest login, at ``t``): the held
    one, or earlier the login's own first effects (it leaves the week; the time since it reaches a
    threshold of ``days_since_last_login``). Native numbers throughout (compiled: an int compared
    with a float as objects is the slow comparison)."""
    due = state.due
    last = state.last_login
    if last is None:
        return due
    exit = last + L7
    at = float(exit)  # (exact: times are far below 2**53)
    c = crossing(last, DAY, crossings.login, t)
    if due is not None and as_float(due) <= (at if at <= c else c):
        return due
    if at <= c:
        return exit
    return c

"""The account line's reads: the balance from the API, in the background; only the newest
read may set the trait."""

from __future__ import annotations

import logging

from . import account
from .account import AccountState
from .runner import Runner

log = logging.getLogger("magicgif_widget")


class AccountReader:
    """Reads the balance for ``runner``'s widget and keeps the last answer (``state``)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.state = AccountState(sandbox=runner.settings.sandbox)  # the last balance read
        self._reads = 0  # reads started: only the newest may set the trait

    async def read(self) -> AccountState:
        """The balance now (or why it could not be read), shown in the ``account`` trait."""
        self._reads += 1
        number = self._reads
        try:
            found = await self.runner.client().v1.account.get()
            state = AccountState(credits=found.credits)
        except Exception as exc:
            log.info("the account could not be read (%s)", type(exc).__name__)
            state = AccountState(problem=account.problem(exc))
        if number == self._reads:  # else a newer read is under way
            self.state = state
            w = self.runner.widget
            self.runner.set({"account": account.line(state, w.gifs_asked())})
        return state

"""One line of `appliance doctor`'s report: its local, network and program checks share it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    """How a check came out; the value is its mark in the report."""

    OK = " ok "
    FAIL = "FAIL"
    SKIP = "skip"  # not checked (offline, or nothing to check with)


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"[{self.status.value}] {self.name}: {self.detail}"
        return text + (f" -> fix: {self.fix}" if self.fix else "")

"""One line of `appliance doctor`'s report: its local, network and program checks share it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, how to fix it."""

    name: str
    status: str  # "ok" | "fail" | "skip"
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {"ok": " ok ", "fail": "FAIL", "skip": "skip"}[self.status]
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f" -> fix: {self.fix}" if self.fix else "")

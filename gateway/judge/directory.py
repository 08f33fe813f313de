"""Who is a parent, student, staff member or partner."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from gateway.read.message import Author, same_person


@dataclass(frozen=True, slots=True)
class Directory:
    staff_domains: tuple[str, ...]
    student_domains: tuple[str, ...]
    partner_domains: tuple[str, ...]
    unknown_external: str
    parents: frozenset[str]
    students: frozenset[str]
    staff_names: tuple[str, ...]

    @staticmethod
    def _in(domain: str, domains: tuple[str, ...]) -> int:
        """Length of the most specific matching domain, 0 if none."""
        best = 0
        for d in domains:
            if domain == d or domain.endswith("." + d):
                best = max(best, len(d))
        return best

    def classify(self, address: str) -> str:
        address = address.lower()
        if address in self.parents:
            return "parent"
        if address in self.students:
            return "student"
        domain = address.rpartition("@")[2]
        scores = {
            "student": self._in(domain, self.student_domains),
            "staff": self._in(domain, self.staff_domains),
            "partner": self._in(domain, self.partner_domains),
        }
        cls, score = max(scores.items(), key=lambda kv: kv[1])
        return cls if score else self.unknown_external

    def is_school_address(self, address: str) -> bool:
        return self.classify(address) in {"staff", "student"} and "@" in address

    def is_colleague(self, author: Author) -> bool:
        if author.address and self.classify(author.address) == "staff":
            return True
        return bool(author.name) and any(same_person(author.name, n) for n in self.staff_names)


def _read_csv(path: Path, config_path: Path) -> list[dict[str, str]]:
    from gateway.judge.rules import RuleError

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise RuleError(f"{config_path}:1: cannot read directory file {path} ({exc.strerror})") from None


def load_directory(domains: dict, files: dict, base: Path, config_path: Path, text: str) -> Directory:
    from gateway.judge.rules import RuleError, _line_of

    unknown = domains.get("unknown_external", "parent")
    if unknown not in {"parent", "student", "partner"}:
        raise RuleError(f"{config_path}:{_line_of(text, 'unknown_external')}: unknown_external must be parent, student or partner")
    parents: set[str] = set()
    students: set[str] = set()
    staff_names: list[str] = []
    if files.get("parents"):
        for row in _read_csv(base / files["parents"], config_path):
            if row.get("email"):
                parents.add(row["email"].strip().lower())
            if row.get("student_email"):
                students.add(row["student_email"].strip().lower())
    if files.get("staff"):
        for row in _read_csv(base / files["staff"], config_path):
            if row.get("name"):
                staff_names.append(row["name"].strip())
    low = lambda xs: tuple(x.lower() for x in xs)  # noqa: E731
    return Directory(low(domains.get("staff", [])), low(domains.get("student", [])), low(domains.get("partner", [])),
                     unknown, frozenset(parents), frozenset(students), tuple(staff_names))

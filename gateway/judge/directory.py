"""Who is a parent, student, staff member or partner."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.mail import RecipientClass, in_domains
from gateway.read.message import Author, same_person


@dataclass(frozen=True, slots=True)
class Directory:
    staff_domains: tuple[str, ...]
    student_domains: tuple[str, ...]
    partner_domains: tuple[str, ...]
    unknown_external: RecipientClass
    parents: frozenset[str]
    students: frozenset[str]
    staff_names: tuple[str, ...]

    def classify(self, address: str) -> RecipientClass:
        address = address.lower()
        if address in self.parents:
            return RecipientClass.PARENT
        if address in self.students:
            return RecipientClass.STUDENT
        # The most specific domain wins: students.school.example over school.example.
        scores = {
            RecipientClass.STUDENT: in_domains(address, self.student_domains),
            RecipientClass.STAFF: in_domains(address, self.staff_domains),
            RecipientClass.PARTNER: in_domains(address, self.partner_domains),
        }
        cls, score = max(scores.items(), key=lambda kv: kv[1])
        return cls if score else self.unknown_external

    def is_colleague(self, author: Author) -> bool:
        if author.address and self.classify(author.address) == RecipientClass.STAFF:
            return True
        return bool(author.name) and any(same_person(author.name, n) for n in self.staff_names)

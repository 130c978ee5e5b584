"""The product catalog: self-service offers, SKUs, service plans and entitlements.

The operator replaces the default file with `TENANTRY_CATALOG_PATH` (TOML).
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

UNLIMITED = "unlimited"

EntitlementValue = int | str  # an integer limit, or "unlimited"


@dataclass(frozen=True)
class Step:
    from_day: int
    value: EntitlementValue


@dataclass(frozen=True)
class Entitlement:
    """A named limit, constant or stepping down (or up) with the days since it started."""

    name: str
    steps: tuple[Step, ...]

    def value_at(self, days: int) -> EntitlementValue:
        """The value in force `days` days after the start."""
        current = self.steps[0].value
        for step in self.steps:
            if days >= step.from_day:
                current = step.value
        return current


@dataclass(frozen=True)
class ServicePlan:
    """A service of a SKU; with the names of plans it cannot be combined with, or needs."""

    service_plan_id: uuid.UUID
    name: str
    # Plan names: a user cannot hold this plan and one of these (Entra's mutually exclusive
    # plans, e.g. two mailbox plans); this plan works only with all of those enabled.
    mutually_exclusive_with: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Offer:
    part_number: str
    display_name: str
    service_plans: tuple[str, ...]
    entitlements: tuple[Entitlement, ...]


@dataclass(frozen=True)
class Sku:
    sku_id: uuid.UUID
    part_number: str
    display_name: str
    service_plans: tuple[ServicePlan, ...]
    entitlements: tuple[Entitlement, ...]
    warning_days: int
    suspended_days: int
    term_days: int = 365

    def plan_named(self, name: str) -> ServicePlan | None:
        """The service plan of this SKU with that name."""
        return next((plan for plan in self.service_plans if plan.name == name), None)

    def plan_by_id(self, service_plan_id: uuid.UUID) -> ServicePlan | None:
        """The service plan of this SKU with that id."""
        return next((p for p in self.service_plans if p.service_plan_id == service_plan_id), None)


@dataclass(frozen=True)
class Catalog:
    offers: dict[str, Offer]
    skus: dict[str, Sku]
    upgrade_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def offer(self, part_number: str) -> Offer | None:
        """The self-service offer with that part number."""
        return self.offers.get(part_number)

    def sku(self, part_number: str) -> Sku | None:
        """The SKU with that part number."""
        return self.skus.get(part_number)

    def sku_by_id(self, sku_id: uuid.UUID) -> Sku | None:
        """The SKU with that id."""
        return self._skus_by_id.get(sku_id)

    def excludes(self, first: str, second: str) -> bool:
        """Whether the plans named `first` and `second` are mutually exclusive (either way)."""
        return second in self._exclusions.get(first, ()) or first in self._exclusions.get(
            second, ()
        )

    @cached_property
    def _exclusions(self) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for sku in self.skus.values():
            for plan in sku.service_plans:
                found.setdefault(plan.name, set()).update(plan.mutually_exclusive_with)
        return {name: frozenset(names) for name, names in found.items()}

    @cached_property
    def _skus_by_id(self) -> dict[uuid.UUID, Sku]:
        return {sku.sku_id: sku for sku in self.skus.values()}

    @property
    def default_offer(self) -> Offer:
        """The offer people get when they sign up without naming one."""
        return next(iter(self.offers.values()))


def _entitlements(raw: dict[str, Any]) -> tuple[Entitlement, ...]:
    result = []
    for name, value in raw.items():
        if isinstance(value, list):
            steps = tuple(
                sorted(
                    (Step(int(s["fromDay"]), s["value"]) for s in value), key=lambda s: s.from_day
                )
            )
        else:
            steps = (Step(0, value),)
        for step in steps:
            if not (isinstance(step.value, int) or step.value == UNLIMITED):
                raise ValueError(
                    f"entitlement {name}: {step.value!r} is not an integer or 'unlimited'"
                )
        result.append(Entitlement(name, steps))
    return tuple(result)


def parse(text: str) -> Catalog:
    """A catalog from TOML text; raises ValueError on a malformed file."""
    try:
        raw = tomllib.loads(text)
        offers = {
            o["partNumber"]: Offer(
                part_number=o["partNumber"],
                display_name=o.get("displayName", o["partNumber"]),
                service_plans=tuple(o.get("servicePlans", ())),
                entitlements=_entitlements(o.get("entitlements", {})),
            )
            for o in raw.get("offers", [])
        }
        skus = {
            s["partNumber"]: Sku(
                sku_id=uuid.UUID(s["skuId"]),
                part_number=s["partNumber"],
                display_name=s.get("displayName", s["partNumber"]),
                service_plans=tuple(
                    ServicePlan(
                        uuid.UUID(p["servicePlanId"]),
                        p["servicePlanName"],
                        mutually_exclusive_with=_names(p.get("mutuallyExclusiveWith", [])),
                        depends_on=_names(p.get("dependsOn", [])),
                    )
                    for p in s.get("servicePlans", [])
                ),
                entitlements=_entitlements(s.get("entitlements", {})),
                warning_days=int(s.get("lifecycle", {}).get("warningDays", 30)),
                suspended_days=int(s.get("lifecycle", {}).get("suspendedDays", 90)),
                term_days=int(s.get("lifecycle", {}).get("termDays", 365)),
            )
            for s in raw.get("skus", [])
        }
        paths = {k: tuple(v) for k, v in raw.get("upgradePaths", {}).items()}
    except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"catalog is malformed: {exc}") from exc
    if not offers:
        raise ValueError("catalog has no self-service offer")
    for entry, part_numbers in paths.items():
        for part_number in part_numbers:
            if part_number not in skus:
                raise ValueError(f"upgradePaths.{entry} names unknown SKU {part_number}")
    for sku in skus.values():
        if sku.term_days < 1 or sku.warning_days < 0 or sku.suspended_days < 0:
            raise ValueError(
                f"catalog is malformed: {sku.part_number}'s lifecycle needs termDays >= 1 "
                "and warningDays, suspendedDays >= 0"
            )
    catalog = Catalog(offers=offers, skus=skus, upgrade_paths=paths)
    _check_plan_rules(catalog)
    return catalog


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise TypeError("mutuallyExclusiveWith and dependsOn are lists of service plan names")
    return tuple(value)


def _check_plan_rules(catalog: Catalog) -> None:
    """Plan rules name plans of the catalog, and no SKU holds two plans that exclude each other."""
    known = {plan.name for sku in catalog.skus.values() for plan in sku.service_plans}
    for sku in catalog.skus.values():
        for plan in sku.service_plans:
            for name in plan.mutually_exclusive_with + plan.depends_on:
                if name not in known:
                    raise ValueError(
                        f"catalog is malformed: service plan {plan.name} of {sku.part_number} "
                        f"names {name!r}, which is no service plan of the catalog"
                    )
            if plan.name in plan.depends_on or plan.name in plan.mutually_exclusive_with:
                raise ValueError(
                    f"catalog is malformed: service plan {plan.name} names itself in its rules"
                )
        names = [plan.name for plan in sku.service_plans]
        for index, first in enumerate(names):
            for second in names[index + 1 :]:
                if catalog.excludes(first, second):
                    raise ValueError(
                        f"catalog is malformed: {sku.part_number} holds {first} and {second}, "
                        "which are mutually exclusive"
                    )


@cache
def load(path: Path | None = None) -> Catalog:
    """The operator's catalog file, or the default one shipped with Tenantry."""
    if path is None:
        return parse(
            resources.files("tenantry.catalog").joinpath("default.toml").read_text("utf-8")
        )
    return parse(Path(path).read_text("utf-8"))


def combine(values: list[EntitlementValue]) -> EntitlementValue:
    """The largest of several values of one entitlement ("unlimited" beats any number)."""
    if UNLIMITED in values:
        return UNLIMITED
    return max(int(v) for v in values)


def plan_of_entitlement(name: str, plan_names: tuple[str, ...]) -> str | None:
    """The service plan an entitlement belongs to, by its prefix: `meetings.x` → `MEETINGS`.

    `<prefix>.<limit>` belongs to the plan named `<PREFIX>` or `<PREFIX>_…` (so
    `office.desktop_installs` → `OFFICE_APPS`); an entitlement whose prefix names
    no plan belongs to the whole SKU. Disabling a plan takes its entitlements away.
    """
    prefix = name.partition(".")[0].upper()
    for plan in plan_names:
        if plan == prefix or plan.startswith(prefix + "_"):
            return plan
    return None


def days_since(start: datetime, now: datetime) -> int:
    """Whole days elapsed since `start`."""
    return max(0, (now - start).days)

"""Synthetic organisations for benchmarks: N AI systems in aimsgraph terms, fixed seed.

Shape (after perf-baseline.md): every system has an owner, purpose, stage and domain; 1-3
models each trained on 1-3 datasets reused with a power law (Yule process); 3-8 risks with
likelihood, severity, the matching 5x5 level, owner, treatment and source; 1-3 controls per
risk implementing Annex A controls, 60 % with dated evidence; systems consume the output of
earlier systems: 10 core systems, then business units of 20-80 systems behind a gateway, with
deep chains inside a unit. Stakeholder groups (a few dozen, reused with a power law): 60 % of
systems name 1-2 as AI subjects, and every risk affects 1-2. About 140 triples per system.

    python -m benchmarks.generate 7300 /tmp/org-7300.nt    # about 1M triples
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

AIMS = "https://w3id.org/aimsgraph/ontology#"
VAIR = "https://w3id.org/vair#"
ISO = "https://w3id.org/aimsgraph/iso42001/"
RM = "https://w3id.org/aimsgraph/risk-matrix/"
BASE = "https://bench.example/org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD = "http://www.w3.org/2001/XMLSchema#"
CONTROLS = [
    "A.2.2",
    "A.2.3",
    "A.2.4",
    "A.3.2",
    "A.3.3",
    "A.4.2",
    "A.4.3",
    "A.4.4",
    "A.4.5",
    "A.4.6",
    "A.5.2",
    "A.5.3",
    "A.5.4",
    "A.5.5",
    "A.6.1.2",
    "A.6.1.3",
    "A.6.2.2",
    "A.6.2.3",
    "A.6.2.4",
    "A.6.2.5",
    "A.6.2.6",
    "A.6.2.7",
    "A.6.2.8",
    "A.7.2",
    "A.7.3",
    "A.7.4",
    "A.7.5",
    "A.7.6",
    "A.8.2",
    "A.8.3",
    "A.8.4",
    "A.8.5",
    "A.9.2",
    "A.9.3",
    "A.9.4",
    "A.10.2",
    "A.10.3",
    "A.10.4",
]
STAGES = ["DesignAndDevelopment", "VerificationAndValidation", "Deployment", "OperationAndMonitoring"]
DOMAINS = ["FinancialServices", "Employment", "CustomerService", "Insurance", "Security", "Operations"]
SOURCES = [
    "C.3-machine-learning",
    "C.3-level-of-automation",
    "C.3-lack-of-transparency-and-explainability",
    "C.3-system-life-cycle-issues",
    "C.3-complexity-of-environment",
    "C.3-technology-readiness",
]
TREATMENTS = ["Mitigate", "Mitigate", "Mitigate", "Accept", "Transfer", "Avoid"]


def level(likelihood: int, severity: int) -> str:
    score = likelihood * severity
    return "Low" if score <= 4 else "Medium" if score <= 9 else "High" if score <= 16 else "Critical"


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def iri(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"<{s}> <{p}> <{o}> .")

    def lit(self, s: str, p: str, value: str, datatype: str | None = None) -> None:
        suffix = f"^^<{XSD}{datatype}>" if datatype else ""
        self.lines.append(f'<{s}> <{p}> "{value}"{suffix} .')


def generate(n_systems: int, seed: int = 42) -> str:
    rng = random.Random(seed)
    w = Writer()
    people = max(1, n_systems // 4)
    datasets: list[str] = []
    uses: list[str] = []  # one entry per use, so picks are weighted by current use (Yule)
    units = Units(random.Random(seed + 1), n_systems)
    # a generator of their own, so that adding stakeholders left every other triple as it was
    parties = Stakeholders(random.Random(seed + 2), n_systems)
    parties.declare(w)
    # EU AI Act facts from a generator of their own too (issue 20)
    regulation = Regulation(random.Random(seed + 3))
    for i in range(n_systems):
        system = f"{BASE}system/{i}"
        w.iri(system, RDF_TYPE, AIMS + "AISystem")
        w.lit(system, LABEL, f"System {i}")
        w.iri(system, AIMS + "hasOwner", f"{BASE}person/{rng.randrange(people)}")
        w.lit(system, AIMS + "intendedPurpose", f"Automates decision family {i % 97}")
        w.iri(system, AIMS + "lifecycleStage", AIMS + rng.choice(STAGES))
        w.iri(system, AIMS + "applicationDomain", AIMS + rng.choice(DOMAINS))
        w.iri(f"{BASE}aims/scope", AIMS + "inScope", system)
        if parties.rng.random() < 0.6:
            for party in parties.pick():
                w.iri(system, AIMS + "hasAISubject", party)
        regulation.describe(w, system)
        for j in range(rng.randint(1, 3)):
            model = f"{system}/model/{j}"
            w.iri(model, RDF_TYPE, AIMS + "Model")
            w.lit(model, LABEL, f"Model {i}.{j}")
            w.iri(system, AIMS + "usesModel", model)
            for _ in range(rng.randint(1, 3)):
                if not datasets or rng.random() < 0.35:
                    dataset = f"{BASE}dataset/{len(datasets)}"
                    datasets.append(dataset)
                    w.iri(dataset, RDF_TYPE, AIMS + "Dataset")
                    w.lit(dataset, LABEL, f"Dataset {len(datasets) - 1}")
                else:
                    dataset = rng.choice(uses)
                uses.append(dataset)
                w.iri(model, AIMS + "trainedOn", dataset)
        for _ in range(_edges(rng, i)):
            upstream = _upstream(rng, i, units)
            if upstream is not None:
                w.iri(system, AIMS + "consumesOutputOf", f"{BASE}system/{upstream}")
        for k in range(rng.randint(3, 8)):
            risk = f"{system}/risk/{k}"
            likelihood = min(5, 1 + int(rng.expovariate(0.8)))
            severity = min(5, 1 + int(rng.expovariate(0.7)))
            w.iri(system, AIMS + "hasRisk", risk)
            w.iri(risk, RDF_TYPE, AIMS + "Risk")
            w.lit(risk, LABEL, f"Risk {k} of system {i}")
            w.iri(risk, AIMS + "hasLikelihood", f"{RM}L{likelihood}")
            w.iri(risk, AIMS + "hasSeverity", f"{RM}S{severity}")
            w.iri(risk, AIMS + "hasRiskLevel", RM + level(likelihood, severity))
            w.iri(risk, AIMS + "hasRiskOwner", f"{BASE}person/{rng.randrange(people)}")
            w.iri(risk, AIMS + "treatmentDecision", AIMS + rng.choice(TREATMENTS))
            w.iri(risk, AIMS + "hasRiskSource", ISO + rng.choice(SOURCES))
            for party in parties.pick():
                w.iri(risk, AIMS + "affectsStakeholder", party)
            for c in range(rng.randint(1, 3)):
                control = f"{risk}/control/{c}"
                w.iri(control, RDF_TYPE, AIMS + "ImplementedControl")
                w.iri(control, AIMS + "implements", ISO + rng.choice(CONTROLS))
                w.iri(control, AIMS + "mitigates", risk)
                w.iri(control, AIMS + "controlStatus", AIMS + "Implemented")
                if rng.random() < 0.6:
                    evidence = f"{control}/evidence"
                    w.iri(control, AIMS + "hasEvidence", evidence)
                    w.iri(evidence, RDF_TYPE, AIMS + "Evidence")
                    w.lit(evidence, AIMS + "validUntil", f"2027-{rng.randint(1, 12):02d}-01", "date")
    return "\n".join(w.lines) + "\n"


CORE = 10  # core platform systems 0-9


class Stakeholders:
    """Stakeholder groups (``aims:StakeholderGroup``): 10 plus one per 200 systems, picked with
    Zipf weights (the k-th group 1/k as often as the first), as a few groups such as customers
    are affected by most systems and most groups by few."""

    def __init__(self, rng: random.Random, n_systems: int) -> None:
        self.rng = rng
        self.groups = [f"{BASE}party/{k}" for k in range(10 + n_systems // 200)]
        self.weights = [1 / (k + 1) for k in range(len(self.groups))]

    def declare(self, w: Writer) -> None:
        for k, group in enumerate(self.groups):
            w.iri(group, RDF_TYPE, AIMS + "StakeholderGroup")
            w.lit(group, LABEL, f"Stakeholder group {k}")
            w.iri(group, AIMS + "hasStakeholderRole", AIMS + "SubjectRole")
            if k % 2 == 0:
                w.iri(group, RDF_TYPE, VAIR + "NaturalPerson")

    def pick(self) -> list[str]:
        """One or two distinct groups."""
        return sorted(set(self.rng.choices(self.groups, self.weights, k=self.rng.randint(1, 2))))


class Regulation:
    """EU AI Act facts: most systems used in the EU (a few not, a few unstated), half with a VAIR
    purpose (some of them Annex III uses), a fifth talking to people; even stakeholder groups
    are natural persons, so that the Annex III rules fire on a share of the systems."""

    PURPOSES = (
        "AssessingCreditworthiness",
        "JobApplicationScreening",
        "EvaluatingLearningOutcomes",
        "HealthInsurancePricing",
        "ContentGeneration",
        "Forecasting",
    )

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def describe(self, w: Writer, system: str) -> None:
        scope = self.rng.random()
        if scope < 0.95:
            w.lit(system, AIMS + "inEUScope", "true" if scope < 0.9 else "false", "boolean")
        if self.rng.random() < 0.5:
            w.iri(system, AIMS + "hasPurpose", VAIR + self.rng.choice(self.PURPOSES))
        if self.rng.random() < 0.2:
            w.lit(system, AIMS + "interactsWithNaturalPersons", "true", "boolean")


class Units:
    """Business units of 20-80 systems after the core; each unit's first system is its gateway."""

    def __init__(self, rng: random.Random, n_systems: int) -> None:
        self.unit_of: list[int] = [-1] * min(CORE, n_systems)
        self.gateways: list[int] = []
        while len(self.unit_of) < n_systems:
            self.gateways.append(len(self.unit_of))
            size = rng.randint(20, 80)
            self.unit_of += [len(self.gateways) - 1] * min(size, n_systems - len(self.unit_of))


def _edges(rng: random.Random, i: int) -> int:
    return 0 if i == 0 else rng.choice([1, 1, 2, 2, 2, 3])


def _upstream(rng: random.Random, i: int, units: Units) -> int | None:
    """Which earlier system ``i`` consumes (after perf-baseline.md): core systems use lower core
    systems; a gateway uses the core; inside a unit 45 % the previous system (deep chains), 40 %
    a system in a window of 15, 10 % another unit's gateway, 5 % a core system."""
    if i < CORE:
        return rng.randrange(i) if i else None
    unit = units.unit_of[i]
    gateway = units.gateways[unit]
    if i == gateway:
        return rng.randrange(CORE)
    roll = rng.random()
    if roll < 0.45:
        return i - 1
    if roll < 0.85:
        return rng.randrange(max(gateway, i - 15), i)
    if roll < 0.95 and unit > 0:
        return units.gateways[rng.randrange(unit)]
    return rng.randrange(CORE)


def generated_store(systems: int, workdir: Path, infer: bool = False):
    """Generate an organisation of ``systems`` AI systems in ``workdir`` and load it into a new
    on-disk store there (with the inferences when ``infer``). Returns the open store."""
    from aimsgraph.semantics.reasoning import refresh_inferences
    from aimsgraph.store import GraphStore

    data = workdir / f"org-{systems}.nt"
    data.write_text(generate(systems))
    store = GraphStore(workdir / f"store-{systems}")
    store.initialise(demo=False)
    store.load_files([data])
    if infer:
        refresh_inferences(store)
    store.flush()
    return store


def main() -> None:
    n_systems, output = int(sys.argv[1]), Path(sys.argv[2])
    output.write_text(generate(n_systems))
    print(f"{output}: {sum(1 for _ in output.open())} triples for {n_systems} systems")


if __name__ == "__main__":
    main()

"""The "My work" page: one person's tasks (``reporting.tasks``), grouped by when they are due,
each with its cause (a link to the asset, findings, calendar or impact page) and the path that
explains it. The signed-in person is found by ``aims:accountName``; ``?assignee=<IRI>`` shows
anyone's (a person with the roles they hold, or a role). A signed-in editor changes a task's
status with the buttons of the page (a form with the session's CSRF token, :mod:`.csrf`), the
same change as ``POST /api/tasks/<id>``."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from aimsgraph import clock
from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.http.api.writes import commit_request
from aimsgraph.http.state import state
from aimsgraph.http.web import PICKER_LIMIT, bp, csrf
from aimsgraph.namespaces import AIMS, TASK_BASE, is_absolute_iri
from aimsgraph.records import agenda
from aimsgraph.reporting import overview, tasks
from aimsgraph.risk.analysis import Snapshot
from aimsgraph.store.record import Record, person_of_account


@bp.get("/my-work")
def my_work():
    service = state()
    store, today = service.store, clock.today()
    work = tasks.work_list(store, today)
    record = work.record(store)
    assignee, signed_in = _assignee(store)
    status = request.args.get("status") or "active"
    number = request.args.get("page", "1")
    if not number.isdecimal() or int(number) < 1:
        raise InvalidInput("page must be a whole number from 1")
    context: dict = {
        "assignee": assignee,
        "signed_in": signed_in,
        "status": status,
        "statuses": tasks.STATUS_FILTERS,
        "kind": request.args.get("kind") or "",
        "kinds": tasks.KIND_LABELS,
        "csrf_token": csrf.token() if g.get("session_principal") else None,
    }
    context["people"] = tasks.persons(store, record, PICKER_LIMIT)
    if assignee is None:
        return render_template("my-work.html", **context, selection=None)
    wanted = tasks.wanted_from(request.args.get("kind"), status, tasks.agents_of(store, assignee))
    selection = work.select(wanted)
    page = int(number)
    size = overview.PAGE_SIZE
    if page > 1 and (page - 1) * size >= len(selection):
        abort(404, description=f"there is no page {page} of these tasks")
    shown = work.page(store, selection, (page - 1) * size, size)
    snapshot = service.models.get()
    groups: dict[str, list[dict]] = {}
    for task in shown:
        groups.setdefault(tasks.bucket(task, today), []).append(_view(task, record, snapshot, today))
    return render_template(
        "my-work.html",
        **context,
        selection=selection,
        name=agenda.owner_name(record, assignee),
        totals=tasks.counts(work, selection),
        buckets=tasks.bucket_counts(work, selection),
        groups=[(b, groups[b]) for b in tasks.BUCKETS if b in groups],
        page=page,
        first=(page - 1) * size,
        shown=len(shown),
        more=page * size < len(selection),
        as_of=today,
    )


def _assignee(store) -> tuple[str | None, bool]:
    """Whose tasks to show: ``?assignee=``, else the signed-in person; (IRI or None, whether it
    is the signed-in person)."""
    asked = request.args.get("assignee") or None
    if asked is not None:
        if not is_absolute_iri(asked):
            raise InvalidInput("assignee must be the IRI of a person or role")
        return asked, False
    principal = g.get("principal")
    person = person_of_account(store, principal.name) if principal is not None else None
    return person, person is not None


def _view(task: tasks.Task, record: Record, snapshot: Snapshot, today) -> dict:
    """What the page shows of a task: its fields, the cause's link and the path's steps."""
    steps = [{**step, "url": _asset_url(snapshot, str(step["iri"]))} for step in tasks.path_steps(task, record)]
    return {
        "task": task,
        "id": task.id,
        "overdue": task.overdue(today),
        "assignees": [agenda.owner_name(record, a) for a in task.assignees],
        "cause_url": _cause_url(task, snapshot),
        "cause_text": _cause_text(task),
        "steps": steps,
        "clauses": [c.rsplit("/", 1)[-1] for c in task.clauses],
    }


def _asset_url(snapshot: Snapshot, iri: str) -> str | None:
    return url_for("web.asset", iri=iri) if snapshot.model.asset_kind(iri) is not None else None


def _holder_asset(snapshot: Snapshot, iri: str) -> str | None:
    """The asset page of a node, or of the asset that has it as a risk."""
    if snapshot.model.asset_kind(iri) is not None:
        return iri
    return next((a for a in snapshot.record.subjects(AIMS + "hasRisk", iri) if snapshot.model.asset_kind(a)), None)


def _cause_url(task: tasks.Task, snapshot: Snapshot) -> str:
    if task.kind == "impact":
        return url_for("web.impact_page", node=task.cause, change=task.change or "modify")
    if task.kind == "breach":
        return url_for("web.due") + "#breaches-h"
    asset = _holder_asset(snapshot, task.about)
    if asset is not None:
        return url_for("web.asset", iri=asset)
    if task.kind == "finding":
        clause = task.clauses[0].rsplit("/", 1)[-1] if task.clauses else None
        return url_for("web.findings", clause=clause) if clause else url_for("web.findings")
    return url_for("web.due", within="all") if task.kind == "due" else url_for("web.findings")


def _cause_text(task: tasks.Task) -> str:
    return {
        "finding": f"{task.severity or 'Finding'} of the completeness checks",
        "due": "On the review calendar",
        "breach": "Metric beyond its threshold",
        "concern": "A reported concern",
        "impact": f"Impact analysis ({task.change or 'change'})",
    }[task.kind]


@bp.post("/my-work/status")
def change_status() -> BaseResponse:
    """Start, finish or reopen a task from the page, as the signed-in person."""
    principal = csrf.form_writer("editor", "changing tasks")
    store, today = state().store, clock.today()
    update = tasks.read_update({"status": request.form.get("status"), "note": request.form.get("note") or None})
    work = tasks.work_list(store, today)
    found = work.find(store, TASK_BASE + request.form.get("task", ""))
    if found is None:
        raise NotFound("no such task: its cause is no longer in the record, or it never was")
    with store.write_lock():
        commit_request(tasks.update_delta(store, found, update, today, clock.now()), "task-status", admitted_as=principal)
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/my-work") else url_for("web.my_work"))

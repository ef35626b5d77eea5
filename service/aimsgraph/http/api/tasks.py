"""REST: the work list (``reporting.tasks``; docs/tasks.md).

- ``GET /api/tasks?assignee=&status=&kind=``: the tasks as of today, a page at a time (``page``
  from 1, ``pageSize`` default :data:`TASKS_PAGE_SIZE`, at most AIMSGRAPH_RESULT_LIMIT), with
  ``Link`` headers as GET /api/due gives them. ``assignee`` is an IRI (a person's tasks include
  those of the roles they hold) or ``me`` (the caller, found by ``aims:accountName``); ``status``
  one or more of open, in-progress, done, dismissed, resolved, or ``active`` (the default:
  open and in progress) or ``all``; ``kind`` one or more of finding, due, breach, concern, impact
  (comma-separated);
- ``GET /api/tasks/<id>``: one task;
- ``POST`` or ``PATCH /api/tasks/<id>``: change its status, note, assignee or due date
  (``reporting.tasks.TaskUpdate``), an editor's write through the one write path (journalled,
  audited as ``task-status``, validation gate applied);
- ``POST /api/impact/tasks``: the body of POST /api/impact, with ``dueDate`` or
  ``plannedChange``: one stored task per risk to re-assess (audited as ``impact-tasks``); 201
  when a task is new;
- ``GET /api/tasks.ics?assignee=``: the tasks with a due date as an iCalendar feed of VTODOs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, jsonify, request

from aimsgraph import clock
from aimsgraph.errors import InvalidInput, NotFound, Unauthorized
from aimsgraph.http.api.writes import change_response, commit_request, require_json, upload_body, writes
from aimsgraph.http.openapi import PAGE, PAGE_SIZE, Change, Media, Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.namespaces import TASK_BASE, is_absolute_iri
from aimsgraph.records import agenda, queries
from aimsgraph.records.payloads import parse_json
from aimsgraph.reporting import tasks
from aimsgraph.store import GraphStore
from aimsgraph.store.record import person_of_account

bp = Blueprint("tasks", __name__)  # under api.bp: /api

#: Tasks of a page of GET /api/tasks when the request gives no pageSize.
TASKS_PAGE_SIZE = 100
ASSIGNEE = Param("assignee", "the IRI of a person or role (a person's tasks include their roles'), or me")


class Task(Model):
    """A task (``reporting.tasks.as_dict``)."""

    id: str
    task: str
    kind: str
    label: str
    status: str
    assignee: list[str]
    assigneeNames: list[str | None]
    due: str | None
    dueBasis: str | None
    overdue: bool
    daysLeft: int | None
    cause: str | None
    about: str | None
    aboutLabel: str | None
    path: list[dict[str, str | None]]
    pathText: str | None
    detail: str | None
    severity: str | None
    clauses: list[str]
    change: str | None
    plannedChange: str | None
    stored: bool
    note: str | None
    created: str | None
    modified: Any


class TaskPage(Model):
    """A page of the work list, with counts of the whole selection."""

    asOf: str
    total: int
    overdue: int
    kinds: dict[str, int]
    statuses: dict[str, int]
    page: int
    pageSize: int
    tasks: list[Task]


class TaskChange(Change):
    task: Task


class ImpactTasksChange(Change):
    node: str
    changeKind: str
    created: list[str]
    existing: list[str]
    tasks: list[Task]


@bp.get("/tasks")
@contract(
    "The work list, a page at a time",
    params=[
        ASSIGNEE,
        Param("status", "open, in-progress, done, dismissed, resolved, active (default) or all; comma-separated"),
        Param("kind", "finding, due, breach, concern, impact; comma-separated"),
        PAGE,
        PAGE_SIZE,
    ],
    responses={200: TaskPage, 400: Problem},
)
def task_list() -> Response:
    """The tasks as of today, filtered, a page at a time (see the module docstring)."""
    store = state().store
    today = clock.today()
    page = _page()
    work = tasks.work_list(store, today)
    wanted = tasks.wanted_from(request.args.get("kind"), request.args.get("status"), assignee_agents(store))
    selection = work.select(wanted)
    shown = work.page(store, selection, page.offset, page.size)
    record = work.record(store)
    response = jsonify(
        asOf=today.isoformat(),
        **tasks.counts(work, selection),
        page=page.number,
        pageSize=page.size,
        tasks=[tasks.as_dict(t, record, today) for t in shown],
    )
    _link_pages(response, page, len(selection))
    return response


@bp.get("/tasks/<task_id>")
@contract("One task", responses={200: Task, 404: Problem})
def task(task_id: str) -> Response:
    """The task ``task_id``, as the work list has it today."""
    store = state().store
    today = clock.today()
    work = tasks.work_list(store, today)
    return jsonify(tasks.as_dict(_find(work, store, task_id), work.record(store), today))


@bp.route("/tasks/<task_id>", methods=["POST", "PATCH"])
@contract(
    "Change a task's status, note, assignee or due date",
    body=tasks.TaskUpdate,
    responses={200: TaskChange, 400: Problem, 404: Problem, 415: Problem, 422: Problem},
    role="editor",
)
@writes("editor", "changing tasks")
def change_task(task_id: str) -> Response:
    """Change a task's status (and note, assignee, due date); 200 with the task as it is now."""
    require_json("a status change")
    update = tasks.read_update(parse_json(upload_body("status change", small=True)))
    store = state().store
    today = clock.today()
    work = tasks.work_list(store, today)
    found = _find(work, store, task_id)
    with store.write_lock():
        delta = tasks.update_delta(store, found, update, today, clock.now())
        change = commit_request(delta, "task-status")
    after = tasks.after_write(store, found) if change is not None else found
    return change_response(change, 200, task=tasks.as_dict(after, work.record(store), today))


@bp.post("/impact/tasks")
@contract(
    "Tasks from an impact analysis: one per risk to re-assess",
    body=tasks.ImpactTasks,
    responses={200: ImpactTasksChange, 201: ImpactTasksChange, 400: Problem, 404: Problem, 415: Problem},
    role="editor",
)
@writes("editor", "creating tasks from an impact analysis")
def impact_tasks() -> Response:
    """One task per risk the analysis of ``node`` and ``change`` says to re-assess; 201 when one
    is new, 200 when all were stored already (their status is kept)."""
    require_json("an impact analysis request")
    wanted = tasks.read_impact_tasks(parse_json(upload_body("impact analysis request", small=True)))
    service = state()
    store, today = service.store, clock.today()
    snapshot = service.models.get()
    work = tasks.work_list(store, today)
    with store.write_lock():
        delta, report = tasks.impact_tasks_delta(store, snapshot.record, snapshot.model, work.owners, wanted, today)
        change = commit_request(delta, "impact-tasks")
    shown = [work.tasks.get(t.iri, t) for t in report.tasks]  # a task stored before keeps its status
    return change_response(
        change,
        201 if report.created else 200,
        node=report.node,
        changeKind=report.change,
        created=[iri.removeprefix(TASK_BASE) for iri in report.created],
        existing=[iri.removeprefix(TASK_BASE) for iri in report.existing],
        tasks=[tasks.as_dict(t, snapshot.record, today) for t in shown],
    )


@bp.get("/tasks.ics")
@contract(
    "The tasks as an iCalendar to-do feed",
    params=[ASSIGNEE, Param("within", "the window: 30d, 2w, 12m, 1y or all (default all)")],
    responses={200: Media({"text/calendar": None}, "VTODOs of the tasks with a due date"), 400: Problem},
)
def task_calendar() -> Response:
    """The tasks with a due date (``within`` of today, default all; overdue ones included) as
    VTODOs, all or of ``assignee``: a to-do feed to subscribe to."""
    store = state().store
    today = clock.today()
    window = agenda.parse_within(request.args.get("within", "all"), today)
    agents = assignee_agents(store)
    body = agenda.to_ical([], clock.now(), "aimsgraph: tasks", tasks.todos(store, today, window, agents))
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="aimsgraph-tasks.ics"'
    return response


def assignee_agents(store: GraphStore) -> frozenset[str] | None:
    """The agents whose tasks ``?assignee=`` asks for: the IRI and the roles it holds; for
    ``me``, the caller's person (by ``aims:accountName``); None when not given."""
    assignee = request.args.get("assignee")
    if not assignee:
        return None
    if assignee == "me":
        if g.principal is None:
            raise Unauthorized("assignee=me needs a token (or a login) that names you")
        person = person_of_account(store, g.principal.name)
        if person is None:
            raise InvalidInput(
                f"no person in the record has the account name {g.principal.name!r} (aims:accountName): give assignee=<IRI>"
            )
        assignee = person
    if not is_absolute_iri(assignee):
        raise InvalidInput(f"assignee must be the IRI of a person or role, or me, not {assignee!r}")
    return tasks.agents_of(store, assignee)


def _find(work: tasks.WorkList, store: GraphStore, task_id: str) -> tasks.Task:
    found = work.find(store, TASK_BASE + task_id)
    if found is None:
        raise NotFound(f"no task {task_id!r}: its cause is no longer in the record, or it never was")
    return found


def _page() -> queries.Page:
    paged = queries.NamedQuery("tasks", "", {"pagination": str(TASKS_PAGE_SIZE)})
    values = {k: v for k in (queries.PAGE, queries.PAGE_SIZE) if (v := request.args.get(k)) is not None}
    page, _ = paged.page(values, max_size=state().settings.result_limit)
    assert page is not None  # a query with a pagination header is always paged
    return page


def _link_pages(response: Response, page: queries.Page, total: int) -> None:
    links = {"first": 1}
    if page.number > 1:
        links["prev"] = page.number - 1
    if page.offset + page.size < total:
        links["next"] = page.number + 1
    values = {k: v for k, v in request.args.items() if k not in (queries.PAGE, queries.PAGE_SIZE)}
    response.headers["Link"] = ", ".join(
        f'<{request.base_url}?{urlencode({**values, queries.PAGE: n, queries.PAGE_SIZE: page.size})}>; rel="{rel}"'
        for rel, n in links.items()
    )
